package tensor

import (
	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/parallel"
)

// splitAt returns the product of the dimensions before axis, the size of
// axis and the product of the dimensions after it.
func splitAt(shape []int, axis int) (outer, dim, inner int) {
	outer, inner = 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return outer, shape[axis], inner
}

// Permute returns a copy of a with its axes reordered: dimension i of the
// result is dimension dims[i] of a (negative dims count from the end), as
// torch.permute.
func Permute[T Float](a *Dense[T], dims ...int) *Dense[T] {
	r := len(a.shape)
	perm := make([]int, r)
	seen := make([]bool, r)
	bad := len(dims) != r
	for i := 0; i < r && !bad; i++ {
		d := dims[i]
		if d < 0 {
			d += r
		}
		if d < 0 || d >= r || seen[d] {
			bad = true
			break
		}
		seen[d] = true
		perm[i] = d
	}
	if bad {
		panic(fastgo.Errorf("tensor.Permute: dims %v are not a permutation of the axes of shape %v", dims, a.shape))
	}
	return permute(a, perm)
}

// permute copies a into the axis order perm (already validated).
func permute[T Float](a *Dense[T], perm []int) *Dense[T] {
	shape := make([]int, len(perm))
	st := make([]int, len(perm))
	cs := contiguousStrides(a.shape)
	for i, d := range perm {
		shape[i] = a.shape[d]
		st[i] = cs[d]
	}
	out := New[T](shape...)
	copyStrided(out.data, a.data, newStridedPlan(shape, st))
	return out
}

// Transpose returns a copy of a with axes d0 and d1 swapped (negative axes
// count from the end).
func Transpose[T Float](a *Dense[T], d0, d1 int) *Dense[T] {
	i, j := a.axis("tensor.Transpose", d0), a.axis("tensor.Transpose", d1)
	perm := make([]int, len(a.shape))
	for k := range perm {
		perm[k] = k
	}
	perm[i], perm[j] = j, i
	return permute(a, perm)
}

// checkIndices panics if an index is outside [0, n).
func checkIndices(op string, idx []int, n int, shape []int, axis int) {
	for _, i := range idx {
		if i < 0 || i >= n {
			panic(fastgo.Errorf("%s: index %d out of range for axis %d of shape %v", op, i, axis, shape))
		}
	}
}

// IndexSelect returns the slices of a at the given indices along axis, in
// the order given (indices may repeat), as torch.index_select. The result has
// a's shape with dimension axis replaced by len(idx).
func IndexSelect[T Float](a *Dense[T], axis int, idx []int) *Dense[T] {
	const op = "tensor.IndexSelect"
	ax := a.axis(op, axis)
	outer, dim, inner := splitAt(a.shape, ax)
	checkIndices(op, idx, dim, a.shape, ax)
	shape := append([]int(nil), a.shape...)
	shape[ax] = len(idx)
	out := New[T](shape...)
	m := len(idx)
	parallel.For(outer*m, max(1, grainCheap/max(1, inner)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o, j := r/m, r%m
			src := (o*dim + idx[j]) * inner
			copy(out.data[r*inner:(r+1)*inner], a.data[src:src+inner])
		}
	})
	return out
}

// IndexAddInPlace adds the slices of src along axis into dst at the given
// indices: dst[..., idx[j], ...] += src[..., j, ...], repeated indices
// accumulating, as torch.index_add_. src has dst's shape with dimension axis
// replaced by len(idx). It is the gradient of IndexSelect and Narrow.
func IndexAddInPlace[T Float](dst *Dense[T], axis int, idx []int, src *Dense[T]) {
	const op = "tensor.IndexAddInPlace"
	ax := dst.axis(op, axis)
	outer, dim, inner := splitAt(dst.shape, ax)
	checkIndices(op, idx, dim, dst.shape, ax)
	want := append([]int(nil), dst.shape...)
	want[ax] = len(idx)
	if !SameShape(want, src.shape) {
		panic(fastgo.Errorf("%s: source shape %v does not match %v with %d indices on axis %d", op, src.shape, dst.shape, len(idx), ax))
	}
	m := len(idx)
	parallel.For(outer, max(1, grainCheap/max(1, m*inner)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			for j, i := range idx {
				d := dst.data[(o*dim+i)*inner : (o*dim+i+1)*inner]
				s := src.data[(o*m+j)*inner : (o*m+j+1)*inner]
				for k, v := range s {
					d[k] += v
				}
			}
		}
	})
}

// Narrow returns the elements [start, start+length) of a along axis, as
// torch.narrow. Along axis 0 (or an axis with only size-1 dimensions before
// it) the result is a view sharing a's data, as Narrow0 gives; along other
// axes it is a copy.
func Narrow[T Float](a *Dense[T], axis, start, length int) *Dense[T] {
	const op = "tensor.Narrow"
	ax := a.axis(op, axis)
	outer, dim, inner := splitAt(a.shape, ax)
	if start < 0 || length < 0 || start+length > dim {
		panic(fastgo.Errorf("%s: range [%d,%d) out of range for axis %d of shape %v", op, start, start+length, ax, a.shape))
	}
	shape := append([]int(nil), a.shape...)
	shape[ax] = length
	if outer == 1 {
		end := (start + length) * inner
		return &Dense[T]{shape: shape, data: a.data[start*inner : end : end]}
	}
	out := New[T](shape...)
	row := length * inner
	parallel.For(outer, max(1, grainCheap/max(1, row)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			src := (o*dim + start) * inner
			copy(out.data[o*row:(o+1)*row], a.data[src:src+row])
		}
	})
	return out
}

// Concat joins tensors along axis, as torch.cat: every tensor has the same
// rank and the same size on every other axis.
func Concat[T Float](axis int, ts ...*Dense[T]) *Dense[T] {
	const op = "tensor.Concat"
	if len(ts) == 0 {
		panic(fastgo.Errorf("%s"+": no tensors", op))
	}
	ax := ts[0].axis(op, axis)
	ref := ts[0].shape
	total := 0
	for _, t := range ts {
		ok := len(t.shape) == len(ref)
		for i := 0; ok && i < len(ref); i++ {
			ok = i == ax || t.shape[i] == ref[i]
		}
		if !ok {
			panic(fastgo.Errorf("%s: shapes %v and %v differ outside axis %d", op, ref, t.shape, ax))
		}
		total += t.shape[ax]
	}
	shape := append([]int(nil), ref...)
	shape[ax] = total
	out := New[T](shape...)
	outer, _, inner := splitAt(shape, ax)
	parallel.For(outer, max(1, grainCheap/max(1, total*inner)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			off := o * total * inner
			for _, t := range ts {
				n := t.shape[ax] * inner
				copy(out.data[off:off+n], t.data[o*n:(o+1)*n])
				off += n
			}
		}
	})
	return out
}

// Stack joins tensors of equal shape along a new axis, as torch.stack; axis
// may be -1 (the new last axis) down to -(rank+1).
func Stack[T Float](axis int, ts ...*Dense[T]) *Dense[T] {
	const op = "tensor.Stack"
	if len(ts) == 0 {
		panic(fastgo.Errorf("%s"+": no tensors", op))
	}
	for _, t := range ts[1:] {
		if !SameShape(t.shape, ts[0].shape) {
			panic(fastgo.Errorf("%s: shapes %v and %v differ", op, ts[0].shape, t.shape))
		}
	}
	ax := newAxis(op, axis, ts[0].shape)
	us := make([]*Dense[T], len(ts))
	for i, t := range ts {
		us[i] = unsqueeze(t, ax)
	}
	return Concat(ax, us...)
}

// newAxis normalises the position of a new axis inserted into shape.
func newAxis(op string, axis int, shape []int) int {
	r := len(shape)
	a := axis
	if a < 0 {
		a += r + 1
	}
	if a < 0 || a > r {
		panic(fastgo.Errorf("%s: axis %d out of range for inserting into shape %v", op, axis, shape))
	}
	return a
}

func unsqueeze[T Float](a *Dense[T], ax int) *Dense[T] {
	shape := make([]int, 0, len(a.shape)+1)
	shape = append(shape, a.shape[:ax]...)
	shape = append(shape, 1)
	shape = append(shape, a.shape[ax:]...)
	return &Dense[T]{shape: shape, data: a.data}
}

// Unsqueeze returns a view of a with a new axis of size 1 at position axis
// (-1 appends it), as torch.unsqueeze.
func Unsqueeze[T Float](a *Dense[T], axis int) *Dense[T] {
	return unsqueeze(a, newAxis("tensor.Unsqueeze", axis, a.shape))
}

// Squeeze returns a view of a without the given axes, or without every axis
// of size 1 when none are given. As in torch.squeeze, a given axis whose size
// is not 1 is kept.
func Squeeze[T Float](a *Dense[T], axes ...int) *Dense[T] {
	var drop []bool
	if len(axes) == 0 {
		drop = make([]bool, len(a.shape))
		for i, d := range a.shape {
			drop[i] = d == 1
		}
	} else {
		drop = normAxes("tensor.Squeeze", a.shape, axes)
	}
	shape := make([]int, 0, len(a.shape))
	for i, d := range a.shape {
		if !drop[i] || d != 1 {
			shape = append(shape, d)
		}
	}
	return &Dense[T]{shape: shape, data: a.data}
}

// Flatten returns a view of a with the axes start through end (inclusive,
// negative counting from the end) merged into one, as torch.flatten.
func Flatten[T Float](a *Dense[T], start, end int) *Dense[T] {
	if len(a.shape) == 0 {
		return &Dense[T]{shape: []int{1}, data: a.data}
	}
	s, e := a.axis("tensor.Flatten", start), a.axis("tensor.Flatten", end)
	if s > e {
		panic(fastgo.Errorf("tensor.Flatten: start axis %d after end axis %d for shape %v", start, end, a.shape))
	}
	n := 1
	for _, d := range a.shape[s : e+1] {
		n *= d
	}
	shape := make([]int, 0, len(a.shape)-(e-s))
	shape = append(shape, a.shape[:s]...)
	shape = append(shape, n)
	shape = append(shape, a.shape[e+1:]...)
	return &Dense[T]{shape: shape, data: a.data}
}
