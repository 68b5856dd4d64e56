package autograd

import (
	"github.com/fastgo-ml/fastgo/tensor"
)

// reshapeBack records a view op whose gradient is g reshaped to a's shape.
func reshapeBack[T tensor.Float](op string, a *Var[T], out *tensor.Dense[T]) *Var[T] {
	return unaryOp(op, a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] { return g.Reshape(a.Shape()...) })
}

// Reshape returns a view of a with a new shape (one dimension may be -1).
func Reshape[T tensor.Float](a *Var[T], shape ...int) *Var[T] {
	return reshapeBack("Reshape", a, a.data.Reshape(shape...))
}

// Squeeze returns a view of a without the given size-1 axes (every size-1
// axis when none are given), as tensor.Squeeze.
func Squeeze[T tensor.Float](a *Var[T], axes ...int) *Var[T] {
	return reshapeBack("Squeeze", a, tensor.Squeeze(a.data, axes...))
}

// Unsqueeze returns a view of a with a new axis of size 1 at axis.
func Unsqueeze[T tensor.Float](a *Var[T], axis int) *Var[T] {
	return reshapeBack("Unsqueeze", a, tensor.Unsqueeze(a.data, axis))
}

// Flatten returns a view of a with axes start through end (inclusive) merged.
func Flatten[T tensor.Float](a *Var[T], start, end int) *Var[T] {
	return reshapeBack("Flatten", a, tensor.Flatten(a.data, start, end))
}

// Transpose returns a with axes d0 and d1 swapped.
func Transpose[T tensor.Float](a *Var[T], d0, d1 int) *Var[T] {
	return unaryOp("Transpose", a, tensor.Transpose(a.data, d0, d1), func(g *tensor.Dense[T]) *tensor.Dense[T] {
		return tensor.Transpose(g, d0, d1)
	})
}

// Permute returns a with its axes reordered: axis i of the result is axis
// dims[i] of a.
func Permute[T tensor.Float](a *Var[T], dims ...int) *Var[T] {
	out := tensor.Permute(a.data, dims...)
	dims = append([]int(nil), dims...) // kept for backward
	return unaryOp("Permute", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] {
		inv := make([]int, len(dims))
		for i, d := range dims {
			if d < 0 {
				d += len(dims)
			}
			inv[d] = i
		}
		return tensor.Permute(g, inv...)
	})
}

// IndexSelect returns the slices of a at idx along axis (indices may
// repeat; their gradients add up).
func IndexSelect[T tensor.Float](a *Var[T], axis int, idx []int) *Var[T] {
	out := tensor.IndexSelect(a.data, axis, idx)
	idx = append([]int(nil), idx...) // kept for backward: the caller may reuse its slice
	return unaryOp("IndexSelect", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] {
		d := tensor.New[T](a.Shape()...)
		tensor.IndexAddInPlace(d, axis, idx, g)
		return d
	})
}

// Narrow returns the elements [start, start+length) of a along axis.
func Narrow[T tensor.Float](a *Var[T], axis, start, length int) *Var[T] {
	out := tensor.Narrow(a.data, axis, start, length)
	return unaryOp("Narrow", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] {
		idx := make([]int, length)
		for i := range idx {
			idx[i] = start + i
		}
		d := tensor.New[T](a.Shape()...)
		tensor.IndexAddInPlace(d, axis, idx, g)
		return d
	})
}

// Concat joins Vars along axis, as tensor.Concat.
func Concat[T tensor.Float](axis int, vs ...*Var[T]) *Var[T] {
	ts := make([]*tensor.Dense[T], len(vs))
	for i, v := range vs {
		ts[i] = v.data
	}
	out := tensor.Concat(axis, ts...)
	return Record("Concat", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		gs := make([]*tensor.Dense[T], len(vs))
		off := 0
		for i, v := range vs {
			n := v.data.Dim(axis)
			if v.requiresGrad {
				gs[i] = tensor.Narrow(g, axis, off, n)
			}
			off += n
		}
		return gs
	}, vs...)
}

// Stack joins Vars of equal shape along a new axis, as tensor.Stack.
func Stack[T tensor.Float](axis int, vs ...*Var[T]) *Var[T] {
	ts := make([]*tensor.Dense[T], len(vs))
	for i, v := range vs {
		ts[i] = v.data
	}
	out := tensor.Stack(axis, ts...)
	return Record("Stack", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		ax := axis
		if ax < 0 {
			ax += g.Rank()
		}
		gs := make([]*tensor.Dense[T], len(vs))
		for i, v := range vs {
			if v.requiresGrad {
				gs[i] = tensor.Narrow(g, ax, i, 1).Reshape(v.Shape()...)
			}
		}
		return gs
	}, vs...)
}

// BroadcastTo returns a broadcast to shape; the gradient is summed back to
// a's shape.
func BroadcastTo[T tensor.Float](a *Var[T], shape ...int) *Var[T] {
	return unaryOp("BroadcastTo", a, tensor.BroadcastTo(a.data, shape...), func(g *tensor.Dense[T]) *tensor.Dense[T] {
		return tensor.ReduceTo(g, a.Shape())
	})
}

// Expand is BroadcastTo with -1 keeping a dimension, as tensor.Expand.
func Expand[T tensor.Float](a *Var[T], shape ...int) *Var[T] {
	return unaryOp("Expand", a, tensor.Expand(a.data, shape...), func(g *tensor.Dense[T]) *tensor.Dense[T] {
		return tensor.ReduceTo(g, a.Shape())
	})
}
