package tensor

import "github.com/fastgo-ml/fastgo"

// ConvGeom is the geometry of a 2-d convolution or pooling window over one
// image: kernel size, stride, zero padding and dilation, each per axis (H, W).
//
// A zero stride or dilation means 1, so ConvGeom{KH: 3, KW: 3, PadH: 1,
// PadW: 1} is the usual "same" 3x3 convolution.
type ConvGeom struct {
	// KH and KW are the kernel's height and width.
	KH, KW int
	// StrideH and StrideW are the strides (0 means 1).
	StrideH, StrideW int
	// PadH and PadW are the zero padding on each side.
	PadH, PadW int
	// DilH and DilW are the dilations (0 means 1).
	DilH, DilW int
}

// Norm returns g with zero strides and dilations replaced by 1.
func (g ConvGeom) Norm() ConvGeom {
	if g.StrideH == 0 {
		g.StrideH = 1
	}
	if g.StrideW == 0 {
		g.StrideW = 1
	}
	if g.DilH == 0 {
		g.DilH = 1
	}
	if g.DilW == 0 {
		g.DilW = 1
	}
	return g
}

// OutSize returns the output height and width for an h x w input, as
// PyTorch computes them: floor((h + 2*PadH - DilH*(KH-1) - 1)/StrideH) + 1.
// It panics when the geometry is invalid or the window does not fit.
func (g ConvGeom) OutSize(h, w int) (oh, ow int) {
	g = g.Norm()
	if g.KH < 1 || g.KW < 1 || g.StrideH < 1 || g.StrideW < 1 || g.PadH < 0 || g.PadW < 0 || g.DilH < 1 || g.DilW < 1 {
		panic(fastgo.Errorf("tensor.ConvGeom: invalid geometry %+v", g))
	}
	eh := g.DilH*(g.KH-1) + 1
	ew := g.DilW*(g.KW-1) + 1
	if h+2*g.PadH < eh || w+2*g.PadW < ew {
		panic(fastgo.Errorf("tensor.ConvGeom: kernel %dx%d (dilation %dx%d) larger than padded input %dx%d (padding %dx%d)",
			g.KH, g.KW, g.DilH, g.DilW, h, w, g.PadH, g.PadW))
	}
	return (h+2*g.PadH-eh)/g.StrideH + 1, (w+2*g.PadW-ew)/g.StrideW + 1
}

// convRange returns the range [lo, hi) of output positions o in [0, n) for
// which the input index o*stride + off lies in [0, size).
func convRange(n, stride, off, size int) (lo, hi int) {
	// o*stride + off >= 0  <=>  o >= ceil(-off/stride)
	lo = 0
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	// o*stride + off <= size-1  <=>  o <= floor((size-1-off)/stride)
	if size-1-off < 0 {
		return lo, lo
	}
	hi = (size-1-off)/stride + 1
	if hi > n {
		hi = n
	}
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// Im2Col unfolds one image x, of c channels of h x w (CHW order), into cols,
// a (c*KH*KW) x (OH*OW) row-major matrix: row (ci*KH+kh)*KW+kw holds, for
// every output position, the input pixel that kernel tap (kh, kw) of
// channel ci sees there, or 0 in the padding. cols must have room for
// c*KH*KW*OH*OW elements; every one of them is written.
func Im2Col[T Float](x []T, c, h, w int, g ConvGeom, cols []T) {
	oh, ow := g.OutSize(h, w)
	Im2ColStrided(x, c, h, w, g, cols, oh*ow)
}

// Im2ColStrided is Im2Col writing the rows of cols ld elements apart
// (ld >= OH*OW), so that the columns of several images can sit side by side
// in one matrix: image i of a batch goes to cols[i*OH*OW:] with ld =
// batch*OH*OW. Only the OH*OW elements of each row are written.
func Im2ColStrided[T Float](x []T, c, h, w int, g ConvGeom, cols []T, ld int) {
	g = g.Norm()
	oh, ow := g.OutSize(h, w)
	plane := oh * ow
	rows := c * g.KH * g.KW
	if ld < plane || len(x) < c*h*w || (rows > 0 && len(cols) < (rows-1)*ld+plane) {
		panic(fastgo.Errorf("tensor.Im2Col: %d input elements for %dx%dx%d, %d column elements for %dx%d with row stride %d", len(x), c, h, w, len(cols), rows, plane, ld))
	}
	row := 0
	for ci := 0; ci < c; ci++ {
		src := x[ci*h*w : (ci+1)*h*w]
		for kh := 0; kh < g.KH; kh++ {
			offH := kh*g.DilH - g.PadH
			hlo, hhi := convRange(oh, g.StrideH, offH, h)
			for kw := 0; kw < g.KW; kw++ {
				offW := kw*g.DilW - g.PadW
				wlo, whi := convRange(ow, g.StrideW, offW, w)
				dst := cols[row*ld : row*ld+plane]
				row++
				clear(dst[:hlo*ow])
				clear(dst[hhi*ow:])
				if g.StrideH == 1 && g.StrideW == 1 && ow == w && hlo < hhi && wlo < whi {
					// "Same" width, stride 1: output rows hlo..hhi are the
					// input rows shifted by a constant offset, so one copy
					// moves them all; the elements that wrapped around a
					// row edge are zeroed after.
					lo, hi := hlo*ow+wlo, (hhi-1)*ow+whi
					shift := offH*w + offW
					copy(dst[lo:hi], src[lo+shift:hi+shift])
					for o := hlo; o < hhi; o++ {
						clear(dst[o*ow : o*ow+wlo])
						clear(dst[o*ow+whi : (o+1)*ow])
					}
					continue
				}
				for o := hlo; o < hhi; o++ {
					d := dst[o*ow : (o+1)*ow]
					s := src[(o*g.StrideH+offH)*w:]
					clear(d[:wlo])
					clear(d[whi:])
					if g.StrideW == 1 {
						copy(d[wlo:whi], s[wlo+offW:whi+offW])
					} else {
						ix := wlo*g.StrideW + offW
						for j := wlo; j < whi; j++ {
							d[j] = s[ix]
							ix += g.StrideW
						}
					}
				}
			}
		}
	}
}

// Col2Im is the adjoint of Im2Col: it sets x (c channels of h x w) to the
// sum, over every entry of cols, of that entry added to the input pixel it
// was read from (entries from the padding are dropped). x must have room for
// c*h*w elements; it is overwritten.
func Col2Im[T Float](cols []T, c, h, w int, g ConvGeom, x []T) {
	oh, ow := g.OutSize(h, w)
	Col2ImStrided(cols, oh*ow, c, h, w, g, x)
}

// Col2ImStrided is Col2Im reading the rows of cols ld elements apart, the
// adjoint of Im2ColStrided.
func Col2ImStrided[T Float](cols []T, ld, c, h, w int, g ConvGeom, x []T) {
	g = g.Norm()
	oh, ow := g.OutSize(h, w)
	plane := oh * ow
	rows := c * g.KH * g.KW
	if ld < plane || len(x) < c*h*w || (rows > 0 && len(cols) < (rows-1)*ld+plane) {
		panic(fastgo.Errorf("tensor.Col2Im: %d image elements for %dx%dx%d, %d column elements for %dx%d with row stride %d", len(x), c, h, w, len(cols), rows, plane, ld))
	}
	clear(x[:c*h*w])
	row := 0
	for ci := 0; ci < c; ci++ {
		dstImg := x[ci*h*w : (ci+1)*h*w]
		for kh := 0; kh < g.KH; kh++ {
			offH := kh*g.DilH - g.PadH
			hlo, hhi := convRange(oh, g.StrideH, offH, h)
			for kw := 0; kw < g.KW; kw++ {
				offW := kw*g.DilW - g.PadW
				wlo, whi := convRange(ow, g.StrideW, offW, w)
				src := cols[row*ld : row*ld+plane]
				row++
				if wlo >= whi {
					continue
				}
				for o := hlo; o < hhi; o++ {
					s := src[o*ow : (o+1)*ow]
					d := dstImg[(o*g.StrideH+offH)*w:]
					if g.StrideW == 1 {
						dd := d[wlo+offW : whi+offW]
						ss := s[wlo:whi]
						for j := range dd {
							dd[j] += ss[j]
						}
					} else {
						ix := wlo*g.StrideW + offW
						for j := wlo; j < whi; j++ {
							d[ix] += s[j]
							ix += g.StrideW
						}
					}
				}
			}
		}
	}
}
