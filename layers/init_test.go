package layers

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// initFixture is testdata/init.json, written by testdata/gen_init.py with
// PyTorch 1.13.
type initFixture struct {
	Torch  string `json:"torch"`
	Layers []struct {
		Name         string  `json:"name"`
		Kind         string  `json:"kind"`
		Shape        []int   `json:"shape"`
		Groups       int     `json:"groups"`
		Bias         bool    `json:"bias"`
		FanIn        int     `json:"fan_in"`
		WeightBound  float64 `json:"weight_bound"`
		BiasBound    float64 `json:"bias_bound"`
		WeightMaxAbs float64 `json:"weight_max_abs"`
		WeightStd    float64 `json:"weight_std"`
		BiasMaxAbs   float64 `json:"bias_max_abs"`
	} `json:"layers"`
}

// absStats returns max |x| and the standard deviation of x.
func absStats(x []float32) (maxAbs, std float64) {
	var mean float64
	for _, v := range x {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return maxAbs, math.Sqrt(std / float64(len(x)-1))
}

// TestInitMatchesPyTorch builds each layer of the fixture with fastgo's
// constructors and checks PyTorch's reset_parameters: the same fan-in, the
// weight inside U(-b, b) with b = sqrt(3)*gain(leaky_relu, sqrt(5))/sqrt(fan_in)
// = 1/sqrt(fan_in) and filling it as a uniform draw does (max |w| close to b,
// standard deviation b/sqrt(3), as PyTorch's own draw), the bias inside
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
func TestInitMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/init.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx initFixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Layers) < 5 {
		t.Fatalf("fixture has %d layers", len(fx.Layers))
	}
	for _, c := range fx.Layers {
		t.Run(c.Name, func(t *testing.T) {
			var w, bias *tensor.Tensor
			switch c.Kind {
			case "linear":
				l := NewLinear(c.Shape[1], c.Shape[0], tensor.NewRNG(1), biasOpt(c.Bias))
				w = l.Weight.Data()
				if l.Bias != nil {
					bias = l.Bias.Data()
				}
			case "conv":
				cv := NewConv2d(c.Shape[1]*c.Groups, c.Shape[0], c.Shape[2], tensor.NewRNG(1), Groups(c.Groups), biasOpt(c.Bias))
				w = cv.Weight.Data()
				if cv.Bias != nil {
					bias = cv.Bias.Data()
				}
			default:
				t.Fatalf("unknown kind %q", c.Kind)
			}
			if !tensor.SameShape(w.Shape(), c.Shape) {
				t.Fatalf("weight shape %v, PyTorch %v", w.Shape(), c.Shape)
			}
			if got := FanIn(w.Shape()); got != c.FanIn {
				t.Errorf("FanIn = %d, PyTorch %d", got, c.FanIn)
			}
			if want := 1 / math.Sqrt(float64(c.FanIn)); math.Abs(c.WeightBound-want) > 1e-12*want {
				t.Fatalf("PyTorch's kaiming_uniform(a=sqrt(5)) bound %v is not 1/sqrt(fan_in) %v", c.WeightBound, want)
			}
			maxAbs, std := absStats(w.Data())
			if maxAbs > c.WeightBound*(1+1e-6) {
				t.Errorf("max |w| = %v beyond PyTorch's bound %v", maxAbs, c.WeightBound)
			}
			// A uniform draw of n values comes within about b/n of the bound;
			// PyTorch's did.
			n := float64(w.Len())
			if slack := 20 / n; maxAbs < c.WeightBound*(1-slack) || c.WeightMaxAbs < c.WeightBound*(1-slack) {
				t.Errorf("max |w| = %v (PyTorch %v), want within %.2g of the bound %v", maxAbs, c.WeightMaxAbs, slack, c.WeightBound)
			}
			// std of U(-b, b) is b/sqrt(3); both draws estimate it.
			tol := 5 * c.WeightBound / math.Sqrt(3) / math.Sqrt(2*n)
			if want := c.WeightBound / math.Sqrt(3); math.Abs(std-want) > tol || math.Abs(c.WeightStd-want) > tol {
				t.Errorf("std(w) = %v, PyTorch %v, U(-b, b) %v (tolerance %v)", std, c.WeightStd, want, tol)
			}
			if (bias != nil) != c.Bias {
				t.Fatalf("bias present %v, PyTorch %v", bias != nil, c.Bias)
			}
			if bias != nil {
				bmax, _ := absStats(bias.Data())
				if bmax > c.BiasBound*(1+1e-6) || c.BiasMaxAbs > c.BiasBound*(1+1e-6) {
					t.Errorf("max |b| = %v (PyTorch %v) beyond %v", bmax, c.BiasMaxAbs, c.BiasBound)
				}
				if slack := 30 / float64(bias.Len()); bmax < c.BiasBound*(1-slack) {
					t.Errorf("max |b| = %v, want near the bound %v", bmax, c.BiasBound)
				}
			}
		})
	}
}

func TestInitHelpers(t *testing.T) {
	for _, c := range []struct {
		shape []int
		want  int
	}{{[]int{10, 4}, 4}, {[]int{8, 3, 5, 5}, 75}, {[]int{6}, 6}, {[]int{4, 2, 3}, 6}} {
		if got := FanIn(c.shape); got != c.want {
			t.Errorf("FanIn(%v) = %d, want %d", c.shape, got, c.want)
		}
	}
	w := tensor.Zeros(256, 400)
	KaimingNormal(w, tensor.NewRNG(3))
	_, std := absStats(w.Data())
	if want := math.Sqrt(2.0 / 400); math.Abs(std-want) > 0.01*want {
		t.Errorf("KaimingNormal std %v, want sqrt(2/fan_in) = %v", std, want)
	}
	u := tensor.Zeros(10000)
	UniformInit(u, 2, 3, tensor.NewRNG(4))
	lo, hi := 10.0, 0.0
	for _, v := range u.Data() {
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	if lo < 2 || hi > 3 || lo > 2.01 || hi < 2.99 {
		t.Errorf("UniformInit(2, 3) spans [%v, %v]", lo, hi)
	}
	// Seeded constructors repeat; the default generator follows SeedDefault.
	a, b := NewLinear(7, 5, tensor.NewRNG(9)), NewLinear(7, 5, tensor.NewRNG(9))
	for i, v := range a.Weight.Data().Data() {
		if b.Weight.Data().Data()[i] != v {
			t.Fatal("the same RNG seed gave different weights")
		}
	}
	SeedDefault(5)
	c := NewConv2d(3, 4, 3, nil)
	SeedDefault(5)
	d := NewConv2d(3, 4, 3, nil)
	for i, v := range c.Weight.Data().Data() {
		if d.Weight.Data().Data()[i] != v {
			t.Fatal("SeedDefault did not make the default generator repeat")
		}
	}
	if OrDefault(tensor.NewRNG(1)) == nil || OrDefault(nil) == nil {
		t.Fatal("OrDefault returned nil")
	}
}

// biasOpt is NoBias when bias is false, and no option otherwise.
func biasOpt(bias bool) Option {
	if bias {
		return Option{}
	}
	return NoBias()
}
