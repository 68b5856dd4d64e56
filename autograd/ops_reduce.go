package autograd

import (
	"github.com/fastgo-ml/fastgo/tensor"
)

// keptShape returns shape with the reduced axes (all when none are given;
// already validated by the forward op) set to 1, and the number of elements
// each output reduces.
func keptShape(shape []int, axes []int) ([]int, int) {
	s := append([]int(nil), shape...)
	n := 1
	if len(axes) == 0 {
		for i, d := range s {
			n *= d
			s[i] = 1
		}
		return s, n
	}
	for _, ax := range axes {
		if ax < 0 {
			ax += len(s)
		}
		n *= s[ax]
		s[ax] = 1
	}
	return s, n
}

// Sum returns the sum of a over axes (all axes when none are given; negative
// axes count from the end), the reduced axes dropped (Reshape keeps them).
func Sum[T tensor.Float](a *Var[T], axes ...int) *Var[T] {
	axes = append([]int(nil), axes...) // kept for backward
	out := tensor.Sum(a.data, axes...)
	return unaryOp("Sum", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] {
		ks, _ := keptShape(a.Shape(), axes)
		return tensor.BroadcastTo(g.Reshape(ks...), a.Shape()...)
	})
}

// Mean returns the mean of a over axes, as Sum does.
func Mean[T tensor.Float](a *Var[T], axes ...int) *Var[T] {
	axes = append([]int(nil), axes...)
	out := tensor.Mean(a.data, axes...)
	return unaryOp("Mean", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] {
		ks, n := keptShape(a.Shape(), axes)
		d := tensor.BroadcastTo(g.Reshape(ks...), a.Shape()...)
		tensor.ScaleInPlace(d, 1/T(n))
		return d
	})
}

// SumAll returns the sum of all elements of a as a rank-0 Var.
func SumAll[T tensor.Float](a *Var[T]) *Var[T] { return Sum(a) }

// MeanAll returns the mean of all elements of a as a rank-0 Var.
func MeanAll[T tensor.Float](a *Var[T]) *Var[T] { return Mean(a) }

// Variance returns the variance of a over axes (all when none are given):
// sum((x-mean)^2) / (N - correction), as torch.var with correction (1 for
// the unbiased estimate, 0 for the population variance). It is tensor.Var
// under another name, since Var is this package's value type.
func Variance[T tensor.Float](a *Var[T], correction int, axes ...int) *Var[T] {
	axes = append([]int(nil), axes...)
	out := tensor.Var(a.data, correction, axes...)
	return unaryOp("Variance", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] {
		ks, n := keptShape(a.Shape(), axes)
		d := tensor.Sub(a.data, tensor.KeepDims(tensor.Mean(a.data, axes...), a.Shape(), axes...))
		tensor.MulInPlace(d, g.Reshape(ks...))
		tensor.ScaleInPlace(d, 2/T(n-correction))
		return d
	})
}

// Max returns the largest element of a over axes, as Sum does. The gradient
// goes to the element that was chosen (the first, on ties).
func Max[T tensor.Float](a *Var[T], axes ...int) *Var[T] {
	out, at := tensor.MaxWithIndex(a.data, axes...)
	return unaryOp("Max", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] { return scatter(g, at, a.Shape()) })
}

// Min returns the smallest element of a over axes, as Max does.
func Min[T tensor.Float](a *Var[T], axes ...int) *Var[T] {
	out, at := tensor.MinWithIndex(a.data, axes...)
	return unaryOp("Min", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] { return scatter(g, at, a.Shape()) })
}

// scatter returns a zero tensor of shape with g's elements added at the flat
// indices at.
func scatter[T tensor.Float](g *tensor.Dense[T], at []int, shape []int) *tensor.Dense[T] {
	d := tensor.New[T](shape...)
	dd, gd := d.Data(), g.Data()
	for i, off := range at {
		dd[off] += gd[i]
	}
	return d
}
