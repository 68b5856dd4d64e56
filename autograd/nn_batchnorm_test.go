package autograd

import (
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

func TestBatchNormGradCheck(t *testing.T) {
	cases := []struct {
		name     string
		shape    []int
		affine   bool
		training bool
		running  bool
	}{
		{"train-2d", []int{5, 3}, true, true, true},
		{"train-4d", []int{3, 2, 3, 4}, true, true, true},
		{"train-4d-noaffine", []int{2, 3, 2, 3}, false, true, true},
		{"train-no-running", []int{4, 2, 2, 2}, true, true, false},
		{"eval-2d", []int{4, 3}, true, false, true},
		{"eval-4d", []int{2, 3, 3, 3}, true, false, true},
		{"eval-no-running", []int{4, 2, 2, 2}, true, false, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch := c.shape[1]
			inputs := []*tensor.Tensor64{nnRand(uint64(i+1), c.shape...)}
			if c.affine {
				inputs = append(inputs, nnRand(uint64(i+20), ch), nnRand(uint64(i+40), ch))
			}
			rm := nnRand(uint64(i+60), ch)
			rv := tensor.Uniform[float64](tensor.NewRNG(uint64(i+80)), 0.5, 2, ch)
			err := CheckGrad(func(xs []*Var[float64]) *Var[float64] {
				var w, b *Var[float64]
				if len(xs) == 3 {
					w, b = xs[1], xs[2]
				}
				var m, v *tensor.Tensor64
				if c.running {
					m, v = rm, rv
				}
				return BatchNorm(xs[0], w, b, m, v, BatchNormOptions{Training: c.training, Momentum: 0.1, Eps: 1e-5})
			}, inputs, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBatchNormValuesAndRunningStats(t *testing.T) {
	// Channel 0 holds 1, 2, 3, 6; channel 1 holds 0, 0, 4, 4.
	x := tensor.FromSlice([]float64{
		1, 2, 0, 0,
		3, 6, 4, 4,
	}, 2, 2, 1, 2)
	rm := tensor.FromSlice([]float64{0, 1}, 2)
	rv := tensor.FromSlice([]float64{1, 1}, 2)
	w := Const(tensor.FromSlice([]float64{2, 1}, 2))
	b := Const(tensor.FromSlice([]float64{0, 1}, 2))
	y := BatchNorm(Const(x), w, b, rm, rv, BatchNormOptions{Training: true, Momentum: 0.1, Eps: 0}).Data().Data()
	// channel 0: mean 3, biased var (4+1+0+9)/4 = 3.5, unbiased 14/3.
	s := 1 / math.Sqrt(3.5)
	want0 := []float64{2 * -2 * s, 2 * -1 * s, 0, 2 * 3 * s}
	got0 := []float64{y[0], y[1], y[4], y[5]}
	// channel 1: mean 2, var 4: (x-2)/2 + 1.
	want1 := []float64{0, 0, 2, 2}
	got1 := []float64{y[2], y[3], y[6], y[7]}
	for i := range want0 {
		if math.Abs(got0[i]-want0[i]) > 1e-12 || math.Abs(got1[i]-want1[i]) > 1e-12 {
			t.Fatalf("BatchNorm = %v, want channel 0 %v, channel 1 %v", y, want0, want1)
		}
	}
	wantRM := []float64{0.9*0 + 0.1*3, 0.9*1 + 0.1*2}
	wantRV := []float64{0.9 + 0.1*14.0/3, 0.9 + 0.1*16.0/3}
	for i := range wantRM {
		if math.Abs(rm.Data()[i]-wantRM[i]) > 1e-12 || math.Abs(rv.Data()[i]-wantRV[i]) > 1e-12 {
			t.Fatalf("running stats %v %v, want %v %v", rm.Data(), rv.Data(), wantRM, wantRV)
		}
	}
	// Eval uses the running stats and leaves them alone.
	rm0, rv0 := rm.Data()[0], rv.Data()[0]
	ye := BatchNorm(Const(x), nil, nil, rm, rv, BatchNormOptions{Training: false, Momentum: 0.1, Eps: 0}).Data().Data()
	if e := (1 - wantRM[0]) / math.Sqrt(wantRV[0]); math.Abs(ye[0]-e) > 1e-12 {
		t.Fatalf("eval BatchNorm[0] = %v, want %v", ye[0], e)
	}
	if rm.Data()[0] != rm0 || rv.Data()[0] != rv0 {
		t.Fatal("eval changed the running stats")
	}
}

func TestBatchNormFrozenAffine(t *testing.T) {
	x := Param(nnRand(1, 4, 3, 2, 2))
	w, b := Const(nnRand(2, 3)), Param(nnRand(3, 3))
	y := BatchNorm(x, w, b, nil, nil, BatchNormOptions{Training: true, Momentum: 0.1, Eps: 1e-5})
	y.BackwardWith(nnRand(4, 4, 3, 2, 2))
	if w.Grad() != nil || b.Grad() == nil || x.Grad() == nil {
		t.Fatal("want gradients for x and bias only")
	}
}

func TestBatchNormErrors(t *testing.T) {
	nnExpectPanic(t, func() {
		BatchNorm(Const(tensor.New[float64](2, 3, 4)), nil, nil, nil, nil, BatchNormOptions{Training: true, Momentum: 0.1, Eps: 1e-5})
	}, "autograd.BatchNorm", "[2 3 4]")
	nnExpectPanic(t, func() {
		BatchNorm(Const(tensor.New[float64](2, 3)), Const(tensor.New[float64](4)), nil, nil, nil, BatchNormOptions{Training: true, Momentum: 0.1, Eps: 1e-5})
	}, "autograd.BatchNorm: weight [4] does not match input [2 3]")
	nnExpectPanic(t, func() {
		BatchNorm(Const(tensor.New[float64](1, 3)), nil, nil, nil, nil, BatchNormOptions{Training: true, Momentum: 0.1, Eps: 1e-5})
	}, "autograd.BatchNorm", "more than 1 value per channel")
}
