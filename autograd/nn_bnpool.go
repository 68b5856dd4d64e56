package autograd

import (
	"unsafe"

	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// pool2x2 are the options of a 2x2 max pool of stride 2.
var pool2x2 = Pool2dOptions{Kernel: [2]int{2, 2}, Stride: [2]int{2, 2}}

// BatchNormReLUMaxPool2x2 is MaxPool2d(BatchNormReLU(x, ...), kernel 2,
// stride 2) in one op, the Conv → BatchNorm → ReLU → MaxPool block of small
// CNNs, with the same arguments as BatchNormReLU and the same results bit
// for bit: each (sample, channel) plane is normalised into a buffer that
// stays in cache and pooled from there, so the normalised tensor, the size
// of x, is neither written nor read back. Backward runs BatchNormReLU's
// backward on the pooled gradient scattered to the maxima, one plane at a
// time into a buffer that stays in cache, so that gradient is not written
// at full size either.
//
// x is [N, C, H, W]. The fused path takes float32 planes of at least 16
// values, normalised with the batch statistics (training, or no running
// statistics); otherwise (float64 among others) the op is the two ops in
// turn.
func BatchNormReLUMaxPool2x2[T tensor.Float](x, weight, bias *Var[T], runningMean, runningVar *tensor.Dense[T], opts BatchNormOptions) *Var[T] {
	return bnReLUPool2x2(x, weight, bias, runningMean, runningVar, opts, nil)
}

// bnReLUPool2x2 is BatchNormReLUMaxPool2x2, whose fused path takes x's
// statistics from st when st is not nil.
func bnReLUPool2x2[T tensor.Float](x, weight, bias *Var[T], runningMean, runningVar *tensor.Dense[T], opts BatchNormOptions, st *planeStats) *Var[T] {
	const op = "BatchNormReLUMaxPool2x2"
	nnRank(op, "input", x, 4)
	geo := bnCheck(op, x, weight, bias, runningMean, runningVar, opts.Training)
	xs := x.Shape()
	x32, ok := any(x).(*Value)
	if !ok || geo.inner < bnFastInner || !geo.useBatch || xs[2] < 2 || xs[3] < 2 {
		mid := BatchNormReLU(x, weight, bias, runningMean, runningVar, opts)
		return Consumed(mid, MaxPool2d(mid, pool2x2))
	}
	return any(bnReLUPool32(x32, any(weight).(*Value), any(bias).(*Value), any(runningMean).(*tensor.Tensor), any(runningVar).(*tensor.Tensor), geo, opts, st)).(*Var[T])
}

// bnReLUPool32 is BatchNormReLUMaxPool2x2's fused path, on checked
// arguments, with x's statistics from st when not nil.
func bnReLUPool32(x, weight, bias *Value, runningMean, runningVar *tensor.Tensor, geo bnGeometry, opts BatchNormOptions, st *planeStats) *Value {
	const op = "BatchNormReLUMaxPool2x2"
	xs := x.Shape()
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	var gamma, beta []float32
	if weight != nil {
		gamma = weight.data.Data()
	}
	if bias != nil {
		beta = bias.data.Data()
	}
	xd := x.data.Data()
	f32 := &bnFloat32{x: xd, bnGeometry: geo, gamma: gamma, mean: make([]float32, c), invstd: make([]float32, c), relu: true, stats: st}
	// Momentum and eps in float32 first, as BatchNormReLU has them.
	f32.setAffine(opts.Training, runningMean, runningVar, beta, float64(float32(opts.Momentum)), float64(float32(opts.Eps)))
	f32.stats = nil // the caller's, and only setAffine reads them

	oh, ow := h/2, w/2
	planes, plane, opl := n*c, h*w, oh*ow
	out := tensor.Empty[float32](n, c, oh, ow)
	od := out.Data()
	// The codes (the window position of each maximum) live in a pool
	// buffer, as MaxPool2d's do.
	codeBuf := tensor.Empty[float32]((planes*opl + 3) / 4)
	code := unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(codeBuf.Data()))), planes*opl)
	parallel.For(planes, poolGrain, func(lo, hi int) {
		buf := tensor.Empty[float32](plane)
		y := buf.Data()
		for pl := lo; pl < hi; pl++ {
			ch := pl % c
			kernels.AffineRelu(y, xd[pl*plane:(pl+1)*plane], f32.scale[ch], f32.shift[ch])
			kernels.MaxPool2x2(oh, ow, 2*w, w, y, od[pl*opl:(pl+1)*opl], code[pl*opl:(pl+1)*opl])
		}
		buf.Release()
	})
	if !GradEnabled() || !x.RequiresGrad() && !nnNeeds(weight) && !nnNeeds(bias) {
		codeBuf.Release()
	}
	return Record(op, out, func(gy *tensor.Tensor) []*tensor.Tensor {
		defer codeBuf.Release()
		// The gradient of the normalised tensor, plane by plane in a
		// scratch plane that stays in cache (each of the batch-norm
		// backward's two passes makes it again): the pooled gradient at each
		// window's maximum, 0 elsewhere (and in an odd last row or column,
		// which no window covers and the kernel never writes).
		gyd := gy.Data()
		f32.gyPlane = func(r0 int, buf []float32) []float32 {
			pl := r0 / plane
			kernels.MaxPool2x2Backward(oh, ow, 2*w, w, gyd[pl*opl:(pl+1)*opl], code[pl*opl:(pl+1)*opl], buf)
			return buf
		}
		var gx, gw, gb *tensor.Tensor
		if x.RequiresGrad() {
			gx = tensor.Empty[float32](xs...)
		}
		if nnNeeds(weight) {
			gw = tensor.New[float32](c)
		}
		if nnNeeds(bias) {
			gb = tensor.New[float32](c)
		}
		// With the batch statistics, the backward does not read the
		// forward's output (its ReLU mask comes from x).
		f32.backward(nil, nil, bnData(gx), bnData(gw), bnData(gb))
		return nnGrads([]*Value{x, weight, bias}, gx, gw, gb)
	}, nnInputs(x, weight, bias)...)
}
