package autograd

import (
	"fmt"
	"sync"

	"github.com/fastgo-ml/fastgo/tensor"
)

// nnScratch is a reusable buffer handed out by nnGetScratch.
type nnScratch[T tensor.Float] struct{ buf []T }

// The scratch pools of the neural-network ops, one per element type, so a
// warm training step reuses its im2col and temporary buffers.
var nnPool32, nnPool64 sync.Pool

// nnPoolFor returns the scratch pool of element type T (nil for a type
// other than float32 and float64).
func nnPoolFor[T tensor.Float]() *sync.Pool {
	var z T
	switch any(z).(type) {
	case float32:
		return &nnPool32
	case float64:
		return &nnPool64
	}
	return nil
}

// nnGetScratch returns a scratch buffer of at least n elements (contents
// undefined). Give it back with nnPutScratch.
func nnGetScratch[T tensor.Float](n int) *nnScratch[T] {
	if p := nnPoolFor[T](); p != nil {
		if v := p.Get(); v != nil {
			s := v.(*nnScratch[T])
			if cap(s.buf) >= n {
				s.buf = s.buf[:n]
				return s
			}
			s.buf = make([]T, n)
			return s
		}
	}
	return &nnScratch[T]{buf: make([]T, n)}
}

// nnPutScratch returns s to its pool.
func nnPutScratch[T tensor.Float](s *nnScratch[T]) {
	if p := nnPoolFor[T](); p != nil {
		p.Put(s)
	}
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
	panic(fmt.Sprintf("autograd.%s: %s of shape %v has rank %d, want rank %v", op, name, x.Shape(), x.data.Rank(), ranks))
}
