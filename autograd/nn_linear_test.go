package autograd

import (
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

func TestLinearGradCheck(t *testing.T) {
	cases := []struct {
		name   string
		xshape []int
		bias   bool
	}{{"2d-bias", []int{3, 4}, true}, {"2d", []int{5, 4}, false}, {"3d-bias", []int{2, 3, 4}, true}, {"1d", []int{4}, true}}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inputs := []*tensor.Tensor64{nnRand(uint64(i+1), c.xshape...), nnRand(uint64(i+7), 3, 4)}
			if c.bias {
				inputs = append(inputs, nnRand(uint64(i+9), 3))
			}
			err := CheckGrad(func(xs []*Var[float64]) *Var[float64] {
				var b *Var[float64]
				if len(xs) == 3 {
					b = xs[2]
				}
				return Linear(xs[0], xs[1], b)
			}, inputs, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLinearForwardAndFrozen(t *testing.T) {
	x := Param(tensor.FromSlice([]float64{1, 2, 3, 4}, 2, 2))
	w := Const(tensor.FromSlice([]float64{1, 0, 1, 1, 0, -1}, 3, 2))
	b := Const(tensor.FromSlice([]float64{0.5, 0, 1}, 3))
	y := Linear(x, w, b)
	want := []float64{1.5, 3, -1, 3.5, 7, -3}
	for i, v := range want {
		if y.Data().Data()[i] != v {
			t.Fatalf("Linear = %v, want %v", y.Data().Data(), want)
		}
	}
	y.BackwardWith(tensor.Full[float64](1, 2, 3))
	if w.Grad() != nil || b.Grad() != nil || x.Grad() == nil {
		t.Fatal("frozen weight and bias must get no gradient, the input one")
	}
	// dx = 1s * W = column sums of W.
	if g := x.Grad().Data(); g[0] != 2 || g[1] != 0 || g[2] != 2 || g[3] != 0 {
		t.Fatalf("dx = %v, want [2 0 2 0]", g)
	}
	nnExpectPanic(t, func() { Linear(x, Const(tensor.New[float64](3, 5)), nil) }, "autograd.Linear", "[2 2]", "[3 5]")
}
