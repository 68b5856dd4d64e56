package autograd

import (
	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Conv2d on im2col + GEMM with a stored unfolded input: float64 (the
// gradient checks) and the float32 shapes too small for the packed path
// (nn_conv32.go). Samples go per sample when each one's GEMM is small
// (perSample), else in chunks of p.chunk() unfolded side by side; 1x1
// stride-1 convolutions without padding use the input as its own unfolded
// matrix.

// convChunkFloats bounds the im2col matrix of one chunk of samples: chunks
// of samples are unfolded side by side so that each GEMM is large (the
// weight is packed once per chunk, not once per sample). A variable so that
// tests can force many chunks.
var convChunkFloats = 1 << 19

// convMinChunk is the smallest chunk (when the batch allows), so that the
// per-sample loops of a chunk (im2col, col2im) always have work for two
// goroutines.
const convMinChunk = 4

// chunk returns the number of samples per chunk. It depends on the shapes
// only, never on GOMAXPROCS: it fixes the order in which the weight gradient
// is summed.
func (p *convPlan) chunk() int {
	return max(1, min(p.n, max(convMinChunk, convChunkFloats/max(1, p.colsLen()+p.outSize))))
}

// convSmallGEMM is the size (2*m*n*k flops) of a per-sample GEMM below which
// Conv2d splits its work over samples itself, one small GEMM per sample on
// each goroutine, instead of batching samples into large GEMMs that are
// split internally. The first layer of a small CNN (Cin 1) is such a case.
// A variable so that tests can force either path.
var convSmallGEMM = 1 << 19

// perSample reports whether p takes the per-sample path.
func (p *convPlan) perSample() bool {
	return 2*p.coutG*p.kG*p.oh*p.ow < convSmallGEMM
}

// convDWChunk is the number of samples whose weight gradients the
// per-sample path sums into one partial, before adding the partials in
// chunk order: a constant, so the order does not depend on GOMAXPROCS.
const convDWChunk = 8

// convForwardUnpacked is convForward on the im2col paths; the per-sample
// path fills st (BatchNorm's statistics of out) when it is not nil.
func convForwardUnpacked[T tensor.Float](p *convPlan, x, w, b, out []T, st *planeStats) {
	ohw := p.oh * p.ow
	if p.direct {
		// 1x1, stride 1, no padding: each sample's input is its own im2col
		// matrix.
		for n := 0; n < p.n; n++ {
			on := out[n*p.outSize : (n+1)*p.outSize]
			for g := 0; g < p.groups; g++ {
				tensor.Gemm(tensor.NoTrans, tensor.NoTrans, p.coutG, ohw, p.kG, 1, w[g*p.coutG*p.kG:], p.kG, x[n*p.inPlane+g*p.kG*ohw:], ohw, 0, on[g*p.coutG*ohw:], ohw)
			}
			if b != nil {
				convAddBias(on, b, ohw)
			}
		}
		return
	}
	if p.perSample() {
		samples := func(lo, hi int) {
			cols := nnGetScratch[T](p.colsLen())
			defer nnPutScratch(cols)
			for n := lo; n < hi; n++ {
				on := out[n*p.outSize : (n+1)*p.outSize]
				tensor.Im2Col(x[n*p.inPlane:(n+1)*p.inPlane], p.cin, p.h, p.w, p.geom, cols.buf)
				for g := 0; g < p.groups; g++ {
					tensor.Gemm(tensor.NoTrans, tensor.NoTrans, p.coutG, ohw, p.kG, 1, w[g*p.coutG*p.kG:], p.kG, cols.buf[g*p.kG*ohw:], ohw, 0, on[g*p.coutG*ohw:], ohw)
				}
				if b != nil {
					convAddBias(on, b, ohw)
				}
				if st != nil {
					// The sample's planes are still in cache.
					o32 := any(on).([]float32)
					for c := 0; c < p.cout; c++ {
						st.plane(o32[c*ohw:(c+1)*ohw], n*p.cout+c, n, c)
					}
				}
			}
		}
		forSamples(p.n, p.cout, ohw, st, samples)
		return
	}
	S := p.chunk()
	cols := nnGetScratch[T](p.colsLen() * S)
	defer nnPutScratch(cols)
	tmp := nnGetScratch[T](p.outSize * S)
	defer nnPutScratch(tmp)
	for n0 := 0; n0 < p.n; n0 += S {
		s := min(S, p.n-n0)
		ld := s * ohw
		parallel.For(s, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				n := n0 + i
				tensor.Im2ColStrided(x[n*p.inPlane:(n+1)*p.inPlane], p.cin, p.h, p.w, p.geom, cols.buf[i*ohw:], ld)
			}
		})
		for g := 0; g < p.groups; g++ {
			tensor.Gemm(tensor.NoTrans, tensor.NoTrans, p.coutG, ld, p.kG, 1, w[g*p.coutG*p.kG:], p.kG, cols.buf[g*p.kG*ld:], ld, 0, tmp.buf[g*p.coutG*ld:], ld)
		}
		// Scatter the [Cout, s*OH*OW] result into NCHW, adding the bias.
		parallel.For(s, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				on := out[(n0+i)*p.outSize : (n0+i+1)*p.outSize]
				for c := 0; c < p.cout; c++ {
					src := tmp.buf[c*ld+i*ohw : c*ld+(i+1)*ohw]
					dst := on[c*ohw : (c+1)*ohw]
					if b == nil {
						copy(dst, src)
						continue
					}
					bc := b[c]
					for j, v := range src {
						dst[j] = v + bc
					}
				}
			}
		})
	}
}

// convAddBias adds b[c] to row c (of length ohw) of one sample's output.
func convAddBias[T tensor.Float](on, b []T, ohw int) {
	if o32, ok := any(on).([]float32); ok {
		// x*1 + b is x + b exactly: the SIMD Affine kernel adds the bias
		// with the same rounding as the loop below.
		for c, bc := range any(b).([]float32) {
			row := o32[c*ohw : (c+1)*ohw]
			kernels.Affine(row, row, 1, bc)
		}
		return
	}
	for c, bc := range b {
		row := on[c*ohw : (c+1)*ohw]
		for i := range row {
			row[i] += bc
		}
	}
}

// convBiasGrad sets gb[c] to the sum of gy over samples and positions of
// channel c: each sample's row summed, the row sums added in sample order.
func convBiasGrad[T tensor.Float](p *convPlan, gy, gb []T) {
	ohw := p.oh * p.ow
	parallel.For(p.cout, 8, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var s T
			for n := 0; n < p.n; n++ {
				s += convRowSum(gy[n*p.outSize+c*ohw : n*p.outSize+(c+1)*ohw])
			}
			gb[c] = s
		}
	})
}

// convRowSum returns the sum of row in a fixed order (float32 through the
// SIMD reduction).
func convRowSum[T tensor.Float](row []T) T {
	if r32, ok := any(row).([]float32); ok {
		s, _ := kernels.BNStats(r32, 0)
		return T(s)
	}
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(row); i += 4 {
		s0 += row[i]
		s1 += row[i+1]
		s2 += row[i+2]
		s3 += row[i+3]
	}
	for ; i < len(row); i++ {
		s0 += row[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// convBackwardUnpacked is convBackward on the im2col paths.
func convBackwardUnpacked[T tensor.Float](p *convPlan, x, w, gy []T, gx, gw, gb *tensor.Dense[T]) {
	switch {
	case gx == nil && gw == nil:
		if gb != nil {
			convBiasGrad(p, gy, gb.Data())
		}
	case p.direct:
		convBackwardDirect(p, x, w, gy, gx, gw, gb)
	case p.perSample():
		convBackwardPerSample(p, x, w, gy, gx, gw, gb)
	default:
		convBackwardChunked(p, x, w, gy, gx, gw, gb)
	}
}

// convBackwardDirect is convBackward for a 1x1 stride-1 convolution without
// padding: each sample's input is its own unfolded matrix, and the weight
// gradient is summed sample after sample.
func convBackwardDirect[T tensor.Float](p *convPlan, x, w, gy []T, gx, gw, gb *tensor.Dense[T]) {
	ohw := p.oh * p.ow
	if gb != nil {
		convBiasGrad(p, gy, gb.Data())
	}
	for n := 0; n < p.n; n++ {
		xn := x[n*p.inPlane : (n+1)*p.inPlane]
		gyn := gy[n*p.outSize : (n+1)*p.outSize]
		for g := 0; g < p.groups; g++ {
			if gw != nil {
				var beta T
				if n > 0 {
					beta = 1
				}
				tensor.Gemm(tensor.NoTrans, tensor.Trans, p.coutG, p.kG, ohw, 1, gyn[g*p.coutG*ohw:], ohw, xn[g*p.kG*ohw:], ohw, beta, gw.Data()[g*p.coutG*p.kG:], p.kG)
				convWeightGEMMs.Add(1)
			}
			if gx != nil {
				tensor.Gemm(tensor.Trans, tensor.NoTrans, p.kG, ohw, p.coutG, 1, w[g*p.coutG*p.kG:], p.kG, gyn[g*p.coutG*ohw:], ohw, 0, gx.Data()[n*p.inPlane+g*p.kG*ohw:], ohw)
			}
		}
	}
}

// convBackwardChunked is convBackward in chunks of p.chunk() samples: the
// chunk's output gradient is gathered into one [Cout, s*OH*OW] matrix,
// whose GEMMs give the chunk's weight gradient (accumulated chunk after
// chunk, in order) and the input gradient's columns (folded back per sample
// by Col2Im). Every summation order depends on the shapes only.
func convBackwardChunked[T tensor.Float](p *convPlan, x, w, gy []T, gx, gw, gb *tensor.Dense[T]) {
	ohw := p.oh * p.ow
	S := p.chunk()
	gyc := nnGetScratch[T](p.outSize * S)
	defer nnPutScratch(gyc)
	var cols, dcols *nnScratch[T]
	if gw != nil {
		cols = nnGetScratch[T](p.colsLen() * S)
		defer nnPutScratch(cols)
	}
	if gx != nil {
		dcols = nnGetScratch[T](p.colsLen() * S)
		defer nnPutScratch(dcols)
	}
	var rowSums *nnScratch[T]
	if gb != nil {
		rowSums = nnGetScratch[T](p.cout * S)
		defer nnPutScratch(rowSums)
		clear(gb.Data())
	}
	// The weight gradient is computed transposed, dWᵀ = cols · dYᵀ, so that
	// the large unfolded input is the GEMM's A (packed fast, untransposed)
	// and only the small dY is packed transposed; see convTransposeWeight.
	var gwT *nnScratch[T]
	if gw != nil {
		gwT = nnGetScratch[T](p.cout * p.kG)
		defer nnPutScratch(gwT)
	}
	for n0 := 0; n0 < p.n; n0 += S {
		s := min(S, p.n-n0)
		ld := s * ohw
		// Gather the output gradient (and the bias row sums), unfold x.
		parallel.For(s, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				n := n0 + i
				gyn := gy[n*p.outSize : (n+1)*p.outSize]
				for c := 0; c < p.cout; c++ {
					row := gyn[c*ohw : (c+1)*ohw]
					copy(gyc.buf[c*ld+i*ohw:c*ld+(i+1)*ohw], row)
					if rowSums != nil {
						rowSums.buf[i*p.cout+c] = convRowSum(row)
					}
				}
				if gw != nil {
					tensor.Im2ColStrided(x[n*p.inPlane:(n+1)*p.inPlane], p.cin, p.h, p.w, p.geom, cols.buf[i*ohw:], ld)
				}
			}
		})
		if gb != nil {
			d := gb.Data()
			for i := 0; i < s; i++ {
				for c := range d {
					d[c] += rowSums.buf[i*p.cout+c]
				}
			}
		}
		if gw != nil {
			var beta T
			if n0 > 0 {
				beta = 1
			}
			for g := 0; g < p.groups; g++ {
				tensor.Gemm(tensor.NoTrans, tensor.Trans, p.kG, p.coutG, ld, 1, cols.buf[g*p.kG*ld:], ld, gyc.buf[g*p.coutG*ld:], ld, beta, gwT.buf[g*p.kG*p.coutG:], p.coutG)
				convWeightGEMMs.Add(1)
			}
		}
		if gx != nil {
			for g := 0; g < p.groups; g++ {
				tensor.Gemm(tensor.Trans, tensor.NoTrans, p.kG, ld, p.coutG, 1, w[g*p.coutG*p.kG:], p.kG, gyc.buf[g*p.coutG*ld:], ld, 0, dcols.buf[g*p.kG*ld:], ld)
			}
			gxd := gx.Data()
			parallel.For(s, 1, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					n := n0 + i
					if p.geom.StrideH == 1 && p.geom.StrideW == 1 && p.ow == p.w {
						convCol2ImSame(dcols.buf[i*ohw:], ld, p.cin, p.h, p.w, p.geom, gxd[n*p.inPlane:(n+1)*p.inPlane])
					} else {
						tensor.Col2ImStrided(dcols.buf[i*ohw:], ld, p.cin, p.h, p.w, p.geom, gxd[n*p.inPlane:(n+1)*p.inPlane])
					}
				}
			})
		}
	}
	if gw != nil {
		convTransposeWeight(p, gwT.buf, gw.Data())
	}
}

// convTransposeWeight writes each group's [kG, coutG] transposed weight
// gradient wT into its [coutG, kG] place in gw.
// The transpose goes in 32x32 blocks, so that its reads and writes stay in
// cache lines (a ResNet-18 layer4 weight has 2.4M elements).
func convTransposeWeight[T tensor.Float](p *convPlan, wT, gw []T) {
	// 16x16 tiles through a local buffer: a tile's 16 destination rows are
	// 4*Cin*KH*KW bytes apart (18 KB for 512x3x3), a stride that maps
	// them onto a few L1 sets, so writing straight across a wider tile
	// evicts its own lines.
	const blk = 16
	rows, cols := p.kG, p.coutG
	for g := 0; g < p.groups; g++ {
		src := wT[g*rows*cols : (g+1)*rows*cols]
		dst := gw[g*cols*rows : (g+1)*cols*rows]
		parallel.For((rows+blk-1)/blk, 4, func(lo, hi int) {
			var tile [blk * blk]T
			for k0 := lo * blk; k0 < min(hi*blk, rows); k0 += blk {
				kn := min(blk, rows-k0)
				for o0 := 0; o0 < cols; o0 += blk {
					on := min(blk, cols-o0)
					for k := 0; k < kn; k++ {
						row := src[(k0+k)*cols+o0:][:on]
						for o, v := range row {
							tile[o*blk+k] = v
						}
					}
					for o := 0; o < on; o++ {
						copy(dst[(o0+o)*rows+k0:][:kn], tile[o*blk:o*blk+kn])
					}
				}
			}
		})
	}
}

// convBackwardPerSample is convBackward for small per-sample GEMMs: samples
// are split over goroutines in fixed chunks of convDWChunk; each chunk sums
// its weight gradient in sample order into its own partial, and the
// partials are added in chunk order.
func convBackwardPerSample[T tensor.Float](p *convPlan, x, w, gy []T, gx, gw, gb *tensor.Dense[T]) {
	if gb != nil {
		convBiasGrad(p, gy, gb.Data())
	}
	ohw := p.oh * p.ow
	wLen := p.cout * p.kG
	chunks := (p.n + convDWChunk - 1) / convDWChunk
	// Each chunk sums its samples' transposed weight gradients (dWᵀ =
	// cols · dYᵀ, as in convBackward) into its own partial; the partials
	// are then added in chunk order, in place in the first, and transposed
	// into gw.
	var partials *nnScratch[T]
	if gw != nil {
		partials = nnGetScratch[T](chunks * wLen)
		defer nnPutScratch(partials)
	}
	parallel.For(chunks, 1, func(clo, chi int) {
		cols := nnGetScratch[T](p.colsLen())
		defer nnPutScratch(cols)
		var dcols *nnScratch[T]
		if gx != nil {
			dcols = nnGetScratch[T](p.colsLen())
			defer nnPutScratch(dcols)
		}
		for ch := clo; ch < chi; ch++ {
			var dw []T
			if gw != nil {
				dw = partials.buf[ch*wLen : (ch+1)*wLen]
			}
			for n := ch * convDWChunk; n < min((ch+1)*convDWChunk, p.n); n++ {
				gyn := gy[n*p.outSize : (n+1)*p.outSize]
				if gw != nil {
					tensor.Im2Col(x[n*p.inPlane:(n+1)*p.inPlane], p.cin, p.h, p.w, p.geom, cols.buf)
					var beta T
					if n > ch*convDWChunk {
						beta = 1
					}
					for g := 0; g < p.groups; g++ {
						tensor.Gemm(tensor.NoTrans, tensor.Trans, p.kG, p.coutG, ohw, 1, cols.buf[g*p.kG*ohw:], ohw, gyn[g*p.coutG*ohw:], ohw, beta, dw[g*p.kG*p.coutG:], p.coutG)
						convWeightGEMMs.Add(1)
					}
				}
				if gx != nil {
					for g := 0; g < p.groups; g++ {
						tensor.Gemm(tensor.Trans, tensor.NoTrans, p.kG, ohw, p.coutG, 1, w[g*p.coutG*p.kG:], p.kG, gyn[g*p.coutG*ohw:], ohw, 0, dcols.buf[g*p.kG*ohw:], ohw)
					}
					gxn := gx.Data()[n*p.inPlane : (n+1)*p.inPlane]
					if p.geom.StrideH == 1 && p.geom.StrideW == 1 && p.ow == p.w {
						convCol2ImSame(dcols.buf, ohw, p.cin, p.h, p.w, p.geom, gxn)
					} else {
						tensor.Col2Im(dcols.buf, p.cin, p.h, p.w, p.geom, gxn)
					}
				}
			}
		}
	})
	if partials != nil {
		sum := partials.buf[:wLen]
		parallel.For(wLen, 4096, func(lo, hi int) {
			d := sum[lo:hi]
			for ch := 1; ch < chunks; ch++ {
				src := partials.buf[ch*wLen+lo : ch*wLen+hi]
				for i := range d {
					d[i] += src[i]
				}
			}
		})
		convTransposeWeight(p, sum, gw.Data())
	}
}

// convCol2ImSame is tensor.Col2ImStrided for stride 1 and an output as wide
// as the input ("same" width), using cols as scratch. In that geometry the
// valid output rows of a kernel tap are the input rows shifted by a constant
// offset, so after zeroing the entries that read the left or right padding
// (they would wrap onto the neighbouring row), each tap is one contiguous
// add. Every pixel receives the same terms in the same order as in
// Col2ImStrided, plus exact zeros.
func convCol2ImSame[T tensor.Float](cols []T, ld, c, h, w int, g tensor.ConvGeom, x []T) {
	g = g.Norm()
	oh, ow := g.OutSize(h, w)
	plane := oh * ow
	clear(x[:c*h*w])
	row := 0
	for ci := 0; ci < c; ci++ {
		img := x[ci*h*w : (ci+1)*h*w]
		for kh := 0; kh < g.KH; kh++ {
			offH := kh*g.DilH - g.PadH
			hlo, hhi := convSpan(oh, offH, h)
			for kw := 0; kw < g.KW; kw++ {
				offW := kw*g.DilW - g.PadW
				wlo, whi := convSpan(ow, offW, w)
				src := cols[row*ld : row*ld+plane]
				row++
				if hlo >= hhi || wlo >= whi {
					continue
				}
				for o := hlo; o < hhi; o++ {
					clear(src[o*ow : o*ow+wlo])
					clear(src[o*ow+whi : (o+1)*ow])
				}
				lo, hi := hlo*ow+wlo, (hhi-1)*ow+whi
				shift := offH*w + offW
				convAddTo(img[lo+shift:hi+shift], src[lo:hi])
			}
		}
	}
}

// convSpan returns the output positions [lo, hi) of [0, n) whose input index
// o + off lies in [0, size) (stride 1).
func convSpan(n, off, size int) (int, int) {
	lo, hi := max(0, -off), min(n, size-off)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// convAddTo computes dst += src (float32 through the SIMD Axpy kernel).
func convAddTo[T tensor.Float](dst, src []T) {
	if d32, ok := any(dst).([]float32); ok {
		kernels.Axpy(1, any(src).([]float32), d32)
		return
	}
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}
