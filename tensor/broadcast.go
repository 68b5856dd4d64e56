package tensor

import (
	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/parallel"
)

// BroadcastShapes returns the shape that a and b broadcast to under NumPy's
// rules: shapes are aligned at their last dimension, and each pair of sizes
// must be equal or contain a 1. It panics, naming op and both shapes, when they
// do not broadcast.
func BroadcastShapes(op string, a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			panic(fastgo.Errorf("%s: shapes %v and %v do not broadcast", op, a, b))
		}
	}
	return out
}

// broadcastsTo reports whether shape s broadcasts to shape to without
// changing to.
func broadcastsTo(s, to []int) bool {
	if len(s) > len(to) {
		return false
	}
	off := len(to) - len(s)
	for i, d := range s {
		if d != 1 && d != to[off+i] {
			return false
		}
	}
	return true
}

// contiguousStrides returns the row-major strides of shape.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// broadcastStrides returns the strides, in the index space of out, of a
// contiguous operand of shape s that broadcasts to out: 0 on broadcast
// dimensions.
func broadcastStrides(s, out []int) []int {
	st := make([]int, len(out))
	cs := contiguousStrides(s)
	off := len(out) - len(s)
	for i := range out {
		j := i - off
		if j >= 0 && s[j] != 1 {
			st[i] = cs[j]
		}
	}
	return st
}

// stridedPlan is a walk over a row-major output shape, with each operand read
// at its own strides (0 on broadcast dimensions). Dimensions of size 1 are
// dropped and adjacent dimensions that are contiguous for every operand are
// merged, so the innermost dimension is as long as it can be.
type stridedPlan struct {
	shape   []int
	strides [][]int
}

// newStridedPlan returns the plan for out with the given operand strides
// (each of len(out)).
func newStridedPlan(out []int, strides ...[]int) *stridedPlan {
	p := &stridedPlan{strides: make([][]int, len(strides))}
	for i, d := range out {
		if d == 1 {
			continue
		}
		r := len(p.shape)
		merge := r > 0
		for k, st := range strides {
			if merge && p.strides[k][r-1] != st[i]*d {
				merge = false
			}
		}
		if merge {
			p.shape[r-1] *= d
			for k, st := range strides {
				p.strides[k][r-1] = st[i]
			}
			continue
		}
		p.shape = append(p.shape, d)
		for k, st := range strides {
			p.strides[k] = append(p.strides[k], st[i])
		}
	}
	if len(p.shape) == 0 {
		p.shape = []int{1}
		for k := range strides {
			p.strides[k] = []int{0}
		}
	}
	return p
}

// inner returns the length of the innermost dimension and the stride of
// operand k along it.
func (p *stridedPlan) inner(k int) int { return p.strides[k][len(p.shape)-1] }

// walk visits the output positions [lo, hi) in runs along the innermost
// dimension. For each run it calls fn with the output position of the run's
// start, each operand's offset there (in offs) and the run's length.
func (p *stridedPlan) walk(lo, hi int, fn func(pos int, offs []int, n int)) {
	r := len(p.shape)
	idx := make([]int, r)
	offs := make([]int, len(p.strides))
	rem := lo
	for d := r - 1; d >= 0; d-- {
		idx[d] = rem % p.shape[d]
		rem /= p.shape[d]
	}
	for k, st := range p.strides {
		o := 0
		for d, i := range idx {
			o += i * st[d]
		}
		offs[k] = o
	}
	last := p.shape[r-1]
	for pos := lo; pos < hi; {
		n := min(last-idx[r-1], hi-pos)
		fn(pos, offs, n)
		pos += n
		idx[r-1] += n
		if idx[r-1] < last {
			for k, st := range p.strides {
				offs[k] += n * st[r-1]
			}
			continue
		}
		idx[r-1] = 0
		for d := r - 2; d >= 0; d-- {
			idx[d]++
			if idx[d] < p.shape[d] {
				break
			}
			idx[d] = 0
		}
		for k, st := range p.strides {
			o := 0
			for d, i := range idx {
				o += i * st[d]
			}
			offs[k] = o
		}
	}
}

// ReduceTo sums grad over the dimensions along which an operand of the given
// shape was broadcast to grad's shape, and returns a tensor of that shape: the
// gradient of a broadcast input. When the shapes are equal it returns grad
// itself. It panics if shape does not broadcast to grad's shape.
func ReduceTo[T Float](grad *Dense[T], shape []int) *Dense[T] {
	if SameShape(grad.shape, shape) {
		return grad
	}
	if !broadcastsTo(shape, grad.shape) {
		panic(fastgo.Errorf("tensor.ReduceTo: shape %v does not broadcast to %v", shape, grad.shape))
	}
	off := len(grad.shape) - len(shape)
	var axes []int
	for i, d := range grad.shape {
		if i < off || (shape[i-off] == 1 && d != 1) {
			axes = append(axes, i)
		}
	}
	if len(axes) == 0 {
		return grad.Reshape(shape...)
	}
	return reduce("tensor.ReduceTo", redSum, grad, false, 0, axes).Reshape(shape...)
}

// BroadcastTo returns a copy of a broadcast to shape under NumPy's rules. It
// panics if a's shape does not broadcast to shape.
func BroadcastTo[T Float](a *Dense[T], shape ...int) *Dense[T] {
	if !broadcastsTo(a.shape, shape) {
		panic(fastgo.Errorf("tensor.BroadcastTo: shape %v does not broadcast to %v", a.shape, shape))
	}
	return expandCopy(a, shape)
}

// Expand is BroadcastTo with PyTorch's spelling: a size of -1 keeps the
// corresponding (right-aligned) dimension of a. The result is a copy, since
// tensors are always contiguous.
func Expand[T Float](a *Dense[T], shape ...int) *Dense[T] {
	s := append([]int(nil), shape...)
	off := len(s) - len(a.shape)
	for i, d := range s {
		if d == -1 {
			if i < off {
				panic(fastgo.Errorf("tensor.Expand: -1 in a new leading dimension of %v for %v", shape, a.shape))
			}
			s[i] = a.shape[i-off]
		}
	}
	if off < 0 || !broadcastsTo(a.shape, s) {
		panic(fastgo.Errorf("tensor.Expand: shape %v does not expand to %v", a.shape, shape))
	}
	return expandCopy(a, s)
}

// expandCopy copies a, which broadcasts to shape, into a new tensor of shape.
func expandCopy[T Float](a *Dense[T], shape []int) *Dense[T] {
	out := New[T](shape...)
	if SameShape(a.shape, shape) {
		copy(out.data, a.data)
		return out
	}
	p := newStridedPlan(out.shape, broadcastStrides(a.shape, out.shape))
	copyStrided(out.data, a.data, p)
	return out
}

// copyStrided fills dst (contiguous, in p's output order) from src read at
// p's only operand strides, in parallel.
func copyStrided[T Float](dst, src []T, p *stridedPlan) {
	s := p.inner(0)
	parallel.For(len(dst), grainCheap, func(lo, hi int) {
		p.walk(lo, hi, func(pos int, offs []int, n int) {
			d := dst[pos : pos+n]
			if s == 1 {
				copy(d, src[offs[0]:offs[0]+n])
				return
			}
			j := offs[0]
			for i := range d {
				d[i] = src[j]
				j += s
			}
		})
	})
}
