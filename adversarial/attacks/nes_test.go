package attacks

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/tensor"
)

// linMargins returns z_y - max_{j != y} z_j per sample.
func linMargins(z [][]float64, y []int) []float64 {
	out := make([]float64, len(z))
	for i, row := range z {
		best := math.Inf(-1)
		for j, v := range row {
			if j != y[i] {
				best = math.Max(best, v)
			}
		}
		out[i] = row[y[i]] - best
	}
	return out
}

// TestEstimatorsLinear: on an affine model, NES (momentum, plateau decay)
// and SPSA (Adam) lower every sample's margin, fool some, stay within the
// ball and the box, and repeat bit for bit with the same seed; a batch
// gives what its rows give alone.
func TestEstimatorsLinear(t *testing.T) {
	const n, d, k = 12, 20, 4
	rng := tensor.NewRNG(61)
	m, w, b := testmodels.RandomLinear(rng, d, k)
	x := tensor.Uniform[float32](rng, 0.3, 0.7, n, d)
	z0 := testmodels.Logits(w, b, x.Data(), d, k)
	y := testmodels.Classes(z0)
	before := linMargins(z0, y)
	for _, c := range []struct {
		a   BlackBoxAttack
		tm  ThreatModel
		min int
	}{
		{NES{Queries: 600, Samples: 10, Seed: 3}, ThreatModel{Norm: Linf, Eps: 0.1}, n / 2},
		{NES{Queries: 600, Samples: 10, Seed: 3}, ThreatModel{Norm: L2, Eps: 0.4}, n / 2},
		{SPSA{Queries: 600, Samples: 10, Seed: 3}, ThreatModel{Norm: Linf, Eps: 0.1}, n / 2},
		{SPSA{Queries: 600, Samples: 10, Seed: 3}, ThreatModel{Norm: L2, Eps: 0.4}, n / 2},
	} {
		name := c.a.Name() + "/" + c.tm.Norm.String()
		run := func(x *tensor.Tensor, y []int) *Result {
			r, err := RunBlackBox(context.Background(), c.a, NewScoreOracle(m, 0), x, Untargeted(y), c.tm)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		r := run(x, y)
		after := linMargins(testmodels.Logits(w, b, r.Adv.Data(), d, k), y)
		for i := range after {
			if after[i] >= before[i] {
				t.Errorf("%s sample %d: margin %.4f, clean %.4f", name, i, after[i], before[i])
			}
		}
		for i, nrm := range c.tm.Norms(x, r.Adv) {
			if nrm > c.tm.Eps+1e-6 {
				t.Errorf("%s sample %d: distance %v > eps", name, i, nrm)
			}
		}
		for _, v := range r.Adv.Data() {
			if v < 0 || v > 1 {
				t.Fatalf("%s: value %v outside the box", name, v)
			}
		}
		t.Logf("%s: %d of %d fooled", name, testmodels.Count(r.Success), n)
		if testmodels.Count(r.Success) < c.min {
			t.Errorf("%s fooled %d samples", name, testmodels.Count(r.Success))
		}
		if again := run(x, y); !slices.Equal(again.Adv.Data(), r.Adv.Data()) {
			t.Errorf("%s: the same seed gave a different result", name)
		}
		for _, i := range []int{0, 5} {
			alone := run(x.Narrow0(i, 1), y[i:i+1])
			if !slices.Equal(alone.Adv.Data(), r.Adv.Data()[i*d:(i+1)*d]) {
				t.Errorf("%s: row %d alone differs from its row in the batch", name, i)
			}
		}
	}
}

// TestSPSAAdamFirstStep: Adam's first update is lr * m/(sqrt(v)+eps) with
// m = g and v = g^2 after bias correction, so every coordinate with a
// non-zero estimate moves by exactly LR (cleverhans' SPSA), not by a sign
// step of eps/10; with eps large the projection does not bind.
func TestSPSAAdamFirstStep(t *testing.T) {
	m := testmodels.TinyLinear()
	x := tensor.FromSlice([]float32{0.6, 0.4, 0.6, 0.4}, 1, 1, 2, 2)
	const lr = 0.03
	const pairs = 4
	a := SPSA{Queries: 1 + 2*pairs + 1, Samples: pairs, LR: lr, Seed: 1}
	r, err := RunBlackBox(context.Background(), a, NewScoreOracle(m, 0), x, Untargeted{0}, ThreatModel{Norm: Linf, Eps: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Queries[0] != 1+2*pairs+1 {
		t.Fatalf("%d queries, want one step (%d)", r.Queries[0], 1+2*pairs+1)
	}
	moved := 0
	for j, v := range r.Adv.Data() {
		dv := math.Abs(float64(v) - float64(x.Data()[j]))
		if dv == 0 {
			continue
		}
		moved++
		if math.Abs(dv-lr) > 1e-6 {
			t.Errorf("coordinate %d moved by %v, want Adam's first step %v", j, dv, lr)
		}
	}
	if moved == 0 {
		t.Fatal("no coordinate moved (or the step was not kept: its margin fell)")
	}
}

// TestNESMomentumAndPlateau: the smoothed estimate follows G_t = mu
// G_{t-1} + (1 - mu) g_t from G_0 = 0, and the step size starts at Alpha
// and is divided by PlateauDrop exactly when the mean probe objective is
// lower than PlateauLength - 1 estimates earlier (the window restarting
// after each drop), never below MinAlpha: the rule recomputed here from the
// traced objectives.
func TestNESMomentumAndPlateau(t *testing.T) {
	const n, d, k = 3, 12, 3
	rng := tensor.NewRNG(71)
	m, _, _ := testmodels.RandomLinear(rng, d, k)
	x := tensor.Uniform[float32](rng, 0.3, 0.7, n, d)
	type rec struct {
		raw      []float32
		smoothed []float64
		mean     float64
		step     float64
	}
	trace := map[int][]rec{}
	estTrace = func(i int, raw []float32, sm []float64, mean, step float64) {
		trace[i] = append(trace[i], rec{slices.Clone(raw), slices.Clone(sm), mean, step})
	}
	defer func() { estTrace = nil }()
	const alpha, minAlpha, mu, drop, plen = 0.02, 0.004, 0.7, 3.0, 3
	// A tiny eps: no sample can be fooled, so each runs all its steps.
	a := NES{Queries: 1 + 40*(2*4+1), Samples: 4, Alpha: alpha, MinAlpha: minAlpha, Momentum: mu, PlateauDrop: drop, PlateauLength: plen, Seed: 5}
	y := testmodels.Predict(m, x)
	if _, err := RunBlackBox(context.Background(), a, NewScoreOracle(m, 0), x, Untargeted(y), ThreatModel{Norm: Linf, Eps: 1e-3}); err != nil {
		t.Fatal(err)
	}
	drops := 0
	for i := 0; i < n; i++ {
		rs := trace[i]
		if len(rs) < 20 {
			t.Fatalf("sample %d: %d steps traced", i, len(rs))
		}
		g := make([]float64, d)
		step := alpha
		var win []float64
		for t0, r := range rs {
			for j := range g {
				g[j] = mu*g[j] + (1-mu)*float64(r.raw[j])
				if math.Abs(g[j]-r.smoothed[j]) > 1e-12*math.Max(1, math.Abs(g[j])) {
					t.Fatalf("sample %d step %d: smoothed[%d] = %v, recursion %v", i, t0, j, r.smoothed[j], g[j])
				}
			}
			win = append(win, r.mean)
			if len(win) > plen {
				win = win[1:]
			}
			if len(win) == plen && win[plen-1] < win[0] {
				step = math.Max(step/drop, minAlpha)
				win = nil
				drops++
			}
			if r.step != step {
				t.Fatalf("sample %d step %d: step size %v, rule %v", i, t0, r.step, step)
			}
		}
	}
	t.Logf("%d plateau drops over %d samples", drops, n)
	if drops == 0 {
		t.Error("the plateau rule never fired: the test does not exercise it")
	}
}
