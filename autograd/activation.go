package autograd

import (
	"math"

	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// nnElemGrain is the number of elements below which an element-wise loop of
// the neural-network ops stays on one goroutine.
const nnElemGrain = 1 << 15

// nnMap applies fn to [lo, hi) ranges of n elements across GOMAXPROCS.
func nnMap(n int, fn func(lo, hi int)) { parallel.For(n, nnElemGrain, fn) }

// ReLU returns max(x, 0) element-wise. Backward reads only the output, so x
// need not be kept; float32 runs on the SIMD kernels.
func ReLU[T tensor.Float](x *Var[T]) *Var[T] {
	out := tensor.Empty[T](x.Shape()...)
	xd, od := x.data.Data(), out.Data()
	if x32, ok := any(xd).([]float32); ok {
		o32 := any(od).([]float32)
		nnMap(len(xd), func(lo, hi int) { kernels.Relu(o32[lo:hi], x32[lo:hi]) })
	} else {
		nnMap(len(xd), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if v := xd[i]; v > 0 {
					od[i] = v
				} else {
					od[i] = 0 // NaN too, as the kernel
				}
			}
		})
	}
	return Record("ReLU", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		gx := tensor.Empty[T](x.Shape()...)
		gd, g := gx.Data(), gy.Data()
		if g32, ok := any(g).([]float32); ok {
			d32, y32 := any(gd).([]float32), any(od).([]float32)
			nnMap(len(gd), func(lo, hi int) { kernels.ReluBackward(d32[lo:hi], g32[lo:hi], y32[lo:hi]) })
		} else {
			nnMap(len(gd), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					if od[i] > 0 {
						gd[i] = g[i]
					} else {
						gd[i] = 0
					}
				}
			})
		}
		return []*tensor.Dense[T]{gx}
	}, x)
}

// LeakyReLU returns x where x > 0 and slope*x elsewhere, as
// torch.nn.functional.leaky_relu (PyTorch's default slope is 0.01).
func LeakyReLU[T tensor.Float](x *Var[T], slope T) *Var[T] {
	out := tensor.Empty[T](x.Shape()...)
	xd, od := x.data.Data(), out.Data()
	nnMap(len(xd), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if v := xd[i]; v > 0 {
				od[i] = v
			} else {
				od[i] = v * slope
			}
		}
	})
	return Record("LeakyReLU", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		gx := tensor.Empty[T](x.Shape()...)
		gd, g := gx.Data(), gy.Data()
		nnMap(len(gd), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if xd[i] > 0 {
					gd[i] = g[i]
				} else {
					gd[i] = g[i] * slope
				}
			}
		})
		return []*tensor.Dense[T]{gx}
	}, x)
}

// GELU returns x*Phi(x), Phi the standard normal CDF, in the exact erf form
// that is PyTorch's default (approximate='none').
func GELU[T tensor.Float](x *Var[T]) *Var[T] {
	out := tensor.Empty[T](x.Shape()...)
	xd, od := x.data.Data(), out.Data()
	nnMap(len(xd), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(xd[i])
			od[i] = T(0.5 * v * (1 + math.Erf(v*math.Sqrt2/2)))
		}
	})
	return Record("GELU", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		gx := tensor.Empty[T](x.Shape()...)
		gd, g := gx.Data(), gy.Data()
		const invSqrt2Pi = 0.3989422804014327
		nnMap(len(gd), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := float64(xd[i])
				d := 0.5*(1+math.Erf(v*math.Sqrt2/2)) + v*invSqrt2Pi*math.Exp(-0.5*v*v)
				gd[i] = g[i] * T(d)
			}
		})
		return []*tensor.Dense[T]{gx}
	}, x)
}

// Sigmoid returns 1/(1+exp(-x)) element-wise, computed without overflow.
// Backward reads only the output: dy/dx = y(1-y).
func Sigmoid[T tensor.Float](x *Var[T]) *Var[T] {
	out := tensor.Empty[T](x.Shape()...)
	xd, od := x.data.Data(), out.Data()
	nnMap(len(xd), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			od[i] = T(nnSigmoid64(float64(xd[i])))
		}
	})
	return Record("Sigmoid", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		gx := tensor.Empty[T](x.Shape()...)
		gd, g := gx.Data(), gy.Data()
		nnMap(len(gd), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				y := od[i]
				gd[i] = g[i] * y * (1 - y)
			}
		})
		return []*tensor.Dense[T]{gx}
	}, x)
}

// Tanh returns tanh(x) element-wise. Backward reads only the output:
// dy/dx = 1 - y^2.
func Tanh[T tensor.Float](x *Var[T]) *Var[T] {
	out := tensor.Empty[T](x.Shape()...)
	xd, od := x.data.Data(), out.Data()
	nnMap(len(xd), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			od[i] = T(math.Tanh(float64(xd[i])))
		}
	})
	return Record("Tanh", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		gx := tensor.Empty[T](x.Shape()...)
		gd, g := gx.Data(), gy.Data()
		nnMap(len(gd), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				y := od[i]
				gd[i] = g[i] * (1 - y*y)
			}
		})
		return []*tensor.Dense[T]{gx}
	}, x)
}

// nnSigmoid64 is 1/(1+exp(-v)) without overflow for large |v|.
func nnSigmoid64(v float64) float64 {
	if v >= 0 {
		return 1 / (1 + math.Exp(-v))
	}
	e := math.Exp(v)
	return e / (1 + e)
}
