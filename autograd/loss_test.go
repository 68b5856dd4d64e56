package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

var nnAllReductions = []Reduction{ReductionMean, ReductionSum, ReductionNone}

func TestCrossEntropyGradCheck(t *testing.T) {
	ig := 1
	cases := []struct {
		name    string
		targets []int
		opts    ceOpts
	}{
		{"plain", []int{0, 3, 2, 1}, ceOpts{}},
		{"smoothing", []int{0, 3, 2, 1}, ceOpts{LabelSmoothing: 0.2}},
		{"weights", []int{0, 3, 2, 1}, ceOpts{Weight: []float64{0.5, 2, 1, 3}}},
		{"weights-smoothing", []int{0, 3, 2, 3}, ceOpts{Weight: []float64{0.5, 2, 1, 3}, LabelSmoothing: 0.1}},
		{"ignore-default", []int{0, DefaultIgnoreIndex, 2, 1}, ceOpts{LabelSmoothing: 0.1}},
		{"ignore-1", []int{0, 1, 2, 1}, ceOpts{IgnoreIndex: &ig, Weight: []float64{1, 2, 3, 4}}},
	}
	for _, c := range cases {
		for _, red := range nnAllReductions {
			t.Run(fmt.Sprintf("%s-%v", c.name, red), func(t *testing.T) {
				opts := c.opts
				opts.Reduction = red
				err := CheckGrad(func(xs []*Var[float64]) *Var[float64] {
					return CrossEntropy(xs[0], c.targets, opts.options()...)
				}, []*tensor.Tensor64{tensor.Uniform[float64](tensor.NewRNG(3), -3, 3, 4, 4)}, CheckOptions{})
				if err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// nnRefCrossEntropy follows PyTorch's cross_entropy with label smoothing
// literally: (1-ls)*nll_loss(logp, w) + ls/C * reduce(-sum_c w_c logp_c).
func nnRefCrossEntropy(x [][]float64, targets []int, o ceOpts) float64 {
	c := len(x[0])
	w := func(k int) float64 {
		if o.Weight == nil {
			return 1
		}
		return o.Weight[k]
	}
	var nll, smooth, denom float64
	for i, row := range x {
		var s float64
		for _, v := range row {
			s += math.Exp(v)
		}
		t := targets[i]
		if t == DefaultIgnoreIndex {
			continue
		}
		for k, v := range row {
			smooth += -w(k) * (v - math.Log(s))
		}
		nll += -w(t) * (row[t] - math.Log(s))
		denom += w(t)
	}
	ls := o.LabelSmoothing
	return ((1-ls)*nll + ls/float64(c)*smooth) / denom
}

func TestCrossEntropyValues(t *testing.T) {
	// Hand case: logits [1 2 3], target 2, smoothing 0.1.
	// lse = log(e + e^2 + e^3); nll = lse - 3; mean of -logp = lse - 2.
	lse := math.Log(math.E + math.Exp(2) + math.Exp(3))
	want := 0.9*(lse-3) + 0.1*(lse-2)
	got := CrossEntropy(Const(tensor.FromSlice([]float64{1, 2, 3}, 1, 3)), []int{2}, LabelSmoothing(0.1)).Data().Item()
	if math.Abs(got-want) > 1e-14 || math.Abs(want-0.5076059644443803) > 1e-14 {
		t.Fatalf("CrossEntropy = %v, want %v (0.5076059644443803)", got, want)
	}
	// Against the literal formula, with weights, smoothing and an ignored row.
	x := [][]float64{{0.5, -1, 2}, {3, 0, -2}, {1, 1, 1}, {-0.5, 0.25, 4}}
	flat := append(append(append(append([]float64(nil), x[0]...), x[1]...), x[2]...), x[3]...)
	targets := []int{2, 0, DefaultIgnoreIndex, 1}
	o := ceOpts{Weight: []float64{0.2, 1.5, 3}, LabelSmoothing: 0.3}
	got = CrossEntropy(Const(tensor.FromSlice(flat, 4, 3)), targets, o.options()...).Data().Item()
	if want := nnRefCrossEntropy(x, targets, o); math.Abs(got-want) > 1e-13 {
		t.Fatalf("weighted smoothed CrossEntropy = %v, want %v", got, want)
	}
	// Extreme logits stay finite.
	big := CrossEntropy(Const(tensor.FromSlice([]float32{1000, -1000, 0}, 1, 3)), []int{1}).Data().Item()
	if math.IsInf(float64(big), 0) || math.IsNaN(float64(big)) || math.Abs(float64(big)-2000) > 1e-3 {
		t.Fatalf("CrossEntropy with extreme logits = %v, want 2000", big)
	}
	// CrossEntropy equals NLLLoss of the log-softmax.
	var lp []float64
	for _, row := range x {
		var s float64
		for _, v := range row {
			s += math.Exp(v)
		}
		for _, v := range row {
			lp = append(lp, v-math.Log(s))
		}
	}
	for _, red := range nnAllReductions {
		a := CrossEntropy(Const(tensor.FromSlice(flat, 4, 3)), []int{2, 0, 1, 1}, red).Data().Data()
		b := NLLLoss(Const(tensor.FromSlice(lp, 4, 3)), []int{2, 0, 1, 1}, red).Data().Data()
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-13 {
				t.Fatalf("%v: CrossEntropy %v, NLLLoss of log-softmax %v", red, a, b)
			}
		}
	}
}

func TestClassLossErrors(t *testing.T) {
	x := Const(tensor.New[float64](2, 3))
	nnExpectPanic(t, func() { CrossEntropy(x, []int{0, 3}) }, "autograd.CrossEntropy: target 3 at index 1 out of range for 3 classes")
	nnExpectPanic(t, func() { NLLLoss(x, []int{-1, 0}) }, "autograd.NLLLoss: target -1 at index 0 out of range for 3 classes")
	nnExpectPanic(t, func() { CrossEntropy(x, []int{0}) }, "autograd.CrossEntropy: 1 targets for input [2 3]")
	nnExpectPanic(t, func() { CrossEntropy(x, []int{0, 1}, ClassWeights(1)) }, "autograd.CrossEntropy: 1 class weights")
	nnExpectPanic(t, func() { CrossEntropy(x, []int{0, 1}, ReductionBatchMean) }, "autograd.CrossEntropy: unsupported reduction batchmean")
	nnExpectPanic(t, func() { MSELoss(x, Const(tensor.New[float64](3, 2)), ReductionMean) }, "autograd.MSELoss: input [2 3] and target [3 2]")
}

func TestNLLLossGradCheck(t *testing.T) {
	ig := 0
	for _, o := range []ceOpts{{}, {Weight: []float64{1, 2, 0.5}}, {IgnoreIndex: &ig, Weight: []float64{1, 2, 0.5}}} {
		for _, red := range nnAllReductions {
			o.Reduction = red
			t.Run(fmt.Sprintf("%v-w%v-ig%v", red, o.Weight != nil, o.IgnoreIndex != nil), func(t *testing.T) {
				err := CheckGrad(func(xs []*Var[float64]) *Var[float64] {
					return NLLLoss(xs[0], []int{0, 2, 1, 1, 0}, o.options()...)
				}, []*tensor.Tensor64{nnRand(5, 5, 3)}, CheckOptions{})
				if err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	// Weighted mean: sum(w_t * -logp_t) / sum(w_t).
	got := NLLLoss(Const(tensor.FromSlice([]float64{-1, -2, -3, -4}, 2, 2)), []int{0, 1}, ClassWeights(1, 3)).Data().Item()
	if want := (1*1 + 3*4) / 4.0; got != want {
		t.Fatalf("weighted NLLLoss = %v, want %v", got, want)
	}
}

func TestPointwiseLossGradCheck(t *testing.T) {
	probs := func(seed uint64, shape ...int) *tensor.Tensor64 {
		return tensor.Uniform[float64](tensor.NewRNG(seed), 0.05, 0.95, shape...)
	}
	for _, red := range []Reduction{ReductionMean, ReductionSum, ReductionNone, ReductionBatchMean} {
		if red != ReductionBatchMean {
			t.Run("MSE-"+red.String(), func(t *testing.T) {
				err := CheckGrad(func(xs []*Var[float64]) *Var[float64] { return MSELoss(xs[0], xs[1], red) },
					[]*tensor.Tensor64{nnRand(1, 3, 4), nnRand(2, 3, 4)}, CheckOptions{})
				if err != nil {
					t.Fatal(err)
				}
			})
			for _, pw := range [][]float64{nil, {0.5, 2, 3, 1}} {
				t.Run(fmt.Sprintf("BCE-%v-pw%v", red, pw != nil), func(t *testing.T) {
					err := CheckGrad(func(xs []*Var[float64]) *Var[float64] {
						return BCEWithLogits(xs[0], xs[1], red, PosWeight(pw...))
					}, []*tensor.Tensor64{tensor.Uniform[float64](tensor.NewRNG(3), -4, 4, 3, 4), probs(4, 3, 4)}, CheckOptions{})
					if err != nil {
						t.Fatal(err)
					}
				})
			}
		}
		t.Run("KLDiv-"+red.String(), func(t *testing.T) {
			err := CheckGrad(func(xs []*Var[float64]) *Var[float64] { return KLDiv(xs[0], xs[1], red) },
				[]*tensor.Tensor64{nnRand(5, 3, 4), probs(6, 3, 4)}, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPointwiseLossValues(t *testing.T) {
	a := Const(tensor.FromSlice([]float64{1, 2, 3, 4}, 2, 2))
	b := Const(tensor.FromSlice([]float64{0, 2, 5, 4}, 2, 2))
	if got := MSELoss(a, b, ReductionMean).Data().Item(); got != 5.0/4 {
		t.Errorf("MSELoss mean = %v, want 1.25", got)
	}
	if got := MSELoss(a, b, ReductionSum).Data().Item(); got != 5 {
		t.Errorf("MSELoss sum = %v, want 5", got)
	}
	// BCE: x = 0 gives log 2 whatever the target; large |x| stays finite.
	x := Const(tensor.FromSlice([]float64{0, 100, -100}, 3))
	tg := Const(tensor.FromSlice([]float64{0.3, 0, 1}, 3))
	got := BCEWithLogits(x, tg, ReductionNone).Data().Data()
	want := []float64{math.Ln2, 100, 100}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("BCEWithLogits = %v, want %v", got, want)
		}
	}
	// pos_weight 3 on target 1 at x = 0: 3*log 2.
	if got := BCEWithLogits(Const(tensor.FromSlice([]float64{0}, 1)), Const(tensor.FromSlice([]float64{1}, 1)), PosWeight(3)).Data().Item(); math.Abs(got-3*math.Ln2) > 1e-15 {
		t.Errorf("BCEWithLogits with pos_weight = %v, want %v", got, 3*math.Ln2)
	}
	// KLDiv: target [0.5 0.5 0], input log [0.25 0.75 ...].
	lp := Const(tensor.FromSlice([]float64{math.Log(0.25), math.Log(0.75), -1, math.Log(0.5), math.Log(0.5), -7}, 2, 3))
	p := Const(tensor.FromSlice([]float64{0.5, 0.5, 0, 0.5, 0.5, 0}, 2, 3))
	kl0 := 0.5*math.Log(0.5/0.25) + 0.5*math.Log(0.5/0.75)
	checks := map[Reduction]float64{ReductionSum: kl0, ReductionBatchMean: kl0 / 2, ReductionMean: kl0 / 6}
	for red, want := range checks {
		if got := KLDiv(lp, p, red).Data().Item(); math.Abs(got-want) > 1e-15 {
			t.Errorf("KLDiv %v = %v, want %v", red, got, want)
		}
	}
}

// ceOpts holds a class loss's options as fields, for the tables of tests
// and the reference implementations that read them.
type ceOpts struct {
	Reduction      Reduction
	LabelSmoothing float64
	Weight         []float64
	IgnoreIndex    *int
}

// options returns o as LossOptions (LabelSmoothing only when set, so that
// NLLLoss accepts them).
func (o ceOpts) options() []LossOption {
	opts := []LossOption{o.Reduction}
	if o.LabelSmoothing != 0 {
		opts = append(opts, LabelSmoothing(o.LabelSmoothing))
	}
	if o.Weight != nil {
		opts = append(opts, ClassWeights(o.Weight...))
	}
	if o.IgnoreIndex != nil {
		opts = append(opts, IgnoreIndex(*o.IgnoreIndex))
	}
	return opts
}
