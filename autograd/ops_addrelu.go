package autograd

import (
	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/tensor"
)

// AddReLU returns max(a + b, 0) element-wise, for a and b of the same
// shape: the join of a residual block (ReLU(Add(a, b))) in one pass over
// the data, without the intermediate sum. It equals ReLU(Add(a, b)) bit for
// bit, gradients included. Backward reads only the output and hands the one
// masked gradient to both inputs; float32 runs on the SIMD kernels.
func AddReLU[T tensor.Float](a, b *Var[T]) *Var[T] {
	if !tensor.SameShape(a.Shape(), b.Shape()) {
		panic(fastgo.Errorf("autograd.AddReLU: shapes %v and %v differ", a.Shape(), b.Shape()))
	}
	out := tensor.Empty[T](a.Shape()...)
	addReLUForward(out.Data(), a.data.Data(), b.data.Data())
	od := out.Data()
	return Record("AddReLU", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		gm := tensor.Empty[T](gy.Shape()...)
		reluMask(gm.Data(), gy.Data(), od)
		var ga, gb *tensor.Dense[T]
		if a.requiresGrad {
			ga = gm
		}
		if b.requiresGrad {
			gb = gm
		}
		if ga == nil && gb == nil {
			gm.Release()
		}
		return []*tensor.Dense[T]{ga, gb}
	}, a, b)
}

// addReLUForward computes dst = max(a + b, 0); a NaN sum gives 0.
func addReLUForward[T tensor.Float](dst, a, b []T) {
	if d32, ok := any(dst).([]float32); ok {
		a32, b32 := any(a).([]float32), any(b).([]float32)
		nnMap(len(d32), func(lo, hi int) { kernels.AddRelu(d32[lo:hi], a32[lo:hi], b32[lo:hi]) })
		return
	}
	nnMap(len(dst), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if v := a[i] + b[i]; v > 0 {
				dst[i] = v
			} else {
				dst[i] = 0
			}
		}
	})
}

// reluMask computes dst = g where y > 0, else 0 (y is a ReLU's output).
func reluMask[T tensor.Float](dst, g, y []T) {
	if d32, ok := any(dst).([]float32); ok {
		g32, y32 := any(g).([]float32), any(y).([]float32)
		nnMap(len(d32), func(lo, hi int) { kernels.ReluBackward(d32[lo:hi], g32[lo:hi], y32[lo:hi]) })
		return
	}
	nnMap(len(dst), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if y[i] > 0 {
				dst[i] = g[i]
			} else {
				dst[i] = 0
			}
		}
	})
}
