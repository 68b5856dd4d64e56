package autograd

import (
	"sync/atomic"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Conv2dOptions are the hyper-parameters of Conv2d. A nil *Conv2dOptions, or
// a zero field, means PyTorch's default: stride 1, padding 0, dilation 1,
// groups 1. Each pair is (H, W).
type Conv2dOptions struct {
	// Stride is the step between windows (default 1).
	Stride [2]int
	// Padding is the number of zeros added on each side (default 0).
	Padding [2]int
	// Dilation is the spacing between kernel taps (default 1).
	Dilation [2]int
	// Groups splits the channels into groups convolved separately
	// (default 1; Cin = groups gives a depthwise convolution).
	Groups int
}

// convPacked selects the float32 path of nn_conv32.go and nn_conv32same.go
// (GEMMs over packed views of the tensors, never storing the unfolded
// input) over im2col + GEMM: always (1), never (-1), or by shape (0, the
// default; see convPlan.packed). SetConvPacked sets it.
var convPacked = 0

// convPackedMin is the size of one sample's unfolded input (Cin*KH*KW x
// OH*OW elements) from which the packed path is used by default: below it
// (the SmallCNN's conv1 at 7,056, a ResNet's stem at 27,648) im2col + GEMM
// measured faster; above it (the SmallCNN's conv2 at 56,448: 4% faster in
// training, 13% with frozen weights; a ResNet's stages) storing the
// unfolded input costs more than packing from the tensors. The choice
// depends on the shapes only, so a run is repeatable bit for bit.
const convPackedMin = 1 << 15

// packed reports whether p runs on the packed float32 path.
func (p *convPlan) packed() bool {
	switch {
	case convPacked > 0:
		return true
	case convPacked < 0:
		return false
	}
	return p.colsLen() >= convPackedMin
}

// convWeightGEMMs counts the weight-gradient GEMMs run by Conv2d's backward
// (tests use it to check that a frozen weight costs none).
var convWeightGEMMs atomic.Int64

// convPlan holds the sizes of one Conv2d call.
type convPlan struct {
	n, cin, h, w     int
	cout, groups     int
	geom             tensor.ConvGeom
	oh, ow           int
	cinG, coutG, kG  int // per-group input channels, output channels, reduction length
	direct           bool
	inPlane, outSize int
}

// colsLen is the length of one sample's im2col matrix.
func (p *convPlan) colsLen() int { return p.cin * p.geom.KH * p.geom.KW * p.oh * p.ow }

// Conv2d returns the 2-d cross-correlation of x [N, Cin, H, W] with weight w
// [Cout, Cin/groups, KH, KW], plus bias b [Cout] when b is not nil, as
// torch.nn.functional.conv2d: output [N, Cout, OH, OW].
//
// float32 runs as GEMMs over the whole batch whose operands are packed
// straight from the tensors (see nn_conv32.go); float64, for gradient
// checks, as im2col + GEMM per sample or chunk of samples.
// Backward computes dx, dw and db only for the inputs that require them; the
// weight gradient is summed in a fixed order, so every result is bit-identical
// for any GOMAXPROCS.
func Conv2d[T tensor.Float](x, w, b *Var[T], opts *Conv2dOptions) *Var[T] {
	return conv2d(x, w, b, opts, false)
}

// Conv2dReLU is ReLU(Conv2d(x, w, b, opts)) as one op: the ReLU is applied
// as the output (and its bias) is written, not in a pass of its own, and
// there is no tensor in between; backward masks the incoming gradient by the
// output and back-propagates through the convolution. layers.CallConvBN uses
// it for an eval-mode Conv2d, BatchNorm and ReLU folded into one
// convolution.
func Conv2dReLU[T tensor.Float](x, w, b *Var[T], opts *Conv2dOptions) *Var[T] {
	return conv2d(x, w, b, opts, true)
}

func conv2d[T tensor.Float](x, w, b *Var[T], opts *Conv2dOptions, relu bool) *Var[T] {
	op := "Conv2d"
	if relu {
		op = "Conv2dReLU"
	}
	if opts == nil {
		opts = &Conv2dOptions{}
	}
	nnRank("Conv2d", "input", x, 4)
	nnRank("Conv2d", "weight", w, 4)
	xs, ws := x.Shape(), w.Shape()
	if b != nil && (b.data.Rank() != 1 || b.Shape()[0] != ws[0]) {
		panic(fastgo.Errorf("autograd.Conv2d: bias %v does not match weight %v (want [%d])", b.Shape(), ws, ws[0]))
	}
	p := newConvPlan(xs, ws, opts)
	oh, ow := p.oh, p.ow
	out := tensor.Empty[T](p.n, p.cout, oh, ow) // every element is written
	xd, wd := x.data, w.data
	var bd []T
	if b != nil {
		bd = b.data.Data()
	}
	convForward(p, xd.Data(), wd.Data(), bd, out.Data(), relu)
	inputs := nnInputs(x, w, b)
	return Record(op, out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		if relu {
			m := tensor.Empty[T](gy.Shape()...)
			defer m.Release()
			convReLUMask(m.Data(), gy.Data(), out.Data())
			gy = m
		}
		var gx, gw, gb *tensor.Dense[T]
		if x.RequiresGrad() {
			gx = tensor.Empty[T](xs...)
		}
		if w.RequiresGrad() {
			gw = tensor.Empty[T](ws...)
		}
		if nnNeeds(b) {
			gb = tensor.New[T](ws[0])
		}
		convBackward(p, xd.Data(), wd.Data(), gy.Data(), gx, gw, gb)
		return nnGrads([]*Var[T]{x, w, b}, gx, gw, gb)
	}, inputs...)
}

// newConvPlan checks the shapes of a Conv2d of input xs with weight ws and
// returns its plan; it panics, naming the shapes, when they do not fit.
func newConvPlan(xs, ws []int, opts *Conv2dOptions) *convPlan {
	groups := opts.Groups
	if groups == 0 {
		groups = 1
	}
	if groups < 0 {
		panic(fastgo.Errorf("autograd.Conv2d: groups %d is negative", groups))
	}
	if xs[1] != ws[1]*groups {
		panic(fastgo.Errorf("autograd.Conv2d: input %v has %d channels, weight %v expects %d (groups %d)", xs, xs[1], ws, ws[1]*groups, groups))
	}
	if ws[0]%groups != 0 || ws[0] == 0 {
		panic(fastgo.Errorf("autograd.Conv2d: weight %v has %d output channels, not a positive multiple of groups %d", ws, ws[0], groups))
	}
	sh, sw := nnPair(opts.Stride, 1)
	ph, pw := opts.Padding[0], opts.Padding[1]
	dh, dw := nnPair(opts.Dilation, 1)
	if sh < 1 || sw < 1 || ph < 0 || pw < 0 || dh < 1 || dw < 1 {
		panic(fastgo.Errorf("autograd.Conv2d: invalid stride %v, padding %v or dilation %v", opts.Stride, opts.Padding, opts.Dilation))
	}
	geom := tensor.ConvGeom{KH: ws[2], KW: ws[3], StrideH: sh, StrideW: sw, PadH: ph, PadW: pw, DilH: dh, DilW: dw}
	if xs[2]+2*ph < dh*(ws[2]-1)+1 || xs[3]+2*pw < dw*(ws[3]-1)+1 {
		panic(fastgo.Errorf("autograd.Conv2d: kernel %dx%d (dilation %dx%d) larger than input %v padded by %dx%d", ws[2], ws[3], dh, dw, xs, ph, pw))
	}
	oh, ow := geom.OutSize(xs[2], xs[3])
	p := &convPlan{
		n: xs[0], cin: xs[1], h: xs[2], w: xs[3],
		cout: ws[0], groups: groups, geom: geom, oh: oh, ow: ow,
		cinG: ws[1], coutG: ws[0] / groups, kG: ws[1] * ws[2] * ws[3],
		direct:  ws[2] == 1 && ws[3] == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0,
		inPlane: xs[1] * xs[2] * xs[3], outSize: ws[0] * oh * ow,
	}
	return p
}

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

// convForward writes the convolution (plus bias) into out, and its ReLU
// when relu is set.
func convForward[T tensor.Float](p *convPlan, x, w, b, out []T, relu bool) {
	if x32, ok := any(x).([]float32); ok && p.winograd(passForward) {
		winoForward(p, x32, any(w).([]float32), any(b).([]float32), any(out).([]float32), relu)
		return
	}
	if x32, ok := any(x).([]float32); ok && p.packed() {
		conv32Forward(p, x32, any(w).([]float32), any(b).([]float32), any(out).([]float32), relu)
		return
	}
	convForwardUnpacked(p, x, w, b, out)
	if relu {
		convReLUInPlace(out)
	}
}

// convReLUInPlace sets the non-positive (and NaN) values of out to 0.
func convReLUInPlace[T tensor.Float](out []T) {
	if o32, ok := any(out).([]float32); ok {
		parallel.For(len(o32), 1<<14, func(lo, hi int) { kernels.Relu(o32[lo:hi], o32[lo:hi]) })
		return
	}
	for i, v := range out {
		if !(v > 0) {
			out[i] = 0
		}
	}
}

// convReLUMask writes dst = gy where out > 0, else 0: the gradient through
// the ReLU of Conv2dReLU, whose output out is.
func convReLUMask[T tensor.Float](dst, gy, out []T) {
	if d32, ok := any(dst).([]float32); ok {
		g32, o32 := any(gy).([]float32), any(out).([]float32)
		parallel.For(len(d32), 1<<14, func(lo, hi int) { kernels.ReluBackward(d32[lo:hi], g32[lo:hi], o32[lo:hi]) })
		return
	}
	for i, v := range out {
		if v > 0 {
			dst[i] = gy[i]
		} else {
			dst[i] = 0
		}
	}
}

// convForwardUnpacked is convForward on the im2col paths.
func convForwardUnpacked[T tensor.Float](p *convPlan, x, w, b, out []T) {
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
		parallel.For(p.n, 1, func(lo, hi int) {
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
			}
		})
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

// convBackward computes gx (when not nil), gw (when not nil) and gb (when
// not nil) from the output gradient gy. Samples go in chunks of p.chunk():
// the chunk's output gradient is gathered into one [Cout, s*OH*OW] matrix,
// whose GEMMs give the chunk's weight gradient (accumulated chunk after
// chunk, in order) and the input gradient's columns (folded back per sample
// by Col2Im). Every summation order depends on the shapes only.
func convBackward[T tensor.Float](p *convPlan, x, w, gy []T, gx, gw, gb *tensor.Dense[T]) {
	if x32, ok := any(x).([]float32); ok {
		w32, gy32 := any(w).([]float32), any(gy).([]float32)
		if gx != nil && p.winograd(passInputGrad) {
			winoInputGrad(p, w32, gy32, any(gx.Data()).([]float32))
			gx = nil
		}
		if gw != nil && p.winograd(passWeightGrad) {
			winoWeightGrad(p, x32, gy32, any(gw.Data()).([]float32))
			gw = nil
		}
	}
	if x32, ok := any(x).([]float32); ok && p.packed() {
		data := func(t *tensor.Dense[T]) []float32 {
			if t == nil {
				return nil
			}
			return any(t.Data()).([]float32)
		}
		conv32Backward(p, x32, any(w).([]float32), any(gy).([]float32), data(gx), data(gw), data(gb))
		return
	}
	ohw := p.oh * p.ow
	if gx == nil && gw == nil {
		if gb != nil {
			convBiasGrad(p, gy, gb.Data())
		}
		return
	}
	if p.direct {
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
		return
	}
	if p.perSample() {
		convBackwardPerSample(p, x, w, gy, gx, gw, gb)
		return
	}
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

// SetConvPacked forces the float32 convolution path (true: GEMMs over
// packed views, nn_conv32*.go; false: im2col) instead of the choice by
// shape, and returns the function that restores the previous setting. It
// exists for tests and benchmarks that compare the two.
//
// It is not safe to call while convolutions run.
func SetConvPacked(on bool) (restore func()) {
	prev := convPacked
	if on {
		convPacked = 1
	} else {
		convPacked = -1
	}
	return func() { convPacked = prev }
}
