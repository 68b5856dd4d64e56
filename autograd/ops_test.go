package autograd

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

type vars = []*Var[float64]

// uni returns a float64 tensor of samples uniform in [lo, hi).
func uni(seed uint64, lo, hi float64, shape ...int) *tensor.Tensor64 {
	return tensor.Uniform[float64](tensor.NewRNG(seed), lo, hi, shape...)
}

// spread returns a tensor of distinct values at least 0.05 apart, in random
// order, so that max/min and maximum/minimum have no near-ties.
func spread(seed uint64, shape ...int) *tensor.Tensor64 {
	t := tensor.New[float64](shape...)
	perm := tensor.NewRNG(seed).Perm(t.Len())
	for i, p := range perm {
		t.Data()[i] = float64(p)*0.1 - float64(t.Len())*0.05
	}
	return t
}

// awayFrom returns uniform samples in [lo, hi) moved at least gap away from
// every point in kinks.
func awayFrom(seed uint64, lo, hi, gap float64, kinks []float64, shape ...int) *tensor.Tensor64 {
	t := uni(seed, lo, hi, shape...)
	d := t.Data()
	for i := range d {
		for _, k := range kinks {
			if math.Abs(d[i]-k) < gap {
				if d[i] < k {
					d[i] = k - gap
				} else {
					d[i] = k + gap
				}
			}
		}
	}
	return t
}

func TestGradSkipsFrozen(t *testing.T) {
	x := Param(tensor.Uniform[float32](tensor.NewRNG(1), -1, 1, 4, 3))
	w := Const(tensor.Uniform[float32](tensor.NewRNG(2), -1, 1, 3, 2))
	frozen := Param(tensor.Uniform[float32](tensor.NewRNG(3), -1, 1, 2, 2))
	frozen.SetRequiresGrad(false)
	y := MatMul(MatMul(x, w), frozen)
	SumAll(y).Backward()
	if x.Grad() == nil {
		t.Fatal("x has no gradient")
	}
	if w.Grad() != nil || frozen.Grad() != nil {
		t.Error("a frozen input got a gradient")
	}
	// The gradient is right: d sum(x·w·f)/dx = 1·(w·f)ᵀ.
	want := tensor.MatMulT(tensor.Full[float32](1, 4, 2), tensor.MatMul(w.Data(), frozen.Data()), tensor.NoTrans, tensor.Trans)
	for i, v := range x.Grad().Data() {
		if math.Abs(float64(v-want.Data()[i])) > 1e-5 {
			t.Fatalf("x grad %d = %v, want %v", i, v, want.Data()[i])
		}
	}

	// Nothing is recorded where no input requires a gradient.
	c := Add(MatMul(w, frozen), Const(tensor.Ones(3, 2)))
	if !c.IsLeaf() || c.RequiresGrad() || c.Op() != "" {
		t.Errorf("op on constants recorded: leaf %v, requiresGrad %v, op %q", c.IsLeaf(), c.RequiresGrad(), c.Op())
	}
	var r *Value
	NoGrad(func() { r = Exp(MatMul(x, w)) })
	if !r.IsLeaf() || r.RequiresGrad() {
		t.Error("op under NoGrad recorded")
	}
	m := MatMul(x, w)
	if m.IsLeaf() || !m.RequiresGrad() || m.Op() != "MatMul" {
		t.Errorf("MatMul of a parameter not recorded: op %q", m.Op())
	}
}

// TestBackwardSkipsWork calls the recorded backward of two-input ops
// directly and checks that the input that requires no gradient gets none.
func TestBackwardSkipsWork(t *testing.T) {
	p := func() *Var[float64] { return Param(tensor.Uniform[float64](tensor.NewRNG(1), 0.5, 1, 3, 4)) }
	c := func() *Var[float64] { return Const(tensor.Uniform[float64](tensor.NewRNG(2), 0.5, 1, 3, 4)) }
	ops := []struct {
		name string
		f    func(a, b *Var[float64]) *Var[float64]
	}{
		{"Add", Add[float64]},
		{"Sub", Sub[float64]},
		{"Mul", Mul[float64]},
		{"Div", Div[float64]},
		{"Pow", Pow[float64]},
		{"Maximum", Maximum[float64]},
		{"Minimum", Minimum[float64]},
		{"MatMulT", func(a, b *Var[float64]) *Var[float64] { return MatMulT(a, b, tensor.NoTrans, tensor.Trans) }},
		{"Where", func(a, b *Var[float64]) *Var[float64] { return Where(tensor.Full[float64](1, 3, 4), a, b) }},
		{"Concat", func(a, b *Var[float64]) *Var[float64] { return Concat(0, a, b) }},
		{"Stack", func(a, b *Var[float64]) *Var[float64] { return Stack(1, a, b) }},
	}
	for _, op := range ops {
		for _, frozenFirst := range []bool{false, true} {
			a, b := p(), c()
			if frozenFirst {
				a, b = c(), p()
			}
			out := op.f(a, b)
			if out.fn == nil {
				t.Fatalf("%s: not recorded", op.name)
			}
			gs := out.fn.backward(tensor.Full[float64](1, out.Shape()...))
			frozen, live := 1, 0
			if frozenFirst {
				frozen, live = 0, 1
			}
			if gs[frozen] != nil || gs[live] == nil {
				t.Errorf("%s (frozen input %d): gradients %v, %v", op.name, frozen, gs[0] != nil, gs[1] != nil)
			}
		}
	}
}

// TestEngineDoesNotMutateGradients checks that when a backward passes its
// output gradient through to several inputs, accumulating one input's
// gradient does not change another's or the caller's seed.
func TestEngineDoesNotMutateGradients(t *testing.T) {
	a := Param(tensor.FromSlice([]float64{1, 2}, 2))
	b := Param(tensor.FromSlice([]float64{3, 4}, 2))
	u := Add(a, b)
	out := Add(u, a) // a gets g twice; b once
	seed := tensor.FromSlice([]float64{1, 10}, 2)
	out.BackwardWith(seed)
	if got := fmt.Sprint(a.Grad().Data(), b.Grad().Data(), seed.Data()); got != "[2 20] [1 10] [1 10]" {
		t.Errorf("grads a, b and seed = %s, want [2 20] [1 10] [1 10]", got)
	}
}

func TestValueFloat32(t *testing.T) {
	// The float32 path (SIMD kernels) agrees with float64.
	x64 := tensor.Uniform[float64](tensor.NewRNG(1), -1, 1, 8, 16)
	w64 := tensor.Uniform[float64](tensor.NewRNG(2), -1, 1, 16, 4)
	b64 := tensor.Uniform[float64](tensor.NewRNG(3), -1, 1, 4)
	loss := func(x, w, b *tensor.Dense[float32]) []*tensor.Dense[float32] {
		xv, wv, bv := Param(x), Param(w), Param(b)
		l := MeanAll(Neg(LogSoftmax(Add(MatMul(xv, wv), bv), -1)))
		l.Backward()
		return []*tensor.Dense[float32]{l.Data(), xv.Grad(), wv.Grad(), bv.Grad()}
	}
	got := loss(tensor.Convert[float32](x64), tensor.Convert[float32](w64), tensor.Convert[float32](b64))
	xv, wv, bv := Param(x64), Param(w64), Param(b64)
	l := MeanAll(Neg(LogSoftmax(Add(MatMul(xv, wv), bv), -1)))
	l.Backward()
	want := []*tensor.Tensor64{l.Data(), xv.Grad(), wv.Grad(), bv.Grad()}
	for i := range want {
		for j, v := range want[i].Data() {
			if d := math.Abs(float64(got[i].Data()[j]) - v); d > 1e-5 {
				t.Fatalf("result %d element %d: float32 %v, float64 %v", i, j, got[i].Data()[j], v)
			}
		}
	}
}

func TestOpPanicsNameShapes(t *testing.T) {
	a := Param(tensor.New[float32](2, 3))
	b := Param(tensor.New[float32](4))
	for _, c := range []struct {
		f     func()
		wants []string
	}{
		{func() { Add(a, b) }, []string{"tensor.Add", "[2 3]", "[4]"}},
		{func() { Mul(a, b) }, []string{"tensor.Mul", "[2 3]", "[4]"}},
		{func() { MatMul(a, Param(tensor.New[float32](4, 5))) }, []string{"tensor.MatMul", "[2 3]", "[4 5]"}},
		{func() { Sum(a, 2) }, []string{"tensor.Sum", "[2 3]"}},
	} {
		msg := func() (m string) {
			defer func() { m = fmt.Sprint(recover()) }()
			c.f()
			return ""
		}()
		for _, w := range c.wants {
			if !strings.Contains(msg, w) {
				t.Errorf("panic %q does not contain %q", msg, w)
			}
		}
	}
}

func TestTieGradients(t *testing.T) {
	// Max over an axis sends the gradient to the first of tied elements.
	x := Param(tensor.FromSlice([]float64{3, 1, 3, 2, 5, 5}, 2, 3))
	SumAll(Max(x, 1)).Backward()
	if got := fmt.Sprint(x.Grad().Data()); got != "[1 0 0 0 1 0]" {
		t.Errorf("Max ties: grad %s, want [1 0 0 0 1 0]", got)
	}
	y := Param(tensor.FromSlice([]float64{4, 4, 1}, 3))
	SumAll(Min(y)).Backward()
	if got := fmt.Sprint(y.Grad().Data()); got != "[0 0 1]" {
		t.Errorf("Min: grad %s, want [0 0 1]", got)
	}
	// Maximum splits the gradient of a tie equally, as PyTorch does.
	a := Param(tensor.FromSlice([]float64{1, 2, 3}, 3))
	b := Param(tensor.FromSlice([]float64{2}, 1))
	SumAll(Maximum(a, b)).Backward()
	if got := fmt.Sprint(a.Grad().Data(), b.Grad().Data()); got != "[0 0.5 1] [1.5]" {
		t.Errorf("Maximum ties: grads %s, want [0 0.5 1] [1.5]", got)
	}
}
