package tensor

import (
	"fmt"
	"math"
	"testing"
)

// refReduce reduces a over the axes in mask naively: it groups the elements
// by output index and applies f to each group (in row-major order).
func refReduce(a *Tensor64, mask []bool, keepdim bool, f func(xs []float64) float64) *Tensor64 {
	var outShape, keep []int
	for d, n := range a.shape {
		switch {
		case !mask[d]:
			outShape = append(outShape, n)
			keep = append(keep, n)
		case keepdim:
			outShape = append(outShape, 1)
		}
	}
	out := New[float64](outShape...)
	groups := make([][]float64, out.Len())
	for i, v := range a.data {
		idx := unravel(i, a.shape)
		o := 0
		k := 0
		for d := range a.shape {
			if !mask[d] {
				o = o*keep[k] + idx[d]
				k++
			}
		}
		groups[o] = append(groups[o], v)
	}
	for o, xs := range groups {
		out.data[o] = f(xs)
	}
	return out
}

func refSum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

func refMean(xs []float64) float64 { return refSum(xs) / float64(len(xs)) }

func refVar(c int) func(xs []float64) float64 {
	return func(xs []float64) float64 {
		m := refMean(xs)
		s := 0.0
		for _, x := range xs {
			s += (x - m) * (x - m)
		}
		return s / float64(len(xs)-c)
	}
}

func refMax(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = math.Max(m, x)
	}
	return m
}

func refMin(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = math.Min(m, x)
	}
	return m
}

func TestReduceMatchesReference(t *testing.T) {
	g := NewRNG(3)
	for _, shape := range [][]int{{5}, {2, 3, 4}, {3, 1, 5, 2}, {64, 3, 100}, {2, 300, 40}} {
		a := Normal[float64](g, 0, 1, shape...)
		r := len(shape)
		for m := 0; m < 1<<r; m++ {
			var axes []int
			mask := make([]bool, r)
			for d := range r {
				if m&(1<<d) != 0 {
					mask[d] = true
					// Use negative axes for every other one.
					if d%2 == 1 {
						axes = append(axes, d-r)
					} else {
						axes = append(axes, d)
					}
				}
			}
			if m == 0 {
				// No axes means all of them.
				for d := range mask {
					mask[d] = true
				}
			}
			for _, keep := range []bool{false, true} {
				name := fmt.Sprintf("%v axes %v keepdim %v", shape, axes, keep)
				k := func(r *Dense[float64]) *Dense[float64] {
					if keep {
						return KeepDims(r, a.Shape(), axes...)
					}
					return r
				}
				assertClose(t, "Sum "+name, k(Sum(a, axes...)), refReduce(a, mask, keep, refSum), 1e-12)
				assertClose(t, "Mean "+name, k(Mean(a, axes...)), refReduce(a, mask, keep, refMean), 1e-12)
				assertClose(t, "Var "+name, k(Var(a, 1, axes...)), refReduce(a, mask, keep, refVar(1)), 1e-12)
				assertClose(t, "Var0 "+name, k(Var(a, 0, axes...)), refReduce(a, mask, keep, refVar(0)), 1e-12)
				assertEqual(t, "Max "+name, k(Max(a, axes...)), refReduce(a, mask, keep, refMax))
				assertEqual(t, "Min "+name, k(Min(a, axes...)), refReduce(a, mask, keep, refMin))
				v, at := MaxWithIndex(a, axes...)
				for i, off := range at {
					if a.data[off] != v.data[i] {
						t.Fatalf("MaxWithIndex %s: index %d points at %v, value %v", name, off, a.data[off], v.data[i])
					}
				}
			}
		}
	}
}

func TestReduceHandValues(t *testing.T) {
	// x = np.array([[1, 5, 3], [4, 2, 6]])
	x := f64(sh(2, 3), 1, 5, 3, 4, 2, 6)
	assertEqual(t, "Sum axis 0", Sum(x, 0), f64(sh(3), 5, 7, 9))
	assertEqual(t, "Sum axis -1 keepdim", KeepDims(Sum(x, -1), x.Shape(), -1), f64(sh(2, 1), 9, 12))
	assertEqual(t, "Sum all", Sum(x), Scalar[float64](21))
	assertEqual(t, "Sum all keepdim", KeepDims(Sum(x), x.Shape()), f64(sh(1, 1), 21))
	assertEqual(t, "Mean axis 1", Mean(x, 1), f64(sh(2), 3, 4))
	assertEqual(t, "Max axis 1", Max(x, 1), f64(sh(2), 5, 6))
	assertEqual(t, "Min axis 0", KeepDims(Min(x, 0), x.Shape(), 0), f64(sh(1, 3), 1, 2, 3))
	// np.var(x, axis=1, ddof=1) = [4, 4]; ddof=0 = [8/3, 8/3]
	assertClose(t, "Var unbiased", Var(x, 1, 1), f64(sh(2), 4, 4), 1e-15)
	assertClose(t, "Var population", Var(x, 0, 1), f64(sh(2), 8.0/3, 8.0/3), 1e-15)
	if got := SumAll(x); got != 21 {
		t.Errorf("SumAll = %v", got)
	}
	if got := MeanAll(x); got != 3.5 {
		t.Errorf("MeanAll = %v", got)
	}
	if got := ArgMax(x, 1); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("ArgMax axis 1 = %v, want [1 2]", got)
	}
	if got := ArgMin(x, 0); fmt.Sprint(got) != "[0 1 0]" {
		t.Errorf("ArgMin axis 0 = %v, want [0 1 0]", got)
	}
	// Ties go to the first.
	ties := f64(sh(2, 3), 2, 7, 7, 1, 1, 0)
	if got := ArgMax(ties, -1); fmt.Sprint(got) != "[1 0]" {
		t.Errorf("ArgMax with ties = %v, want [1 0]", got)
	}
	if _, at := MaxWithIndex(ties); fmt.Sprint(at) != "[1]" {
		t.Errorf("MaxWithIndex all with ties = %v, want [1]", at)
	}
	// A 3-d argmax over the middle axis.
	y := Arange[float64](0, 24, 1).Reshape(2, 3, 4)
	y.Set(100, 0, 0, 1)
	if got := ArgMax(y, 1); fmt.Sprint(got) != "[2 0 2 2 2 2 2 2]" {
		t.Errorf("ArgMax 3-d = %v", got)
	}
	if got := Max(f64(sh(3), 1, math.NaN(), 2)); !math.IsNaN(got.Item()) {
		t.Errorf("Max with NaN = %v, want NaN", got.Item())
	}
	assertEqual(t, "Sum empty", Sum(New[float64](0, 3), 0), f64(sh(3), 0, 0, 0))
	mustPanic(t, func() { Max(New[float64](0, 3), 0) }, "tensor.Max", "[0 3]")
}

func TestReducePanics(t *testing.T) {
	x := New[float32](2, 3)
	mustPanic(t, func() { Sum(x, 2) }, "tensor.Sum", "axis 2", "[2 3]")
	mustPanic(t, func() { Mean(x, -3) }, "tensor.Mean", "axis -3", "[2 3]")
	mustPanic(t, func() { Max(x, 0, -2) }, "tensor.Max", "repeated", "[2 3]")
	mustPanic(t, func() { ArgMax(x, 5) }, "tensor.ArgMax", "[2 3]")
}

func TestSumAllLarge(t *testing.T) {
	g := NewRNG(4)
	a := Uniform[float32](g, 0, 1, 1<<18+5)
	want := 0.0
	for _, v := range a.data {
		want += float64(v)
	}
	if got := SumAll(a); math.Abs(float64(got)-want) > 1e-6*want {
		t.Errorf("SumAll = %v, want %v", got, want)
	}
	if got := MeanAll(a); math.Abs(float64(got)-want/float64(a.Len())) > 1e-6 {
		t.Errorf("MeanAll = %v, want %v", got, want/float64(a.Len()))
	}
}

func TestReduceTo(t *testing.T) {
	g := f64(sh(2, 3), 1, 2, 3, 4, 5, 6)
	assertEqual(t, "to [3]", ReduceTo(g, sh(3)), f64(sh(3), 5, 7, 9))
	assertEqual(t, "to [2 1]", ReduceTo(g, sh(2, 1)), f64(sh(2, 1), 6, 15))
	assertEqual(t, "to []", ReduceTo(g, sh()), Scalar[float64](21))
	assertEqual(t, "to [1 1]", ReduceTo(g, sh(1, 1)), f64(sh(1, 1), 21))
	if ReduceTo(g, sh(2, 3)) != g {
		t.Error("ReduceTo to the same shape copied")
	}
	h := Arange[float64](0, 24, 1).Reshape(2, 3, 4)
	assertEqual(t, "to [3 1]", ReduceTo(h, sh(3, 1)), KeepDims(Sum(Sum(h, 0), 1), sh(3, 4), 1))
	mustPanic(t, func() { ReduceTo(g, sh(4)) }, "tensor.ReduceTo", "[4]", "[2 3]")
}
