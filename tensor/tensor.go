package tensor

import (
	"math"

	"github.com/fastgo-ml/fastgo"
)

// Float is the set of element types a Dense tensor can hold. Compute runs in
// float32; float64 exists so that gradient checks can use finite differences
// that are trustworthy.
type Float interface {
	~float32 | ~float64
}

// Dense is a dense, contiguous, row-major N-d array of T.
//
// A Dense value owns a flat slice and a shape. Reshape and the dimension-0
// slicing of Narrow0 return views that share the data; every other operation
// returns a new tensor. A rank-0 tensor (shape []) holds one element.
//
// A tensor made by Empty holds a pooled buffer that Release recycles; see
// Empty for that contract. Every other tensor is ordinary garbage-collected
// memory.
type Dense[T Float] struct {
	shape []int
	data  []T
	pb    *poolBuf[T] // the pooled buffer of data, for a tensor made by Empty
}

// Tensor is the float32 tensor that models, data and attacks use.
type Tensor = Dense[float32]

// Tensor64 is the float64 tensor used by gradient checks.
type Tensor64 = Dense[float64]

// numel returns the product of shape, panicking on a negative dimension.
func numel(op string, shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			// A copy, so that shape does not escape (callers' variadic
			// shapes then stay on their stacks).
			panic(fastgo.Errorf("%s: negative dimension in shape %v", op, append([]int(nil), shape...)))
		}
		n *= d
	}
	return n
}

// New returns a zero tensor of the given shape.
func New[T Float](shape ...int) *Dense[T] {
	n := numel("tensor.New", shape)
	return &Dense[T]{shape: append([]int(nil), shape...), data: make([]T, n)}
}

// Zeros returns a float32 tensor of zeros.
func Zeros(shape ...int) *Tensor { return New[float32](shape...) }

// Ones returns a float32 tensor of ones.
func Ones(shape ...int) *Tensor { return Full[float32](1, shape...) }

// Full returns a tensor filled with v.
func Full[T Float](v T, shape ...int) *Dense[T] {
	t := New[T](shape...)
	for i := range t.data {
		t.data[i] = v
	}
	return t
}

// FromSlice returns a tensor that wraps data (no copy) with the given shape.
// It panics if len(data) does not equal the product of shape.
func FromSlice[T Float](data []T, shape ...int) *Dense[T] {
	if n := numel("tensor.FromSlice", shape); n != len(data) {
		panic(fastgo.Errorf("tensor.FromSlice: %d elements do not fill shape %v (%d)", len(data), shape, n))
	}
	return &Dense[T]{shape: append([]int(nil), shape...), data: data}
}

// Scalar returns a rank-0 tensor holding v.
func Scalar[T Float](v T) *Dense[T] { return &Dense[T]{shape: []int{}, data: []T{v}} }

// Arange returns the 1-d tensor [start, start+step, ...) below stop (above
// it for a negative step), as torch.arange: its length is
// ceil((stop-start)/step) and element i is start + i*step, both computed in
// float64, so values do not drift along the tensor.
func Arange[T Float](start, stop, step T) *Dense[T] {
	if step == 0 {
		panic(fastgo.Errorf("tensor.Arange: step is 0"))
	}
	s0, st := float64(start), float64(step)
	n := int(math.Ceil((float64(stop) - s0) / st))
	if n < 0 {
		n = 0
	}
	vals := make([]T, n)
	for i := range vals {
		vals[i] = T(s0 + float64(i)*st)
	}
	return FromSlice(vals, n)
}

// Shape returns the tensor's shape. The caller must not modify it.
func (t *Dense[T]) Shape() []int { return t.shape }

// Rank returns the number of dimensions.
func (t *Dense[T]) Rank() int { return len(t.shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Dense[T]) Dim(i int) int { return t.shape[t.axis("tensor.Dim", i)] }

// Len returns the number of elements.
func (t *Dense[T]) Len() int { return len(t.data) }

// Data returns the underlying row-major data. Writes to it change the tensor
// and every view that shares it.
func (t *Dense[T]) Data() []T { return t.data }

// Item returns the single element of a one-element tensor.
func (t *Dense[T]) Item() T {
	if len(t.data) != 1 {
		panic(fastgo.Errorf("tensor.Item: shape %v has %d elements, want 1", t.shape, len(t.data)))
	}
	return t.data[0]
}

// offset returns the flat offset of idx, panicking when it is out of range.
func (t *Dense[T]) offset(op string, idx []int) int {
	if len(idx) != len(t.shape) {
		panic(fastgo.Errorf("%s: %d indices for shape %v", op, len(idx), t.shape))
	}
	off := 0
	for i, v := range idx {
		if v < 0 || v >= t.shape[i] {
			panic(fastgo.Errorf("%s: index %v out of range for shape %v", op, idx, t.shape))
		}
		off = off*t.shape[i] + v
	}
	return off
}

// At returns the element at idx.
func (t *Dense[T]) At(idx ...int) T { return t.data[t.offset("tensor.At", idx)] }

// Set stores v at idx.
func (t *Dense[T]) Set(v T, idx ...int) { t.data[t.offset("tensor.Set", idx)] = v }

// axis normalises a possibly negative axis, panicking when out of range.
func (t *Dense[T]) axis(op string, a int) int {
	r := len(t.shape)
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		panic(fastgo.Errorf("%s: axis %d out of range for shape %v", op, a, t.shape))
	}
	return a
}

// Clone returns a deep copy.
func (t *Dense[T]) Clone() *Dense[T] {
	return &Dense[T]{shape: append([]int(nil), t.shape...), data: append([]T(nil), t.data...)}
}

// CopyFrom copies src's elements into t. The shapes must be equal.
func (t *Dense[T]) CopyFrom(src *Dense[T]) {
	if !SameShape(t.shape, src.shape) {
		panic(fastgo.Errorf("tensor.CopyFrom: shapes %v and %v differ", t.shape, src.shape))
	}
	copy(t.data, src.data)
}

// Fill sets every element to v.
func (t *Dense[T]) Fill(v T) {
	for i := range t.data {
		t.data[i] = v
	}
}

// Reshape returns a view with a new shape and the same data. One dimension may
// be -1, inferred from the others.
func (t *Dense[T]) Reshape(shape ...int) *Dense[T] {
	s := append([]int(nil), shape...)
	infer, n := -1, 1
	for i, d := range s {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			panic(fastgo.Errorf("tensor.Reshape: bad shape %v for %v", shape, t.shape))
		default:
			n *= d
		}
	}
	if infer >= 0 {
		if n == 0 || len(t.data)%n != 0 {
			panic(fastgo.Errorf("tensor.Reshape: cannot infer -1 in %v for %v", shape, t.shape))
		}
		s[infer] = len(t.data) / n
		n *= s[infer]
	}
	if n != len(t.data) {
		panic(fastgo.Errorf("tensor.Reshape: shape %v (%d elements) does not fit %v (%d)", shape, n, t.shape, len(t.data)))
	}
	return &Dense[T]{shape: s, data: t.data}
}

// Narrow0 returns the view of rows [start, start+length) along dimension 0.
func (t *Dense[T]) Narrow0(start, length int) *Dense[T] {
	if len(t.shape) == 0 || start < 0 || length < 0 || start+length > t.shape[0] {
		panic(fastgo.Errorf("tensor.Narrow0: rows [%d,%d) out of range for shape %v", start, start+length, t.shape))
	}
	row := 1
	for _, d := range t.shape[1:] {
		row *= d
	}
	s := append([]int(nil), t.shape...)
	s[0] = length
	return &Dense[T]{shape: s, data: t.data[start*row : (start+length)*row : (start+length)*row]}
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Convert returns a copy of t with element type U.
func Convert[U, T Float](t *Dense[T]) *Dense[U] {
	out := New[U](t.shape...)
	for i, v := range t.data {
		out.data[i] = U(v)
	}
	return out
}
