package autograd

import (
	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/tensor"
)

// nnScratch is a temporary buffer of an op (im2col columns, partial sums),
// taken from the tensor pool by nnGetScratch and given back by
// nnPutScratch, so a warm training step reuses the same memory.
type nnScratch[T tensor.Float] struct {
	buf []T
	t   *tensor.Dense[T]
}

// nnGetScratch returns a scratch buffer of n elements (contents undefined).
// Give it back with nnPutScratch.
func nnGetScratch[T tensor.Float](n int) *nnScratch[T] {
	t := tensor.Empty[T](n)
	return &nnScratch[T]{buf: t.Data(), t: t}
}

// nnPutScratch returns s to the pool; s must not be used afterwards.
func nnPutScratch[T tensor.Float](s *nnScratch[T]) {
	s.buf = nil
	s.t.Release()
}

// nnInputs returns the non-nil Vars of vs, in order: optional inputs such as
// a bias are left out of the recorded graph when absent.
func nnInputs[T tensor.Float](vs ...*Var[T]) []*Var[T] {
	out := vs[:0:0]
	for _, v := range vs {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

// nnNeeds reports whether v is present and wants a gradient.
func nnNeeds[T tensor.Float](v *Var[T]) bool { return v != nil && v.RequiresGrad() }

// nnGrads assembles the backward result for the non-nil inputs among vs,
// taking gs[i] for vs[i].
func nnGrads[T tensor.Float](vs []*Var[T], gs ...*tensor.Dense[T]) []*tensor.Dense[T] {
	out := make([]*tensor.Dense[T], 0, len(vs))
	for i, v := range vs {
		if v != nil {
			out = append(out, gs[i])
		}
	}
	return out
}

// nnPair expands a per-axis option, where 0 means def.
func nnPair(p [2]int, def int) (int, int) {
	a, b := p[0], p[1]
	if a == 0 {
		a = def
	}
	if b == 0 {
		b = def
	}
	return a, b
}

// nnRank panics unless x has one of the given ranks.
func nnRank[T tensor.Float](op, name string, x *Var[T], ranks ...int) {
	for _, r := range ranks {
		if x.data.Rank() == r {
			return
		}
	}
	panic(fastgo.Errorf("autograd.%s: %s of shape %v has rank %d, want rank %v", op, name, x.Shape(), x.data.Rank(), ranks))
}
