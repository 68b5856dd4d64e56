package layers

import (
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// convBNFixture returns a Conv2d and a BatchNorm2d with non-trivial
// parameters and running statistics.
func convBNFixture(k int, opts ...Option) (*Conv2d, *BatchNorm) {
	rng := tensor.NewRNG(31)
	conv := NewConv2d(5, 7, k, rng, opts...)
	bn := NewBatchNorm2d(7)
	copy(bn.Weight.Data().Data(), tensor.Uniform[float32](rng, 0.5, 1.5, 7).Data())
	copy(bn.Bias.Data().Data(), tensor.Uniform[float32](rng, -0.5, 0.5, 7).Data())
	copy(bn.RunningMean.Data(), tensor.Uniform[float32](rng, -0.3, 0.3, 7).Data())
	copy(bn.RunningVar.Data(), tensor.Uniform[float32](rng, 0.2, 2, 7).Data())
	return conv, bn
}

// unfusedConvBN is what CallConvBN must equal.
func unfusedConvBN(conv *Conv2d, bn *BatchNorm, x *autograd.Value, relu bool) *autograd.Value {
	y := bn.Forward(conv.Forward(x))
	if relu {
		y = autograd.ReLU(y)
	}
	return y
}

func maxRelDiff(t *testing.T, what string, got, want *tensor.Tensor) float64 {
	t.Helper()
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	scale := 0.0
	for _, v := range want.Data() {
		scale = max(scale, math.Abs(float64(v)))
	}
	d := 0.0
	for i, v := range want.Data() {
		d = max(d, math.Abs(float64(got.Data()[i])-float64(v))/scale)
	}
	return d
}

// TestCallConvBNFoldsInEval checks the folded path against Conv2d, BatchNorm
// (and ReLU) run one by one: the outputs and the gradient with respect to
// the input agree to float32 rounding, on the packed and im2col paths, for
// same and strided convolutions, with and without a conv bias; and the
// fold really happened (the output is made by one convolution op).
func TestCallConvBNFoldsInEval(t *testing.T) {
	for _, packed := range []bool{true, false} {
		restore := autograd.SetConvPacked(packed)
		for _, c := range []struct {
			name string
			opts []Option
			k    int
		}{
			{"3x3 same, no bias", []Option{Padding(1), NoBias()}, 3},
			{"3x3 stride 2, bias", []Option{Padding(1), Stride(2)}, 3},
			{"1x1 stride 2, no bias", []Option{Stride(2), NoBias()}, 1},
		} {
			for _, relu := range []bool{false, true} {
				conv, bn := convBNFixture(c.k, c.opts...)
				Eval(conv)
				Eval(bn)
				SetRequiresGrad(conv, false)
				SetRequiresGrad(bn, false)
				xd := tensor.Uniform[float32](tensor.NewRNG(32), -1, 1, 3, 5, 8, 9)
				x0, x1 := autograd.Param(xd.Clone()), autograd.Param(xd.Clone())
				want := unfusedConvBN(conv, bn, x0, relu)
				got := callConvBN(conv, bn, x1, relu)
				op := map[bool]string{false: "Conv2d", true: "Conv2dReLU"}[relu]
				if got.Op() != op {
					t.Fatalf("packed=%v %s relu=%v: output made by %q, want the folded %q", packed, c.name, relu, got.Op(), op)
				}
				if d := maxRelDiff(t, "output", got.Data(), want.Data()); d > 1e-5 {
					t.Errorf("packed=%v %s relu=%v: output differs by %.2g relative", packed, c.name, relu, d)
				}
				gy := tensor.Uniform[float32](tensor.NewRNG(33), -1, 1, want.Shape()...)
				want.BackwardWith(gy)
				got.BackwardWith(gy)
				if d := maxRelDiff(t, "input gradient", x1.Grad(), x0.Grad()); d > 1e-5 {
					t.Errorf("packed=%v %s relu=%v: input gradient differs by %.2g relative", packed, c.name, relu, d)
				}
				if bn.NumBatchesTracked != 0 {
					t.Errorf("eval forward counted %d batches", bn.NumBatchesTracked)
				}
				// Under NoGrad too (inference), and the result follows a
				// change of the running statistics (nothing is cached).
				autograd.NoGrad(func() {
					g := callConvBN(conv, bn, autograd.Const(xd), relu)
					if d := maxRelDiff(t, "NoGrad output", g.Data(), want.Data()); d > 1e-5 {
						t.Errorf("packed=%v %s relu=%v: NoGrad output differs by %.2g relative", packed, c.name, relu, d)
					}
					bn.RunningMean.Data()[0] += 1
					g = callConvBN(conv, bn, autograd.Const(xd), relu)
					w := unfusedConvBN(conv, bn, autograd.Const(xd), relu)
					if d := maxRelDiff(t, "output after a change", g.Data(), w.Data()); d > 1e-5 {
						t.Errorf("packed=%v %s relu=%v: after a change of the running mean, differs by %.2g", packed, c.name, relu, d)
					}
				})
			}
		}
		restore()
	}
}

// TestCallConvBNDoesNotFold checks the cases that must run the modules as
// they are: training mode (batch statistics, running statistics updated),
// parameters that need a gradient (they get it), and a hook (it sees each
// module).
func TestCallConvBNDoesNotFold(t *testing.T) {
	xd := tensor.Uniform[float32](tensor.NewRNG(34), -1, 1, 2, 5, 6, 6)
	t.Run("training", func(t *testing.T) {
		conv, bn := convBNFixture(3, Padding(1))
		SetRequiresGrad(conv, false)
		SetRequiresGrad(bn, false)
		rm := bn.RunningMean.Clone()
		got := CallConvBNReLU(conv, bn, autograd.Param(xd.Clone()))
		if got.Op() != "BatchNormReLU" {
			t.Fatalf("training output made by %q, want BatchNormReLU", got.Op())
		}
		if bn.NumBatchesTracked != 1 || maxRelDiff(t, "running mean", bn.RunningMean, rm) == 0 {
			t.Errorf("training forward did not update the running statistics")
		}
	})
	t.Run("parameters need gradients", func(t *testing.T) {
		conv, bn := convBNFixture(3, Padding(1))
		Eval(conv)
		Eval(bn)
		got := CallConvBN(conv, bn, autograd.Const(xd))
		if got.Op() != "BatchNorm" {
			t.Fatalf("output made by %q, want BatchNorm", got.Op())
		}
		autograd.Sum(got).Backward()
		if conv.Weight.Grad() == nil || bn.Weight.Grad() == nil {
			t.Errorf("parameters got no gradient")
		}
	})
	t.Run("hook", func(t *testing.T) {
		conv, bn := convBNFixture(3, Padding(1))
		Eval(conv)
		Eval(bn)
		SetRequiresGrad(conv, false)
		SetRequiresGrad(bn, false)
		var seen []Module
		conv.Core().hook = func(m Module, _, _ *autograd.Value) { seen = append(seen, m) }
		bn.Core().hook = func(m Module, _, _ *autograd.Value) { seen = append(seen, m) }
		CallConvBNReLU(conv, bn, autograd.Const(xd))
		if len(seen) != 2 || seen[0] != Module(conv) || seen[1] != Module(bn) {
			t.Errorf("hooks saw %v, want the conv then the batch-norm", seen)
		}
	})
}

// TestSequentialFoldsConvBN checks that Sequential folds Conv2d, BatchNorm
// (and a ReLU) in eval with frozen parameters, to the same values, and not
// in training.
func TestSequentialFoldsConvBN(t *testing.T) {
	xd := tensor.Uniform[float32](tensor.NewRNG(35), -1, 1, 2, 5, 6, 6)
	for _, relu := range []bool{false, true} {
		conv, bn := convBNFixture(3, Padding(1))
		seq := NewSequential(conv, bn)
		folded, unfolded := "Conv2d", "BatchNorm"
		if relu {
			seq.Append(&ReLU{})
			folded, unfolded = "Conv2dReLU", "ReLU"
		}
		Eval(seq)
		SetRequiresGrad(seq, false)
		got := seq.Forward(autograd.Param(xd.Clone()))
		want := unfusedConvBN(conv, bn, autograd.Const(xd), relu)
		if got.Op() != folded {
			t.Errorf("relu=%v: eval output made by %q, want %q", relu, got.Op(), folded)
		}
		if d := maxRelDiff(t, "output", got.Data(), want.Data()); d > 1e-5 {
			t.Errorf("relu=%v: output differs by %.2g relative", relu, d)
		}
		Train(seq)
		if got := seq.Forward(autograd.Param(xd.Clone())); got.Op() != unfolded {
			t.Errorf("relu=%v: training output made by %q, want %q", relu, got.Op(), unfolded)
		}
	}
}

// TestCallConvBNReLUMaxPool checks the Conv → BatchNorm → ReLU → MaxPool
// block: in training it is one fused op, bit for bit the modules run one by
// one (output, parameter gradients, running statistics, the batch count);
// in eval, and with a hook on the pool, it is the modules one by one.
func TestCallConvBNReLUMaxPool(t *testing.T) {
	xd := tensor.Uniform[float32](tensor.NewRNG(35), -1, 1, 3, 5, 9, 8)
	gy := tensor.Uniform[float32](tensor.NewRNG(36), -1, 1, 3, 7, 4, 4)
	run := func(fused bool) (*autograd.Value, string, *Conv2d, *BatchNorm) {
		conv, bn := convBNFixture(3, Padding(1))
		pool := NewMaxPool2d(2, 2, 0)
		var out *autograd.Value
		if fused {
			out = CallConvBNReLUMaxPool(conv, bn, pool, autograd.Const(xd))
		} else {
			out = Call(pool, unfusedConvBN(conv, bn, autograd.Const(xd), true))
		}
		op := out.Op()
		out.BackwardWith(gy)
		return out, op, conv, bn
	}
	got, op, gc, gb := run(true)
	want, _, wc, wb := run(false)
	if op != "BatchNormReLUMaxPool2x2" {
		t.Fatalf("training output made by %q, want BatchNormReLUMaxPool2x2", op)
	}
	for _, c := range []struct {
		name string
		a, b *tensor.Tensor
	}{{"output", got.Data(), want.Data()}, {"conv weight gradient", gc.Weight.Grad(), wc.Weight.Grad()},
		{"conv bias gradient", gc.Bias.Grad(), wc.Bias.Grad()}, {"bn weight gradient", gb.Weight.Grad(), wb.Weight.Grad()},
		{"bn bias gradient", gb.Bias.Grad(), wb.Bias.Grad()}, {"running mean", gb.RunningMean, wb.RunningMean},
		{"running var", gb.RunningVar, wb.RunningVar}} {
		for i, v := range c.b.Data() {
			if math.Float32bits(c.a.Data()[i]) != math.Float32bits(v) {
				t.Fatalf("%s[%d]: fused %v, modules one by one %v", c.name, i, c.a.Data()[i], v)
			}
		}
	}
	if gb.NumBatchesTracked != 1 || wb.NumBatchesTracked != 1 {
		t.Errorf("batches tracked %d (fused) and %d, want 1", gb.NumBatchesTracked, wb.NumBatchesTracked)
	}

	conv, bn := convBNFixture(3, Padding(1))
	pool := NewMaxPool2d(2, 2, 0)
	Eval(conv)
	Eval(bn)
	if op := CallConvBNReLUMaxPool(conv, bn, pool, autograd.Const(xd)).Op(); op != "MaxPool2d" {
		t.Errorf("eval output made by %q, want MaxPool2d", op)
	}
	// Eval with frozen parameters (an attack): the batch-norm folds, and
	// the block is one op, bit for bit the folded convolution then the pool,
	// input gradient included.
	SetRequiresGrad(conv, false)
	SetRequiresGrad(bn, false)
	attack := func(fused bool) (*autograd.Value, *autograd.Value, string) {
		x := autograd.Param(xd.Clone())
		var out *autograd.Value
		if fused {
			out = CallConvBNReLUMaxPool(conv, bn, pool, x)
		} else {
			out = Call(pool, CallConvBNReLU(conv, bn, x))
		}
		op := out.Op()
		out.BackwardWith(gy)
		return out, x, op
	}
	fout, fx, fop := attack(true)
	uout, ux, _ := attack(false)
	if fop != "Conv2dReLUMaxPool2x2" {
		t.Errorf("eval with frozen parameters: output made by %q, want Conv2dReLUMaxPool2x2", fop)
	}
	for _, c := range []struct {
		name string
		a, b *tensor.Tensor
	}{{"frozen eval output", fout.Data(), uout.Data()}, {"frozen eval input gradient", fx.Grad(), ux.Grad()}} {
		for i, v := range c.b.Data() {
			if math.Float32bits(c.a.Data()[i]) != math.Float32bits(v) {
				t.Fatalf("%s[%d]: fused %v, folded convolution then pool %v", c.name, i, c.a.Data()[i], v)
			}
		}
	}
	SetRequiresGrad(conv, true)
	SetRequiresGrad(bn, true)
	Train(conv)
	Train(bn)
	seen := 0
	pool.Core().hook = func(Module, *autograd.Value, *autograd.Value) { seen++ }
	if op := CallConvBNReLUMaxPool(conv, bn, pool, autograd.Const(xd)).Op(); op != "MaxPool2d" || seen != 1 {
		t.Errorf("with a hook on the pool: output made by %q, hook called %d times; want MaxPool2d, once", op, seen)
	}
}
