package autograd

import (
	"sync/atomic"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Conv2dOptions are the hyper-parameters of Conv2d. The zero value, or
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

// convWeightGEMMs counts the weight-gradient GEMMs (and direct passes) run
// by Conv2d's backward (tests use it to check that a frozen weight costs
// none).
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
// float32 runs, per pass (output, input gradient, weight gradient), either
// as GEMMs over the whole batch whose operands are packed straight from the
// tensors (nn_conv32.go, nn_conv32same.go; im2col + GEMM for small shapes,
// nn_conv_im2col.go) or, for 3x3 stride-1 convolutions, as Winograd
// F(4x4, 3x3) (nn_conv_winograd.go), chosen by shape (nn_conv_algo.go);
// float64, for gradient checks, as im2col + GEMM per sample or chunk of
// samples.
// Backward computes dx, dw and db only for the inputs that require them; the
// weight gradient is summed in a fixed order, so every result is bit-identical
// for any GOMAXPROCS.
func Conv2d[T tensor.Float](x, w, b *Var[T], opts Conv2dOptions) *Var[T] {
	return conv2d(x, w, b, &opts, false, nil)
}

// Conv2dReLU is ReLU(Conv2d(x, w, b, opts)) as one op: the ReLU is applied
// as the output (and its bias) is written, not in a pass of its own, and
// there is no tensor in between; backward masks the incoming gradient by the
// output and back-propagates through the convolution. layers.CallConvBN uses
// it for an eval-mode Conv2d, BatchNorm and ReLU folded into one
// convolution.
func Conv2dReLU[T tensor.Float](x, w, b *Var[T], opts Conv2dOptions) *Var[T] {
	return conv2d(x, w, b, &opts, true, nil)
}

// conv2d is Conv2d, and Conv2dReLU when relu is set. A non-nil st asks
// for BatchNorm's plane statistics of the output (see planeStats), which
// the float32 path of same convolutions gathers as it writes each plane.
func conv2d[T tensor.Float](x, w, b *Var[T], opts *Conv2dOptions, relu bool, st *planeStats) *Var[T] {
	if _, ok := any(x).(*Value); !ok || relu {
		st = nil // the statistics are float32 ones, of the output before any ReLU
	}
	op := "Conv2d"
	if relu {
		op = "Conv2dReLU"
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
	convForward(p, xd.Data(), wd.Data(), bd, out.Data(), relu, st)
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

// convForward writes the convolution (plus bias) into out, and its ReLU
// when relu is set.
func convForward[T tensor.Float](p *convPlan, x, w, b, out []T, relu bool, st *planeStats) {
	if x32, ok := any(x).([]float32); ok && p.winograd(passForward) {
		winoForward(p, x32, any(w).([]float32), any(b).([]float32), any(out).([]float32), relu)
		return
	}
	if x32, ok := any(x).([]float32); ok && p.direct3x3() {
		directForward(p, x32, any(w).([]float32), any(b).([]float32), any(out).([]float32), relu, st)
		return
	}
	if x32, ok := any(x).([]float32); ok && p.packed() {
		conv32Forward(p, x32, any(w).([]float32), any(b).([]float32), any(out).([]float32), relu, st)
		return
	}
	convForwardUnpacked(p, x, w, b, out, st)
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

// convBackward computes gx (when not nil), gw (when not nil) and gb (when
// not nil) from the output gradient gy, each float32 gradient by the
// algorithm nn_conv_algo.go chooses for its pass; float64 on im2col + GEMM.
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
		if gw != nil && p.direct3x3() {
			directWeightGrad(p, x32, gy32, any(gw.Data()).([]float32))
			gw = nil
		}
		if p.packed() {
			data := func(t *tensor.Dense[T]) []float32 {
				if t == nil {
					return nil
				}
				return any(t.Data()).([]float32)
			}
			conv32Backward(p, x32, w32, gy32, data(gx), data(gw), data(gb))
			return
		}
	}
	convBackwardUnpacked(p, x, w, gy, gx, gw, gb)
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
