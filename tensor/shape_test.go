package tensor

import (
	"testing"
)

// refPermute is the naive permutation: out[idx] = a[idx permuted back].
func refPermute(a *Tensor64, perm []int) *Tensor64 {
	shape := make([]int, len(perm))
	for i, p := range perm {
		shape[i] = a.shape[p]
	}
	out := New[float64](shape...)
	src := make([]int, len(perm))
	for i := range out.data {
		idx := unravel(i, shape)
		for k, p := range perm {
			src[p] = idx[k]
		}
		out.data[i] = a.At(src...)
	}
	return out
}

func TestPermuteTranspose(t *testing.T) {
	g := NewRNG(5)
	a := Normal[float64](g, 0, 1, 2, 3, 4, 5)
	for _, perm := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {0, 2, 1, 3}, {1, 0, 3, 2}, {2, 3, 0, 1}} {
		assertEqual(t, "Permute", Permute(a, perm...), refPermute(a, perm))
	}
	assertEqual(t, "Permute negative", Permute(a, -1, 0, 1, 2), refPermute(a, []int{3, 0, 1, 2}))
	big := Normal[float64](g, 0, 1, 64, 50, 30)
	assertEqual(t, "Permute big", Permute(big, 2, 0, 1), refPermute(big, []int{2, 0, 1}))
	assertEqual(t, "Transpose", Transpose(a, 1, -1), refPermute(a, []int{0, 3, 2, 1}))
	// np.arange(6).reshape(2,3).T
	assertEqual(t, "Transpose 2-d", Transpose(Arange[float64](0, 6, 1).Reshape(2, 3), 0, 1), f64(sh(3, 2), 0, 3, 1, 4, 2, 5))
	mustPanic(t, func() { Permute(a, 0, 1, 2) }, "tensor.Permute", "[0 1 2]", "[2 3 4 5]")
	mustPanic(t, func() { Permute(a, 0, 1, 1, 2) }, "tensor.Permute", "[2 3 4 5]")
	mustPanic(t, func() { Transpose(a, 0, 4) }, "tensor.Transpose", "[2 3 4 5]")
}

func TestIndexSelectAdd(t *testing.T) {
	a := Arange[float64](0, 24, 1).Reshape(2, 3, 4)
	// np.take(a, [2, 0, 2], axis=1)
	got := IndexSelect(a, 1, []int{2, 0, 2})
	want := f64(sh(2, 3, 4),
		8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11,
		20, 21, 22, 23, 12, 13, 14, 15, 20, 21, 22, 23)
	assertEqual(t, "IndexSelect", got, want)
	assertEqual(t, "IndexSelect axis -1", IndexSelect(a, -1, []int{3}), f64(sh(2, 3, 1), 3, 7, 11, 15, 19, 23))
	d := New[float64](2, 3, 4)
	IndexAddInPlace(d, 1, []int{2, 0, 2}, Full[float64](1, 2, 3, 4))
	want = f64(sh(2, 3, 4),
		1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2,
		1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2)
	assertEqual(t, "IndexAddInPlace", d, want)
	mustPanic(t, func() { IndexSelect(a, 1, []int{3}) }, "tensor.IndexSelect", "index 3", "[2 3 4]")
	mustPanic(t, func() { IndexAddInPlace(d, 1, []int{0}, New[float64](2, 2, 4)) }, "tensor.IndexAddInPlace", "[2 2 4]", "[2 3 4]")
}

func TestNarrow(t *testing.T) {
	a := Arange[float64](0, 12, 1).Reshape(3, 4)
	v := Narrow(a, 0, 1, 2)
	assertEqual(t, "Narrow axis 0", v, f64(sh(2, 4), 4, 5, 6, 7, 8, 9, 10, 11))
	v.Data()[0] = 100
	if a.At(1, 0) != 100 {
		t.Error("Narrow along axis 0 is not a view")
	}
	a.Set(4, 1, 0)
	c := Narrow(a, -1, 1, 2)
	assertEqual(t, "Narrow axis 1", c, f64(sh(3, 2), 1, 2, 5, 6, 9, 10))
	c.Data()[0] = 100
	if a.At(0, 1) != 1 {
		t.Error("Narrow along axis 1 shares data")
	}
	assertEqual(t, "Narrow after size-1 axes", Narrow(a.Reshape(1, 3, 4), 1, 2, 1), f64(sh(1, 1, 4), 8, 9, 10, 11))
	mustPanic(t, func() { Narrow(a, 1, 3, 2) }, "tensor.Narrow", "[3,5)", "[3 4]")
}

func TestConcatStack(t *testing.T) {
	a := f64(sh(2, 2), 1, 2, 3, 4)
	b := f64(sh(2, 1), 5, 6)
	// np.concatenate([a, b], axis=1)
	assertEqual(t, "Concat axis 1", Concat(1, a, b), f64(sh(2, 3), 1, 2, 5, 3, 4, 6))
	assertEqual(t, "Concat axis 0", Concat(0, a, f64(sh(1, 2), 7, 8)), f64(sh(3, 2), 1, 2, 3, 4, 7, 8))
	assertEqual(t, "Concat axis -1", Concat(-1, b, a), f64(sh(2, 3), 5, 1, 2, 6, 3, 4))
	// np.stack([a, a*10], axis=k)
	a10 := MulScalar(a, 10)
	assertEqual(t, "Stack 0", Stack(0, a, a10), f64(sh(2, 2, 2), 1, 2, 3, 4, 10, 20, 30, 40))
	assertEqual(t, "Stack 1", Stack(1, a, a10), f64(sh(2, 2, 2), 1, 2, 10, 20, 3, 4, 30, 40))
	assertEqual(t, "Stack -1", Stack(-1, a, a10), f64(sh(2, 2, 2), 1, 10, 2, 20, 3, 30, 4, 40))
	mustPanic(t, func() { Concat(0, a, b) }, "tensor.Concat", "[2 2]", "[2 1]")
	mustPanic(t, func() { Stack(0, a, b) }, "tensor.Stack", "[2 2]", "[2 1]")
	mustPanic(t, func() { Stack(3, a, a) }, "tensor.Stack", "axis 3", "[2 2]")
}

func TestViews(t *testing.T) {
	a := New[float64](2, 1, 3, 1)
	cases := []struct {
		name string
		got  *Tensor64
		want []int
	}{
		{"Squeeze all", Squeeze(a), sh(2, 3)},
		{"Squeeze 1", Squeeze(a, 1), sh(2, 3, 1)},
		{"Squeeze -1", Squeeze(a, -1), sh(2, 1, 3)},
		{"Squeeze non-1 kept", Squeeze(a, 0), sh(2, 1, 3, 1)},
		{"Unsqueeze 0", Unsqueeze(a, 0), sh(1, 2, 1, 3, 1)},
		{"Unsqueeze -1", Unsqueeze(a, -1), sh(2, 1, 3, 1, 1)},
		{"Unsqueeze 2", Unsqueeze(a, 2), sh(2, 1, 1, 3, 1)},
		{"Flatten all", Flatten(a, 0, -1), sh(6)},
		{"Flatten 1..", Flatten(a, 1, -1), sh(2, 3)},
		{"Flatten 1..2", Flatten(a, 1, 2), sh(2, 3, 1)},
	}
	for _, c := range cases {
		if !SameShape(c.got.shape, c.want) {
			t.Errorf("%s: shape %v, want %v", c.name, c.got.shape, c.want)
		}
		if &c.got.data[0] != &a.data[0] {
			t.Errorf("%s: not a view", c.name)
		}
	}
	mustPanic(t, func() { Unsqueeze(a, 5) }, "tensor.Unsqueeze", "[2 1 3 1]")
	mustPanic(t, func() { Flatten(a, 2, 1) }, "tensor.Flatten", "[2 1 3 1]")
}

func TestBroadcastToExpand(t *testing.T) {
	a := f64(sh(2, 1), 1, 2)
	want := f64(sh(3, 2, 2), 1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2)
	assertEqual(t, "BroadcastTo", BroadcastTo(a, 3, 2, 2), want)
	assertEqual(t, "Expand", Expand(a, 3, -1, 2), want)
	assertEqual(t, "BroadcastTo scalar", BroadcastTo(Scalar[float64](7), 2), f64(sh(2), 7, 7))
	mustPanic(t, func() { BroadcastTo(a, 3, 3) }, "tensor.BroadcastTo", "[2 1]", "[3 3]")
	mustPanic(t, func() { Expand(a, -1, 2, 2) }, "tensor.Expand", "[2 1]")
}
