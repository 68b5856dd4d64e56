package autograd

import (
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// nnAwayFromZero returns a tensor uniform in [-2, 2) with no element within
// 0.05 of 0, where ReLU-like functions have a kink.
func nnAwayFromZero(seed uint64, shape ...int) *tensor.Tensor64 {
	t := tensor.Uniform[float64](tensor.NewRNG(seed), -2, 2, shape...)
	for i, v := range t.Data() {
		if math.Abs(v) < 0.05 {
			t.Data()[i] = 0.5
		}
	}
	return t
}

func TestActivationGradCheck(t *testing.T) {
	cases := []struct {
		name string
		f    func(x *Var[float64]) *Var[float64]
	}{
		{"ReLU", ReLU[float64]},
		{"LeakyReLU", func(x *Var[float64]) *Var[float64] { return LeakyReLU(x, 0.01) }},
		{"LeakyReLU-0.3", func(x *Var[float64]) *Var[float64] { return LeakyReLU(x, 0.3) }},
		{"GELU", GELU[float64]},
		{"Sigmoid", Sigmoid[float64]},
		{"Tanh", Tanh[float64]},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckGrad(func(xs []*Var[float64]) *Var[float64] { return c.f(xs[0]) },
				[]*tensor.Tensor64{nnAwayFromZero(uint64(i+1), 3, 7)}, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestActivationValues(t *testing.T) {
	x := Const(tensor.FromSlice([]float64{-1, 0, 1, 800, -800}, 5))
	checks := []struct {
		name string
		got  []float64
		want []float64
	}{
		{"ReLU", ReLU(x).Data().Data(), []float64{0, 0, 1, 800, 0}},
		{"LeakyReLU", LeakyReLU(x, 0.1).Data().Data(), []float64{-0.1, 0, 1, 800, -80}},
		{"GELU", GELU(x).Data().Data(), []float64{-0.15865525393145707, 0, 0.8413447460685429, 800, 0}},
		{"Sigmoid", Sigmoid(x).Data().Data(), []float64{0.2689414213699951, 0.5, 0.7310585786300049, 1, 0}},
		{"Tanh", Tanh(x).Data().Data(), []float64{-0.7615941559557649, 0, 0.7615941559557649, 1, -1}},
	}
	for _, c := range checks {
		for i := range c.want {
			if math.Abs(c.got[i]-c.want[i]) > 1e-15 {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				break
			}
		}
	}
}

func TestReLUFloat32MatchesFloat64(t *testing.T) {
	x64 := nnRand(3, 70000) // above the parallel grain
	x32 := tensor.Convert[float32](x64)
	a := Param(x32)
	y := ReLU(a)
	y.BackwardWith(tensor.Convert[float32](nnRand(4, 70000)))
	g64 := nnRand(4, 70000).Data()
	for i, v := range x64.Data() {
		wantY, wantG := float32(0), float32(0)
		if v > 0 {
			wantY, wantG = float32(v), float32(g64[i])
		}
		if y.Data().Data()[i] != wantY || a.Grad().Data()[i] != wantG {
			t.Fatalf("element %d: ReLU %v grad %v, want %v %v", i, y.Data().Data()[i], a.Grad().Data()[i], wantY, wantG)
		}
	}
}
