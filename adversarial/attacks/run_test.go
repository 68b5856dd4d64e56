package attacks

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

func TestRunRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	m := testmodels.NewTinyCNN(1)
	good := testmodels.Images(2, 1)
	tm := DefaultThreat()
	nanX := good.Clone()
	nanX.Data()[3] = float32(math.NaN())
	high := good.Clone()
	high.Data()[5] = 1.01
	cases := []struct {
		name string
		a    Attack
		x    *tensor.Tensor
		c    Criterion
		tm   ThreatModel
	}{
		{"outside box", FGSM{}, high, Untargeted(nil), tm},
		{"NaN input", FGSM{}, nanX, Untargeted(nil), tm},
		{"rank 1", FGSM{}, tensor.Zeros(36), Untargeted(nil), tm},
		{"wrong shape for the model", FGSM{}, tensor.Zeros(2, 1, 5, 5), Untargeted(nil), tm},
		{"criterion length", FGSM{}, good, Untargeted{0, 1, 2}, tm},
		{"label out of range", PGD{Steps: 2}, good, Untargeted{0, 7}, tm},
		{"target out of range", FGSM{}, good, Targeted{3, 0}, tm},
		{"negative eps", FGSM{}, good, Untargeted(nil), ThreatModel{Eps: -1}},
		{"bad box", FGSM{}, good, Untargeted(nil), ThreatModel{Eps: 0.1, Lo: 1, Hi: 0}},
		{"nil criterion", FGSM{}, good, nil, tm},
		{"nil attack", nil, good, Untargeted(nil), tm},
		{"negative alpha", PGD{Alpha: -1}, good, Untargeted(nil), tm},
		{"bad sparsity", PGD{L1Sparsity: 1.5}, good, Untargeted(nil), ThreatModel{Norm: L1, Eps: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x0 := c.x.Clone()
			r, err := Run(ctx, c.a, m, c.x, c.c, c.tm)
			if err == nil {
				t.Fatalf("no error; result %v", r)
			}
			t.Log(err)
			if !slices.Equal(x0.Data(), c.x.Data()) && !math.IsNaN(float64(c.x.Data()[3])) {
				t.Error("the input was modified")
			}
			if !m.Training() {
				t.Error("the model was left in eval mode")
			}
		})
	}
	if _, err := RunEps(ctx, FGSM{}, m, good, Untargeted(nil), tm, nil); err == nil {
		t.Error("empty eps list accepted")
	}
}

func TestRunResolvesPredictions(t *testing.T) {
	m := testmodels.NewTinyCNN(2)
	x := testmodels.Images(10, 3)
	r, err := Run(context.Background(), PGD{Steps: 3}, m, x, Untargeted(nil), DefaultThreat())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Criterion.Classes(), testmodels.Predict(m, x); !slices.Equal(got, want) {
		t.Errorf("resolved labels %v, clean predictions %v", got, want)
	}
	if r.Eps != DefaultEps || r.Threat != DefaultThreat() || r.Attack != "PGD-3" || r.Len() != 10 {
		t.Errorf("result fields: %+v", r)
	}
	if got := r.SuccessRate(); got != float64(testmodels.Count(r.Success))/10 {
		t.Errorf("SuccessRate %v", got)
	}
}

func TestRunEps(t *testing.T) {
	m := testmodels.NewTinyCNN(2)
	x := testmodels.Images(30, 5)
	labels := testmodels.Predict(m, x)
	eps := []float64{0, 0.02, 0.1, 0.3}
	rs, err := RunEps(context.Background(), PGD{Steps: 5, RandomStart: true}, m, x, Untargeted(labels), ThreatModel{Norm: Linf}, eps)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(eps) {
		t.Fatalf("%d results for %d eps", len(rs), len(eps))
	}
	prev := -1
	for k, r := range rs {
		if r.Eps != eps[k] || r.Threat.Eps != eps[k] {
			t.Errorf("result %d has eps %v", k, r.Eps)
		}
		for i, v := range r.Norms {
			if v > eps[k] {
				t.Errorf("eps %v sample %d norm %v", eps[k], i, v)
			}
		}
		n := testmodels.Count(r.Success)
		if n < prev {
			t.Errorf("eps %v: %d successes, fewer than %d at a smaller eps", eps[k], n, prev)
		}
		prev = n
	}
	if testmodels.Count(rs[0].Success) != 0 || testmodels.Count(rs[3].Success) == 0 {
		t.Errorf("successes %d at eps 0, %d at eps 0.3", testmodels.Count(rs[0].Success), testmodels.Count(rs[3].Success))
	}
}

// farAttack is a minimum-norm attack stand-in: it returns x moved far along
// a fixed direction and records the threat models it was given.
type farAttack struct{ seen *[]ThreatModel }

func (farAttack) Name() string      { return "far" }
func (farAttack) MinimumNorm() bool { return true }
func (a farAttack) Perturb(_ context.Context, _ *Model, x *tensor.Tensor, _ Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	*a.seen = append(*a.seen, tm)
	out := x.Clone()
	for j := range out.Data() {
		out.Data()[j] = 1 - out.Data()[j]
	}
	return out, nil
}

func TestRunEpsMinimumNorm(t *testing.T) {
	var seen []ThreatModel
	x := testmodels.Images(4, 2)
	eps := []float64{0.1, 0.5, math.Inf(1)}
	for _, norm := range norms {
		seen = nil
		rs, err := RunEps(context.Background(), farAttack{&seen}, testmodels.NewTinyCNN(1), x, Untargeted(nil), ThreatModel{Norm: norm}, eps)
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != 1 || !math.IsInf(seen[0].Eps, 1) {
			t.Fatalf("%v: the attack ran with %v, want once with eps +Inf", norm, seen)
		}
		for k, r := range rs {
			for i, v := range r.Norms {
				if v > eps[k] {
					t.Errorf("%v eps %v: sample %d norm %v", norm, eps[k], i, v)
				}
			}
		}
		if full := (ThreatModel{Norm: norm}).Norms(x, rs[2].Adv); rs[2].Norms[0] != full[0] || full[0] == 0 {
			t.Errorf("%v: unbounded result not kept", norm)
		}
	}
}

// buggyAttack returns what ret makes of the input.
type buggyAttack struct {
	ret func(x *tensor.Tensor) *tensor.Tensor
}

func (buggyAttack) Name() string { return "buggy" }
func (a buggyAttack) Perturb(_ context.Context, _ *Model, x *tensor.Tensor, _ Criterion, _ ThreatModel) (*tensor.Tensor, error) {
	return a.ret(x), nil
}

func TestRunCatchesBuggyAttacks(t *testing.T) {
	x := testmodels.Images(3, 1)
	for name, f := range map[string]func(x *tensor.Tensor) *tensor.Tensor{
		"outside ball": func(x *tensor.Tensor) *tensor.Tensor {
			o := x.Clone()
			o.Data()[40] = float32(math.Mod(float64(o.Data()[40])+0.5, 1))
			return o
		},
		"outside box": func(x *tensor.Tensor) *tensor.Tensor {
			o := x.Clone()
			o.Data()[0] = -0.05
			return o
		},
		"NaN": func(x *tensor.Tensor) *tensor.Tensor {
			o := x.Clone()
			o.Data()[0] = float32(math.NaN())
			return o
		},
		"shape": func(x *tensor.Tensor) *tensor.Tensor { return tensor.Zeros(3, 36) },
		"nil":   func(x *tensor.Tensor) *tensor.Tensor { return nil },
	} {
		if _, err := Run(context.Background(), buggyAttack{f}, testmodels.NewTinyCNN(1), x, Untargeted(nil), DefaultThreat()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Rounding-level excursions are projected, not rejected.
	tiny := func(x *tensor.Tensor) *tensor.Tensor {
		o := x.Clone()
		for j := range o.Data() {
			o.Data()[j] = min(o.Data()[j]+0.1+1e-7, 1)
		}
		return o
	}
	r, err := Run(context.Background(), buggyAttack{tiny}, testmodels.NewTinyCNN(1), x, Untargeted(nil), DefaultThreat())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range r.Norms {
		if v > DefaultEps {
			t.Errorf("norm %v not projected", v)
		}
	}
}

func TestWithAttackMode(t *testing.T) {
	m := testmodels.NewTinyCNN(1)
	err := WithAttackMode(m, func(mm *Model) error {
		x := testmodels.Images(3, 1)
		out, err := mm.Outputs(x)
		if err != nil {
			return err
		}
		if mm.NumClasses() != 3 || out.Dim(0) != 3 {
			t.Errorf("outputs %v, classes %d", out.Shape(), mm.NumClasses())
		}
		g, out2, err := mm.Gradient(x, Untargeted(Predictions(out)), nil)
		if err != nil {
			return err
		}
		if !slices.Equal(out.Data(), out2.Data()) {
			t.Error("Gradient's outputs differ from Outputs")
		}
		nz := 0
		for _, v := range g.Data() {
			if v != 0 {
				nz++
			}
		}
		if nz == 0 {
			t.Error("zero input gradient")
		}
		if mm.Forwards() != 6 || mm.Gradients() != 3 {
			t.Errorf("counts: %d forwards, %d gradients", mm.Forwards(), mm.Gradients())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := WithAttackMode(nil, func(*Model) error { return nil }); err == nil {
		t.Error("nil model accepted")
	}
}

// TestGradientMatchesFiniteDifferences checks the input gradient and its sign
// conventions (ascend for Untargeted, descend the target's loss for Targeted)
// against central differences in float64 on a linear model, and that the
// objective is a sum over samples (a sample's gradient does not depend on
// the batch size).
func TestGradientMatchesFiniteDifferences(t *testing.T) {
	const d, k = 5, 3
	rng := tensor.NewRNG(3)
	w := tensor.Uniform[float32](rng, -1, 1, k*d).Data()
	b := tensor.Uniform[float32](rng, -1, 1, k).Data()
	lin := testmodels.Linear(d, k, w, b)
	x := tensor.Uniform[float32](rng, 0, 1, 4, d)
	xent := func(z []float64, y int) float64 {
		mx := math.Inf(-1)
		for _, v := range z {
			mx = math.Max(mx, v)
		}
		var s float64
		for _, v := range z {
			s += math.Exp(v - mx)
		}
		return math.Log(s) + mx - z[y]
	}
	for _, c := range []Criterion{Untargeted{0, 1, 2, 0}, Targeted{2, 2, 0, 1}} {
		sign := 1.0
		if _, ok := c.(Targeted); ok {
			sign = -1
		}
		for _, batch := range []int{4, 1} {
			xb := x.Narrow0(0, batch)
			cb := c.Select([]int{0, 1, 2, 3}[:batch])
			var g *tensor.Tensor
			if err := WithAttackMode(lin, func(mm *Model) error {
				var err error
				g, _, err = mm.Gradient(xb, cb, nil)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < batch; i++ {
				for p := 0; p < d; p++ {
					f := func(h float64) float64 {
						xi := make([]float32, d)
						copy(xi, x.Data()[i*d:(i+1)*d])
						z := make([]float64, k)
						for j := 0; j < k; j++ {
							z[j] = float64(b[j])
							for q := 0; q < d; q++ {
								v := float64(xi[q])
								if q == p {
									v += h
								}
								z[j] += float64(w[j*d+q]) * v
							}
						}
						return sign * xent(z, c.Classes()[i])
					}
					fd := (f(1e-6) - f(-1e-6)) / 2e-6
					if got := float64(g.Data()[i*d+p]); math.Abs(got-fd) > 1e-4 {
						t.Errorf("%T batch %d sample %d pixel %d: gradient %v, finite difference %v", c, batch, i, p, got, fd)
					}
				}
			}
		}
	}
}

func TestMarginLoss(t *testing.T) {
	// A huge true logit must not leak into the max over the other classes.
	out := tensor.FromSlice([]float32{1e30, 2, 3, -5, 0, 7}, 2, 3)
	v := MarginLoss(autograd.Const(out), []int{0, 2}).Data().Data()
	if v[0] != float32(3-1e30) || v[1] != 0-7 {
		t.Errorf("MarginLoss = %v", v)
	}
	// The gradient goes to the runner-up (+1) and the true class (-1).
	xv := autograd.Param(tensor.FromSlice([]float32{1, 4, 3}, 1, 3))
	g := autograd.Grads(autograd.SumAll(MarginLoss(xv, []int{0})), xv)[0]
	if !slices.Equal(g.Data(), []float32{-1, 1, 0}) {
		t.Errorf("MarginLoss gradient = %v", g.Data())
	}
}

// noisy is a randomised model: a Linear layer applied to x plus Gaussian
// noise drawn from its own generator on every pass.
type noisy struct {
	layers.Base
	fc  *layers.Linear
	rng *tensor.RNG
}

func (n *noisy) Forward(x *autograd.Value) *autograd.Value {
	noise := tensor.Normal[float32](n.rng, 0, 0.5, x.Shape()...)
	return layers.Call(n.fc, autograd.Add(x, autograd.Const(noise)))
}

func TestExpectation(t *testing.T) {
	m := &noisy{fc: layers.NewLinear(4, 3, tensor.NewRNG(1))}
	layers.Register(&m.Base, "fc", m.fc)
	x := tensor.Uniform[float32](tensor.NewRNG(2), 0, 1, 5, 4)
	c := Untargeted{0, 1, 2, 0, 1}
	var eg, eo, sg, so *tensor.Tensor
	var fwd int
	m.rng = tensor.NewRNG(7)
	if err := WithAttackMode(m, func(mm *Model) error {
		v := mm.Expectation(4)
		if v.Samples() != 4 || mm.Samples() != 1 {
			t.Errorf("samples %d and %d", v.Samples(), mm.Samples())
		}
		var err error
		eg, eo, err = v.Gradient(x, c, MarginLoss)
		fwd = mm.Forwards() // the view shares the counts
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if fwd != 20 {
		t.Errorf("%d forwards counted, want 4 passes of 5", fwd)
	}
	// The same draws, one pass at a time, averaged by hand.
	m.rng = tensor.NewRNG(7)
	if err := WithAttackMode(m, func(mm *Model) error {
		for k := 0; k < 4; k++ {
			g, o, err := mm.Gradient(x, c, MarginLoss)
			if err != nil {
				return err
			}
			if sg == nil {
				sg, so = g.Clone(), o.Clone()
			} else {
				tensor.AddInPlace(sg, g)
				tensor.AddInPlace(so, o)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tensor.ScaleInPlace(sg, 0.25)
	tensor.ScaleInPlace(so, 0.25)
	if !slices.Equal(eg.Data(), sg.Data()) || !slices.Equal(eo.Data(), so.Data()) {
		t.Error("Expectation(4) is not the mean of 4 passes")
	}
}
