package autograd

import (
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

func TestDropout(t *testing.T) {
	x := Param(tensor.Full[float64](1, 100, 100))
	y := Dropout(x, 0.3, tensor.NewRNG(7))
	zeros := 0
	for _, v := range y.Data().Data() {
		switch {
		case v == 0:
			zeros++
		case math.Abs(v-1/0.7) > 1e-15:
			t.Fatalf("kept element %v, want 1/(1-p) = %v", v, 1/0.7)
		}
	}
	if frac := float64(zeros) / 1e4; math.Abs(frac-0.3) > 0.03 {
		t.Fatalf("dropped fraction %v, want about 0.3", frac)
	}
	y.BackwardWith(tensor.Full[float64](1, 100, 100))
	for i, g := range x.Grad().Data() {
		if g != y.Data().Data()[i] {
			t.Fatal("gradient mask differs from the forward mask")
		}
	}
	if Dropout(x, 0, nil) != x {
		t.Fatal("p=0 dropout is not the identity")
	}
	for _, v := range Dropout(x, 1, tensor.NewRNG(1)).Data().Data() {
		if v != 0 {
			t.Fatal("p=1 dropout kept an element")
		}
	}
	nnExpectPanic(t, func() { Dropout(x, 1.5, tensor.NewRNG(1)) }, "autograd.Dropout", "1.5")
}

func TestDropoutGradCheck(t *testing.T) {
	// The mask must be the same on every finite-difference re-run: each call
	// draws it from a fresh RNG with the same seed.
	err := CheckGrad(func(xs []*Var[float64]) *Var[float64] {
		return Dropout(xs[0], 0.4, tensor.NewRNG(11))
	}, []*tensor.Tensor64{nnRand(1, 3, 4, 5)}, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
}
