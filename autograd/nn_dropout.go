package autograd

import (
	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Dropout zeroes each element of x with probability p and scales the others
// by 1/(1-p) (inverted dropout, as torch.nn.functional.dropout), drawing the
// mask from rng in row-major order: the training-mode op (layers.Dropout
// calls it only in training). With p 0 it returns x unchanged; with p 1
// every element is zeroed. It panics unless 0 <= p <= 1 and, when it draws
// a mask, rng is not nil.
func Dropout[T tensor.Float](x *Var[T], p float64, rng *tensor.RNG) *Var[T] {
	if !(p >= 0 && p <= 1) {
		panic(fastgo.Errorf("autograd.Dropout: probability %v outside [0, 1] (input %v)", p, x.Shape()))
	}
	if p == 0 {
		return x
	}
	if rng == nil {
		panic(fastgo.Errorf("autograd.Dropout: nil RNG (input %v)", x.Shape()))
	}
	xd := x.data.Data()
	keep := make([]bool, len(xd))
	if p < 1 {
		for i := range keep {
			keep[i] = rng.Float64() >= p
		}
	}
	var scale T
	if p < 1 {
		scale = T(1 / (1 - p))
	}
	out := tensor.New[T](x.Shape()...)
	od := out.Data()
	parallel.For(len(xd), nnElemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if keep[i] {
				od[i] = xd[i] * scale
			}
		}
	})
	return Record("Dropout", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		gx := tensor.New[T](x.Shape()...)
		gd, g := gx.Data(), gy.Data()
		parallel.For(len(gd), nnElemGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if keep[i] {
					gd[i] = g[i] * scale
				}
			}
		})
		return []*tensor.Dense[T]{gx}
	}, x)
}
