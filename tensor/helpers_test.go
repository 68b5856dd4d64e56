package tensor

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// unravel returns the multi-index of flat position i in shape.
func unravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
	return idx
}

// bcastAt reads t at the multi-index idx of a shape t broadcasts to.
func bcastAt[T Float](t *Dense[T], idx []int) T {
	off := len(idx) - len(t.shape)
	j := make([]int, len(t.shape))
	for d := range t.shape {
		if t.shape[d] != 1 {
			j[d] = idx[off+d]
		}
	}
	return t.At(j...)
}

// refBinary is the naive broadcasting reference.
func refBinary[T Float](a, b *Dense[T], f func(x, y T) T) *Dense[T] {
	shape := BroadcastShapes("ref", a.shape, b.shape)
	out := New[T](shape...)
	for i := range out.data {
		idx := unravel(i, shape)
		out.data[i] = f(bcastAt(a, idx), bcastAt(b, idx))
	}
	return out
}

// mustPanic runs f and checks that it panics with a message containing
// every one of wants.
func mustPanic(t *testing.T, f func(), wants ...string) {
	t.Helper()
	var msg string
	func() {
		defer func() {
			if r := recover(); r != nil {
				msg = fmt.Sprint(r)
			}
		}()
		f()
	}()
	if msg == "" {
		t.Fatalf("no panic, want one containing %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("panic %q does not contain %q", msg, w)
		}
	}
}

// assertClose fails unless got and want have the same shape and elements
// within tol (NaNs must match NaNs).
func assertClose[T Float](t *testing.T, name string, got, want *Dense[T], tol float64) {
	t.Helper()
	if !SameShape(got.shape, want.shape) {
		t.Fatalf("%s: shape %v, want %v", name, got.shape, want.shape)
	}
	for i := range got.data {
		g, w := float64(got.data[i]), float64(want.data[i])
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if math.Abs(g-w) > tol*(1+math.Abs(w)) || math.IsNaN(g) != math.IsNaN(w) {
			t.Fatalf("%s: element %d (%v) = %v, want %v", name, i, unravel(i, got.shape), g, w)
		}
	}
}

// assertEqual fails unless got and want are identical, bit for bit.
func assertEqual[T Float](t *testing.T, name string, got, want *Dense[T]) {
	t.Helper()
	if !SameShape(got.shape, want.shape) {
		t.Fatalf("%s: shape %v, want %v", name, got.shape, want.shape)
	}
	for i := range got.data {
		if math.Float64bits(float64(got.data[i])) != math.Float64bits(float64(want.data[i])) {
			t.Fatalf("%s: element %d = %v, want %v", name, i, got.data[i], want.data[i])
		}
	}
}

// f64 is a shorthand for a float64 tensor.
func f64(shape []int, vals ...float64) *Tensor64 { return FromSlice(vals, shape...) }

// sh is a shorthand for a shape.
func sh(d ...int) []int { return d }
