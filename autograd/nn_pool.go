package autograd

import (
	"math"
	"unsafe"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Pool2dOptions are the hyper-parameters of MaxPool2d and AvgPool2d. Each
// pair is (H, W). Kernel is required; a zero Stride means the kernel size
// (PyTorch's default), zero Padding means none, zero Dilation means 1.
// Output sizes round down (PyTorch's ceil_mode=False).
type Pool2dOptions struct {
	// Kernel is the window size (required).
	Kernel [2]int
	// Stride is the step between windows (default: the kernel size).
	Stride [2]int
	// Padding is added on each side, at most half the kernel (default 0).
	Padding [2]int
	// Dilation is the spacing between window taps (MaxPool2d only;
	// default 1).
	Dilation [2]int
	// ExcludePad makes AvgPool2d divide by the number of input pixels in the
	// window instead of the kernel area (PyTorch's count_include_pad=False).
	ExcludePad bool
}

// poolGrain is the number of (sample, channel) planes below which a pooling
// loop stays on one goroutine.
const poolGrain = 16

// poolGeom validates opts against x [N, C, H, W] and returns the window
// geometry and the output size.
func poolGeom[T tensor.Float](op string, x *Var[T], opts Pool2dOptions, dilation bool) (tensor.ConvGeom, int, int) {
	nnRank(op, "input", x, 4)
	kh, kw := opts.Kernel[0], opts.Kernel[1]
	if kh < 1 || kw < 1 {
		panic(fastgo.Errorf("autograd.%s: kernel %v must be positive", op, opts.Kernel))
	}
	sh, sw := nnPair(opts.Stride, 0)
	if sh == 0 {
		sh = kh
	}
	if sw == 0 {
		sw = kw
	}
	dh, dw := nnPair(opts.Dilation, 1)
	if !dilation && (dh != 1 || dw != 1) {
		panic(fastgo.Errorf("autograd.%s: dilation %v is not supported", op, opts.Dilation))
	}
	ph, pw := opts.Padding[0], opts.Padding[1]
	if sh < 1 || sw < 1 || dh < 1 || dw < 1 || ph < 0 || pw < 0 || ph > kh/2 || pw > kw/2 {
		panic(fastgo.Errorf("autograd.%s: invalid stride %v, dilation %v or padding %v for kernel %v (padding must be at most half the kernel)", op, opts.Stride, opts.Dilation, opts.Padding, opts.Kernel))
	}
	g := tensor.ConvGeom{KH: kh, KW: kw, StrideH: sh, StrideW: sw, PadH: ph, PadW: pw, DilH: dh, DilW: dw}
	xs := x.Shape()
	if xs[2]+2*ph < dh*(kh-1)+1 || xs[3]+2*pw < dw*(kw-1)+1 {
		panic(fastgo.Errorf("autograd.%s: kernel %v (dilation %dx%d) larger than input %v padded by %v", op, opts.Kernel, dh, dw, xs, opts.Padding))
	}
	oh, ow := g.OutSize(xs[2], xs[3])
	return g, oh, ow
}

// nnWantsGrad reports whether an op on x will record a graph.
func nnWantsGrad[T tensor.Float](x *Var[T]) bool { return GradEnabled() && x.RequiresGrad() }

// MaxPool2d returns the maximum over each window of x [N, C, H, W], as
// torch.nn.functional.max_pool2d (padding counts as -inf). Ties go to the
// first index in row-major order and the first NaN wins over any number;
// backward sends each output's gradient to its argmax.
func MaxPool2d[T tensor.Float](x *Var[T], opts Pool2dOptions) *Var[T] {
	g, oh, ow := poolGeom("MaxPool2d", x, opts, true)
	xs := x.Shape()
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	fast := g.KH == 2 && g.KW == 2 && g.StrideH == 2 && g.StrideW == 2 && g.PadH == 0 && g.PadW == 0 && g.DilH == 1 && g.DilW == 1
	if x32, ok := any(x).(*Var[float32]); ok && fast {
		return any(maxPool2x2F32(x32, oh, ow)).(*Var[T])
	}
	out := tensor.Empty[T](n, c, oh, ow) // every window holds an input pixel
	// The argmax of each output (its index in the input plane) lives in a
	// pool buffer (float32 reinterpreted as int32), given back once the
	// backward has read it.
	var argBuf *tensor.Dense[float32]
	var arg []int32
	if nnWantsGrad(x) {
		argBuf = tensor.Empty[float32](n * c * oh * ow)
		arg = unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(argBuf.Data()))), n*c*oh*ow)
	}
	xd, od := x.data.Data(), out.Data()
	parallel.For(n*c, poolGrain, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := xd[pl*h*w : (pl+1)*h*w]
			dst := od[pl*oh*ow : (pl+1)*oh*ow]
			var ai []int32
			if arg != nil {
				ai = arg[pl*oh*ow : (pl+1)*oh*ow]
			}
			if fast {
				poolMax2x2(src, w, oh, ow, dst, ai)
				continue
			}
			maxPoolPlane(src, h, w, oh, ow, g, dst, ai)
		}
	})
	return Record("MaxPool2d", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		defer argBuf.Release()
		return []*tensor.Dense[T]{poolScatter(gy.Data(), arg, xs, oh*ow)}
	}, x)
}

// maxPoolPlane is MaxPool2d on one plane src [h, w] into dst [oh, ow],
// storing each output's argmax in ai when it is not nil. Windows that lie
// inside the plane (all but a border of the output) take a loop without
// bounds tests, unrolled for the 3x3 windows of the ResNet stem; the
// border takes the general one. Both scan a window in row-major order and
// keep the first maximum, the first NaN winning over any number.
func maxPoolPlane[T tensor.Float](src []T, h, w, oh, ow int, g tensor.ConvGeom, dst []T, ai []int32) {
	// Outputs [i0, i1) x [j0, j1) have their whole window inside the plane.
	first := func(pad, stride int) int { return (pad + stride - 1) / stride }
	last := func(size, pad, span, stride, out int) int {
		if size+pad < span {
			return 0
		}
		return min(out, (size+pad-span)/stride+1)
	}
	i0, i1 := first(g.PadH, g.StrideH), last(h, g.PadH, g.DilH*(g.KH-1)+1, g.StrideH, oh)
	j0, j1 := first(g.PadW, g.StrideW), last(w, g.PadW, g.DilW*(g.KW-1)+1, g.StrideW, ow)
	i1, j1 = max(i1, i0), max(j1, j0)
	three := g.KH == 3 && g.KW == 3 && g.DilH == 1 && g.DilW == 1
	for i := 0; i < oh; i++ {
		if i < i0 || i >= i1 {
			maxPoolBorder(src, h, w, i, 0, ow, ow, g, dst, ai)
			continue
		}
		maxPoolBorder(src, h, w, i, 0, j0, ow, g, dst, ai)
		base := (i*g.StrideH-g.PadH)*w - g.PadW
		if three {
			for j := j0; j < j1; j++ {
				b := base + j*g.StrideW
				r0, r1, r2 := src[b:b+3:b+3], src[b+w:b+w+3:b+w+3], src[b+2*w:b+2*w+3:b+2*w+3]
				best, bi := r0[0], b
				best, bi = maxPick(best, bi, r0[1], b+1)
				best, bi = maxPick(best, bi, r0[2], b+2)
				best, bi = maxPick(best, bi, r1[0], b+w)
				best, bi = maxPick(best, bi, r1[1], b+w+1)
				best, bi = maxPick(best, bi, r1[2], b+w+2)
				best, bi = maxPick(best, bi, r2[0], b+2*w)
				best, bi = maxPick(best, bi, r2[1], b+2*w+1)
				best, bi = maxPick(best, bi, r2[2], b+2*w+2)
				dst[i*ow+j] = best
				if ai != nil {
					ai[i*ow+j] = int32(bi)
				}
			}
		} else {
			for j := j0; j < j1; j++ {
				b := base + j*g.StrideW
				best, bi := src[b], b
				for a := 0; a < g.KH; a++ {
					for bb := 0; bb < g.KW; bb++ {
						idx := b + a*g.DilH*w + bb*g.DilW
						best, bi = maxPick(best, bi, src[idx], idx)
					}
				}
				dst[i*ow+j] = best
				if ai != nil {
					ai[i*ow+j] = int32(bi)
				}
			}
		}
		maxPoolBorder(src, h, w, i, j1, ow, ow, g, dst, ai)
	}
}

// maxPick returns (v, idx) when v beats best (is larger, or the first
// NaN), else (best, bi).
func maxPick[T tensor.Float](best T, bi int, v T, idx int) (T, int) {
	if v > best || (v != v && best == best) {
		return v, idx
	}
	return best, bi
}

// maxPoolBorder is maxPoolPlane's general loop, for outputs (i, j) with j in
// [ja, jb): it skips the window taps that fall in the padding.
func maxPoolBorder[T tensor.Float](src []T, h, w, i, ja, jb, ow int, g tensor.ConvGeom, dst []T, ai []int32) {
	for j := ja; j < jb; j++ {
		best, bi := T(math.Inf(-1)), int32(-1)
		for a := 0; a < g.KH; a++ {
			ih := i*g.StrideH - g.PadH + a*g.DilH
			if ih < 0 || ih >= h {
				continue
			}
			for bb := 0; bb < g.KW; bb++ {
				iw := j*g.StrideW - g.PadW + bb*g.DilW
				if iw < 0 || iw >= w {
					continue
				}
				v := src[ih*w+iw]
				if bi < 0 || v > best || (v != v && best == best) {
					best, bi = v, int32(ih*w+iw)
				}
			}
		}
		dst[i*ow+j] = best
		if ai != nil {
			ai[i*ow+j] = bi
		}
	}
}

// maxPool2x2F32 is MaxPool2d with kernel 2, stride 2 and no padding on a
// float32 input, through the MaxPool2x2 kernels: the forward keeps one byte
// per output (the window position of its maximum) for the backward, which
// writes every element of the input gradient once.
func maxPool2x2F32(x *Var[float32], oh, ow int) *Var[float32] {
	xs := x.Shape()
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	planes := n * c
	out := tensor.Empty[float32](n, c, oh, ow)
	xd, od := x.data.Data(), out.Data()
	// The codes live in a pool buffer (float32 reinterpreted as bytes),
	// given back once the backward has read them, or at once without one.
	codeBuf := tensor.Empty[float32]((planes*oh*ow + 3) / 4)
	code := unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(codeBuf.Data()))), planes*oh*ow)
	// With an even height, the row pairs of all planes are evenly spaced,
	// so the planes are pooled as one run of rows.
	evenH := h%2 == 0
	parallel.For(planes, poolGrain, func(lo, hi int) {
		if evenH {
			r0, r1 := lo*oh, hi*oh
			kernels.MaxPool2x2(r1-r0, ow, 2*w, w, xd[lo*h*w:hi*h*w], od[r0*ow:r1*ow], code[r0*ow:r1*ow])
			return
		}
		for pl := lo; pl < hi; pl++ {
			kernels.MaxPool2x2(oh, ow, 2*w, w, xd[pl*h*w:(pl+1)*h*w], od[pl*oh*ow:(pl+1)*oh*ow], code[pl*oh*ow:(pl+1)*oh*ow])
		}
	})
	if !nnWantsGrad(x) {
		codeBuf.Release()
	}
	return Record("MaxPool2d", out, func(gy *tensor.Dense[float32]) []*tensor.Dense[float32] {
		defer codeBuf.Release()
		gx := tensor.Empty[float32](xs...)
		gd, gyd := gx.Data(), gy.Data()
		// The kernel writes the 2*oh x 2*ow part of each plane; with odd
		// sizes the last row or column is zero.
		if h%2 != 0 || w%2 != 0 {
			clear(gd)
		}
		parallel.For(planes, poolGrain, func(lo, hi int) {
			if evenH {
				r0, r1 := lo*oh, hi*oh
				kernels.MaxPool2x2Backward(r1-r0, ow, 2*w, w, gyd[r0*ow:r1*ow], code[r0*ow:r1*ow], gd[lo*h*w:hi*h*w])
				return
			}
			for pl := lo; pl < hi; pl++ {
				kernels.MaxPool2x2Backward(oh, ow, 2*w, w, gyd[pl*oh*ow:(pl+1)*oh*ow], code[pl*oh*ow:(pl+1)*oh*ow], gd[pl*h*w:(pl+1)*h*w])
			}
		})
		return []*tensor.Dense[float32]{gx}
	}, x)
}

// poolMax2x2 is MaxPool2d's kernel 2, stride 2 path over one plane.
func poolMax2x2[T tensor.Float](src []T, w, oh, ow int, dst []T, arg []int32) {
	for i := 0; i < oh; i++ {
		r0 := src[2*i*w : 2*i*w+2*ow]
		r1 := src[(2*i+1)*w : (2*i+1)*w+2*ow]
		d := dst[i*ow : (i+1)*ow]
		for j := range d {
			best, bi := r0[2*j], 2*i*w+2*j
			if v := r0[2*j+1]; v > best || (v != v && best == best) {
				best, bi = v, 2*i*w+2*j+1
			}
			if v := r1[2*j]; v > best || (v != v && best == best) {
				best, bi = v, (2*i+1)*w+2*j
			}
			if v := r1[2*j+1]; v > best || (v != v && best == best) {
				best, bi = v, (2*i+1)*w+2*j+1
			}
			d[j] = best
			if arg != nil {
				arg[i*ow+j] = int32(bi)
			}
		}
	}
}

// poolScatter returns the input gradient of a max pool: each output
// gradient added at its argmax, plane by plane.
func poolScatter[T tensor.Float](gy []T, arg []int32, xs []int, outPlane int) *tensor.Dense[T] {
	gx := tensor.Empty[T](xs...)
	gd := gx.Data()
	inPlane := xs[2] * xs[3]
	parallel.For(xs[0]*xs[1], poolGrain, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			d := gd[pl*inPlane : (pl+1)*inPlane]
			clear(d)
			a := arg[pl*outPlane : (pl+1)*outPlane]
			g := gy[pl*outPlane : (pl+1)*outPlane]
			for i, idx := range a {
				if idx >= 0 {
					d[idx] += g[i]
				}
			}
		}
	})
	return gx
}

// AvgPool2d returns the mean over each window of x [N, C, H, W], as
// torch.nn.functional.avg_pool2d with ceil_mode=False. Padding counts as
// zeros in the mean (count_include_pad=True) unless opts.ExcludePad is set.
func AvgPool2d[T tensor.Float](x *Var[T], opts Pool2dOptions) *Var[T] {
	g, oh, ow := poolGeom("AvgPool2d", x, opts, false)
	xs := x.Shape()
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	out := tensor.New[T](n, c, oh, ow)
	xd, od := x.data.Data(), out.Data()
	// window returns the valid input ranges of output (i, j) and its divisor.
	window := func(i, j int) (h0, h1, w0, w1 int, div T) {
		h0, w0 = i*g.StrideH-g.PadH, j*g.StrideW-g.PadW
		h1, w1 = h0+g.KH, w0+g.KW
		h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
		if opts.ExcludePad {
			div = T((h1 - h0) * (w1 - w0))
		} else {
			div = T(g.KH * g.KW)
		}
		return
	}
	parallel.For(n*c, poolGrain, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := xd[pl*h*w : (pl+1)*h*w]
			dst := od[pl*oh*ow : (pl+1)*oh*ow]
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					h0, h1, w0, w1, div := window(i, j)
					var s T
					for a := h0; a < h1; a++ {
						for _, v := range src[a*w+w0 : a*w+w1] {
							s += v
						}
					}
					dst[i*ow+j] = s / div
				}
			}
		}
	})
	return Record("AvgPool2d", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		gx := tensor.New[T](xs...)
		gd, gyd := gx.Data(), gy.Data()
		parallel.For(n*c, poolGrain, func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				d := gd[pl*h*w : (pl+1)*h*w]
				gp := gyd[pl*oh*ow : (pl+1)*oh*ow]
				for i := 0; i < oh; i++ {
					for j := 0; j < ow; j++ {
						h0, h1, w0, w1, div := window(i, j)
						v := gp[i*ow+j] / div
						for a := h0; a < h1; a++ {
							row := d[a*w+w0 : a*w+w1]
							for k := range row {
								row[k] += v
							}
						}
					}
				}
			}
		})
		return []*tensor.Dense[T]{gx}
	}, x)
}

// poolAdaptiveBin returns PyTorch's adaptive pooling bin i of out over in:
// [floor(i*in/out), ceil((i+1)*in/out)).
func poolAdaptiveBin(i, in, out int) (int, int) {
	return i * in / out, ((i+1)*in + out - 1) / out
}

// poolAdaptiveCheck validates x [N, C, H, W] and the output size.
func poolAdaptiveCheck[T tensor.Float](op string, x *Var[T], outH, outW int) {
	nnRank(op, "input", x, 4)
	if outH < 1 || outW < 1 {
		panic(fastgo.Errorf("autograd.%s: output size %dx%d must be positive (input %v)", op, outH, outW, x.Shape()))
	}
	if x.Shape()[2] < 1 || x.Shape()[3] < 1 {
		panic(fastgo.Errorf("autograd.%s: input %v has an empty plane", op, x.Shape()))
	}
}

// AdaptiveAvgPool2d averages x [N, C, H, W] over outH x outW bins, as
// torch.nn.functional.adaptive_avg_pool2d: bin i along an axis of size n
// covers [floor(i*n/out), ceil((i+1)*n/out)). (1, 1) is global average
// pooling.
func AdaptiveAvgPool2d[T tensor.Float](x *Var[T], outH, outW int) *Var[T] {
	poolAdaptiveCheck("AdaptiveAvgPool2d", x, outH, outW)
	xs := x.Shape()
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	out := tensor.Empty[T](n, c, outH, outW) // every bin is written
	xd, od := x.data.Data(), out.Data()
	parallel.For(n*c, poolGrain, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := xd[pl*h*w : (pl+1)*h*w]
			dst := od[pl*outH*outW : (pl+1)*outH*outW]
			for i := 0; i < outH; i++ {
				h0, h1 := poolAdaptiveBin(i, h, outH)
				for j := 0; j < outW; j++ {
					w0, w1 := poolAdaptiveBin(j, w, outW)
					var s T
					for a := h0; a < h1; a++ {
						for _, v := range src[a*w+w0 : a*w+w1] {
							s += v
						}
					}
					dst[i*outW+j] = s / T((h1-h0)*(w1-w0))
				}
			}
		}
	})
	return Record("AdaptiveAvgPool2d", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		gx := tensor.Empty[T](xs...)
		gd, gyd := gx.Data(), gy.Data()
		parallel.For(n*c, poolGrain, func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				d := gd[pl*h*w : (pl+1)*h*w]
				clear(d)
				gp := gyd[pl*outH*outW : (pl+1)*outH*outW]
				for i := 0; i < outH; i++ {
					h0, h1 := poolAdaptiveBin(i, h, outH)
					for j := 0; j < outW; j++ {
						w0, w1 := poolAdaptiveBin(j, w, outW)
						v := gp[i*outW+j] / T((h1-h0)*(w1-w0))
						for a := h0; a < h1; a++ {
							row := d[a*w+w0 : a*w+w1]
							for k := range row {
								row[k] += v
							}
						}
					}
				}
			}
		})
		return []*tensor.Dense[T]{gx}
	}, x)
}

// AdaptiveMaxPool2d takes the maximum of x [N, C, H, W] over outH x outW
// bins, as torch.nn.functional.adaptive_max_pool2d (bins as in
// AdaptiveAvgPool2d; ties to the first index, the first NaN wins).
func AdaptiveMaxPool2d[T tensor.Float](x *Var[T], outH, outW int) *Var[T] {
	poolAdaptiveCheck("AdaptiveMaxPool2d", x, outH, outW)
	xs := x.Shape()
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	out := tensor.New[T](n, c, outH, outW)
	var arg []int32
	if nnWantsGrad(x) {
		arg = make([]int32, n*c*outH*outW)
	}
	xd, od := x.data.Data(), out.Data()
	parallel.For(n*c, poolGrain, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := xd[pl*h*w : (pl+1)*h*w]
			dst := od[pl*outH*outW : (pl+1)*outH*outW]
			for i := 0; i < outH; i++ {
				h0, h1 := poolAdaptiveBin(i, h, outH)
				for j := 0; j < outW; j++ {
					w0, w1 := poolAdaptiveBin(j, w, outW)
					best, bi := src[h0*w+w0], int32(h0*w+w0)
					for a := h0; a < h1; a++ {
						for b := w0; b < w1; b++ {
							if v := src[a*w+b]; v > best || (v != v && best == best) {
								best, bi = v, int32(a*w+b)
							}
						}
					}
					dst[i*outW+j] = best
					if arg != nil {
						arg[pl*outH*outW+i*outW+j] = bi
					}
				}
			}
		}
	})
	return Record("AdaptiveMaxPool2d", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		return []*tensor.Dense[T]{poolScatter(gy.Data(), arg, xs, outH*outW)}
	}, x)
}
