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

func TestGradCheck(t *testing.T) {
	// Inputs for two-operand ops; the second is shifted so that it never
	// ties with the first.
	cases := []struct {
		name   string
		inputs []*tensor.Tensor64
		f      func(x vars) *Var[float64]
	}{
		{"Add [2 3]+[3]", []*tensor.Tensor64{uni(1, -1, 1, 2, 3), uni(2, -1, 1, 3)}, func(x vars) *Var[float64] { return Add(x[0], x[1]) }},
		{"Add [2 1 4]+[3 1]", []*tensor.Tensor64{uni(1, -1, 1, 2, 1, 4), uni(2, -1, 1, 3, 1)}, func(x vars) *Var[float64] { return Add(x[0], x[1]) }},
		{"Add []+[2 3]", []*tensor.Tensor64{uni(1, -1, 1), uni(2, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return Add(x[0], x[1]) }},
		{"Sub [2 1 4]-[3 1]", []*tensor.Tensor64{uni(1, -1, 1, 2, 1, 4), uni(2, -1, 1, 3, 1)}, func(x vars) *Var[float64] { return Sub(x[0], x[1]) }},
		{"Sub [3]-[2 3]", []*tensor.Tensor64{uni(1, -1, 1, 3), uni(2, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return Sub(x[0], x[1]) }},
		{"Mul [2 1 4]*[3 1]", []*tensor.Tensor64{uni(1, -1, 1, 2, 1, 4), uni(2, -1, 1, 3, 1)}, func(x vars) *Var[float64] { return Mul(x[0], x[1]) }},
		{"Mul [2 3]*[]", []*tensor.Tensor64{uni(1, -1, 1, 2, 3), uni(2, -1, 1)}, func(x vars) *Var[float64] { return Mul(x[0], x[1]) }},
		{"Mul same", []*tensor.Tensor64{uni(1, -1, 1, 2, 3), uni(2, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return Mul(x[0], x[1]) }},
		{"Div [2 3]/[3]", []*tensor.Tensor64{uni(1, -1, 1, 2, 3), uni(2, 0.5, 2, 3)}, func(x vars) *Var[float64] { return Div(x[0], x[1]) }},
		{"Div [2 1]/[1 3]", []*tensor.Tensor64{uni(1, -1, 1, 2, 1), uni(2, -2, -0.5, 1, 3)}, func(x vars) *Var[float64] { return Div(x[0], x[1]) }},
		{"Pow [2 3]**[3]", []*tensor.Tensor64{uni(1, 0.5, 2, 2, 3), uni(2, -1, 2, 3)}, func(x vars) *Var[float64] { return Pow(x[0], x[1]) }},
		{"Pow []**[2 2]", []*tensor.Tensor64{uni(1, 0.5, 2), uni(2, -1, 2, 2, 2)}, func(x vars) *Var[float64] { return Pow(x[0], x[1]) }},
		{"Maximum [2 3],[3]", []*tensor.Tensor64{spread(1, 2, 3), tensor.AddScalar(spread(2, 3), 0.025)}, func(x vars) *Var[float64] { return Maximum(x[0], x[1]) }},
		{"Minimum [2 1 4],[3 1]", []*tensor.Tensor64{spread(1, 2, 1, 4), tensor.AddScalar(spread(2, 3, 1), 0.025)}, func(x vars) *Var[float64] { return Minimum(x[0], x[1]) }},
		{"Where [2 1],[2 3],[3]", []*tensor.Tensor64{uni(1, -1, 1, 2, 3), uni(2, -1, 1, 3)}, func(x vars) *Var[float64] {
			return Where(tensor.FromSlice([]float64{1, 0}, 2, 1), x[0], x[1])
		}},
		{"Where [3] both broadcast", []*tensor.Tensor64{uni(1, -1, 1, 2, 1), uni(2, -1, 1, 1, 3)}, func(x vars) *Var[float64] {
			return Where(tensor.FromSlice([]float64{1, 0, 1}, 3), x[0], x[1])
		}},
		{"AddScalar", []*tensor.Tensor64{uni(1, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return AddScalar(x[0], 2) }},
		{"SubScalar", []*tensor.Tensor64{uni(1, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return SubScalar(x[0], 2) }},
		{"RSubScalar", []*tensor.Tensor64{uni(1, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return RSubScalar(2, x[0]) }},
		{"MulScalar", []*tensor.Tensor64{uni(1, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return MulScalar(x[0], -3) }},
		{"DivScalar", []*tensor.Tensor64{uni(1, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return DivScalar(x[0], 4) }},
		{"PowScalar 2.5", []*tensor.Tensor64{uni(1, 0.5, 2, 2, 3)}, func(x vars) *Var[float64] { return PowScalar(x[0], 2.5) }},
		{"PowScalar 3", []*tensor.Tensor64{uni(1, -2, 2, 2, 3)}, func(x vars) *Var[float64] { return PowScalar(x[0], 3) }},
		{"PowScalar -0.5", []*tensor.Tensor64{uni(1, 0.5, 2, 4)}, func(x vars) *Var[float64] { return PowScalar(x[0], -0.5) }},
		{"Neg", []*tensor.Tensor64{uni(1, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return Neg(x[0]) }},
		{"Exp", []*tensor.Tensor64{uni(1, -2, 2, 2, 3)}, func(x vars) *Var[float64] { return Exp(x[0]) }},
		{"Log", []*tensor.Tensor64{uni(1, 0.2, 3, 2, 3)}, func(x vars) *Var[float64] { return Log(x[0]) }},
		{"Sqrt", []*tensor.Tensor64{uni(1, 0.2, 3, 2, 3)}, func(x vars) *Var[float64] { return Sqrt(x[0]) }},
		{"Abs", []*tensor.Tensor64{awayFrom(1, -1, 1, 0.05, []float64{0}, 2, 5)}, func(x vars) *Var[float64] { return Abs(x[0]) }},
		{"Clamp", []*tensor.Tensor64{awayFrom(1, -1, 1, 0.05, []float64{-0.5, 0.5}, 3, 5)}, func(x vars) *Var[float64] { return Clamp(x[0], -0.5, 0.5) }},
		{"Square", []*tensor.Tensor64{uni(1, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return Square(x[0]) }},
		{"Reciprocal", []*tensor.Tensor64{awayFrom(1, -2, 2, 0.3, []float64{0}, 2, 3)}, func(x vars) *Var[float64] { return Reciprocal(x[0]) }},

		{"Sum all", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Sum(x[0], false) }},
		{"Sum 0", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Sum(x[0], false, 0) }},
		{"Sum -1 keepdim", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Sum(x[0], true, -1) }},
		{"Sum 0,2", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Sum(x[0], false, 0, 2) }},
		{"Sum 2,0 keepdim", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Sum(x[0], true, 2, 0) }},
		{"SumAll", []*tensor.Tensor64{uni(1, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return SumAll(x[0]) }},
		{"Mean -2", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Mean(x[0], false, -2) }},
		{"Mean 1,2 keepdim", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Mean(x[0], true, 1, 2) }},
		{"MeanAll", []*tensor.Tensor64{uni(1, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return MeanAll(x[0]) }},
		{"Variance unbiased 1", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Variance(x[0], 1, false, 1) }},
		{"Variance population 0,2 keepdim", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Variance(x[0], 0, true, 0, -1) }},
		{"Variance all", []*tensor.Tensor64{uni(1, -1, 1, 3, 4)}, func(x vars) *Var[float64] { return Variance(x[0], 1, false) }},
		{"Max 1", []*tensor.Tensor64{spread(1, 2, 3, 4)}, func(x vars) *Var[float64] { return Max(x[0], false, 1) }},
		{"Max all", []*tensor.Tensor64{spread(1, 2, 3, 4)}, func(x vars) *Var[float64] { return Max(x[0], false) }},
		{"Max 0,-1 keepdim", []*tensor.Tensor64{spread(1, 2, 3, 4)}, func(x vars) *Var[float64] { return Max(x[0], true, 0, -1) }},
		{"Min -1", []*tensor.Tensor64{spread(1, 2, 3, 4)}, func(x vars) *Var[float64] { return Min(x[0], false, -1) }},
		{"Min 0 keepdim", []*tensor.Tensor64{spread(1, 2, 3, 4)}, func(x vars) *Var[float64] { return Min(x[0], true, 0) }},

		{"Reshape", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Reshape(x[0], 4, -1) }},
		{"Transpose", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Transpose(x[0], 0, -1) }},
		{"Permute", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Permute(x[0], 1, -1, 0) }},
		{"IndexSelect repeated", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return IndexSelect(x[0], 1, []int{2, 0, 2, 2}) }},
		{"IndexSelect -1", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return IndexSelect(x[0], -1, []int{3, 1}) }},
		{"Narrow 0", []*tensor.Tensor64{uni(1, -1, 1, 4, 3)}, func(x vars) *Var[float64] { return Narrow(x[0], 0, 1, 2) }},
		{"Narrow -1", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Narrow(x[0], -1, 1, 3) }},
		{"Concat 1", []*tensor.Tensor64{uni(1, -1, 1, 2, 1, 3), uni(2, -1, 1, 2, 2, 3), uni(3, -1, 1, 2, 3, 3)}, func(x vars) *Var[float64] { return Concat(1, x[0], x[1], x[2]) }},
		{"Concat 0", []*tensor.Tensor64{uni(1, -1, 1, 1, 3), uni(2, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return Concat(0, x[0], x[1]) }},
		{"Stack -1", []*tensor.Tensor64{uni(1, -1, 1, 2, 3), uni(2, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return Stack(-1, x[0], x[1]) }},
		{"Stack 0", []*tensor.Tensor64{uni(1, -1, 1, 2, 3), uni(2, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return Stack(0, x[0], x[1]) }},
		{"Squeeze", []*tensor.Tensor64{uni(1, -1, 1, 2, 1, 3)}, func(x vars) *Var[float64] { return Squeeze(x[0]) }},
		{"Unsqueeze", []*tensor.Tensor64{uni(1, -1, 1, 2, 3)}, func(x vars) *Var[float64] { return Unsqueeze(x[0], 1) }},
		{"Flatten", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4)}, func(x vars) *Var[float64] { return Flatten(x[0], 1, -1) }},
		{"Expand", []*tensor.Tensor64{uni(1, -1, 1, 3, 1)}, func(x vars) *Var[float64] { return Expand(x[0], 2, -1, 4) }},
		{"BroadcastTo", []*tensor.Tensor64{uni(1, -1, 1, 4)}, func(x vars) *Var[float64] { return BroadcastTo(x[0], 3, 4) }},

		{"MatMul 2-d", []*tensor.Tensor64{uni(1, -1, 1, 3, 4), uni(2, -1, 1, 4, 5)}, func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{"MatMul [2 3 4]x[4 5]", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4), uni(2, -1, 1, 4, 5)}, func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{"MatMul [3 4]x[2 4 5]", []*tensor.Tensor64{uni(1, -1, 1, 3, 4), uni(2, -1, 1, 2, 4, 5)}, func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{"MatMul [2 1 3 4]x[3 4 2]", []*tensor.Tensor64{uni(1, -1, 1, 2, 1, 3, 4), uni(2, -1, 1, 3, 4, 2)}, func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{"MatMul [4]x[2 4 3]", []*tensor.Tensor64{uni(1, -1, 1, 4), uni(2, -1, 1, 2, 4, 3)}, func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{"MatMul [2 3 4]x[4]", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4), uni(2, -1, 1, 4)}, func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{"MatMul [4]x[4]", []*tensor.Tensor64{uni(1, -1, 1, 4), uni(2, -1, 1, 4)}, func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{"MatMulT TN", []*tensor.Tensor64{uni(1, -1, 1, 2, 4, 3), uni(2, -1, 1, 4, 5)}, func(x vars) *Var[float64] { return MatMulT(x[0], x[1], true, false) }},
		{"MatMulT NT", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4), uni(2, -1, 1, 5, 4)}, func(x vars) *Var[float64] { return MatMulT(x[0], x[1], false, true) }},
		{"MatMulT TT", []*tensor.Tensor64{uni(1, -1, 1, 4, 3), uni(2, -1, 1, 2, 5, 4)}, func(x vars) *Var[float64] { return MatMulT(x[0], x[1], true, true) }},
		{"MatMulT NT batched both", []*tensor.Tensor64{uni(1, -1, 1, 2, 3, 4), uni(2, -1, 1, 2, 5, 4)}, func(x vars) *Var[float64] { return MatMulT(x[0], x[1], false, true) }},

		{"Softmax -1", []*tensor.Tensor64{uni(1, -2, 2, 3, 5)}, func(x vars) *Var[float64] { return Softmax(x[0], -1) }},
		{"Softmax 0", []*tensor.Tensor64{uni(1, -2, 2, 3, 5)}, func(x vars) *Var[float64] { return Softmax(x[0], 0) }},
		{"LogSoftmax 1", []*tensor.Tensor64{uni(1, -2, 2, 2, 3, 4)}, func(x vars) *Var[float64] { return LogSoftmax(x[0], 1) }},

		// Compositions: inputs used more than once, gradients passed through
		// unchanged by Add and views, fan-in at every level.
		{"reuse", []*tensor.Tensor64{uni(1, -1, 1, 2, 3), uni(2, -1, 1, 3)}, func(x vars) *Var[float64] {
			u := Add(x[0], x[1])
			return Add(Add(u, x[0]), Reshape(Mul(Reshape(u, 3, 2), Reshape(x[0], 3, 2)), 2, 3))
		}},
		{"cross-entropy", []*tensor.Tensor64{uni(1, -2, 2, 4, 5), uni(2, -1, 1, 5)}, func(x vars) *Var[float64] {
			lp := LogSoftmax(Add(x[0], x[1]), 1)
			picked := Mul(lp, Const(tensor.FromSlice([]float64{
				1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0}, 4, 5)))
			return Neg(MeanAll(Sum(picked, false, 1)))
		}},
		{"mlp", []*tensor.Tensor64{uni(1, -1, 1, 3, 4), uni(2, -1, 1, 5, 4), uni(3, -1, 1, 5), uni(4, -1, 1, 2, 5)}, func(x vars) *Var[float64] {
			h := Add(MatMulT(x[0], x[1], false, true), x[2])
			h = Mul(h, Exp(Neg(Square(h))))
			return MatMulT(h, x[3], false, true)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := CheckGrad(c.f, c.inputs, CheckOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestGradSkipsFrozen(t *testing.T) {
	x := Param(tensor.Uniform[float32](tensor.NewRNG(1), -1, 1, 4, 3))
	w := Const(tensor.Uniform[float32](tensor.NewRNG(2), -1, 1, 3, 2))
	frozen := New(tensor.Uniform[float32](tensor.NewRNG(3), -1, 1, 2, 2), true)
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
	want := tensor.MatMulT(tensor.Full[float32](1, 4, 2), tensor.MatMul(w.Data(), frozen.Data()), false, true)
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
		{"MatMulT", func(a, b *Var[float64]) *Var[float64] { return MatMulT(a, b, false, true) }},
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
		{func() { Sum(a, false, 2) }, []string{"tensor.Sum", "[2 3]"}},
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
	SumAll(Max(x, false, 1)).Backward()
	if got := fmt.Sprint(x.Grad().Data()); got != "[1 0 0 0 1 0]" {
		t.Errorf("Max ties: grad %s, want [1 0 0 0 1 0]", got)
	}
	y := Param(tensor.FromSlice([]float64{4, 4, 1}, 3))
	SumAll(Min(y, false)).Backward()
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
