package attacks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// TestAttackRestoresOnError checks that a failing run restores the model too.
func TestAttackRestoresOnError(t *testing.T) {
	m := testmodels.NewTinyCNN(3)
	layers.Train(m)
	m.Probe = func() { panic("boom") }
	_, err := Run(context.Background(), PGD{Steps: 2}, m, testmodels.Images(2, 1), Untargeted(nil), DefaultThreat())
	if err == nil {
		t.Fatal("no error from a panicking model")
	}
	if !m.Training() || !m.BN.Training() {
		t.Error("modes not restored after a panic")
	}
	for _, p := range layers.Parameters(m) {
		if !p.RequiresGrad() {
			t.Error("requires-grad not restored after a panic")
		}
	}
}

// TestFGSMClosedFormLinear: on a linear model the best L-inf step against
// the margin between y and y' moves each pixel by eps*sign(w_y' - w_y), and
// FGSM (margin loss for any C; cross-entropy for two classes, whose gradient
// is p_1 (w_1 - w_0)) takes exactly that step where the box does not clip.
func TestFGSMClosedFormLinear(t *testing.T) {
	const d, eps = 30, 0.05
	rng := tensor.NewRNG(9)
	for _, k := range []int{2, 5} {
		for _, loss := range []struct {
			name string
			f    Loss
		}{{"margin", MarginLoss}, {"xent", nil}} {
			if k > 2 && loss.f == nil {
				continue
			}
			t.Run(fmt.Sprintf("C=%d/%s", k, loss.name), func(t *testing.T) {
				w := tensor.Uniform[float32](rng, -1, 1, k*d).Data()
				b := tensor.Uniform[float32](rng, -0.1, 0.1, k).Data()
				m := testmodels.Linear(d, k, w, b)
				x := tensor.Uniform[float32](rng, 0.2, 0.8, 8, d) // interior: no clipping
				labels := make([]int, 8)
				for i := range labels {
					labels[i] = i % k
				}
				r, err := Run(context.Background(), FGSM{Loss: loss.f}, m, x, Untargeted(labels), ThreatModel{Norm: Linf, Eps: eps})
				if err != nil {
					t.Fatal(err)
				}
				z := testmodels.Logits(w, b, x.Data(), d, k)
				for i, y := range labels {
					// y' is the runner-up at x (the max of the margin).
					yp := -1
					for j := 0; j < k; j++ {
						if j != y && (yp < 0 || z[i][j] > z[i][yp]) {
							yp = j
						}
					}
					var gain, best float64
					for p := 0; p < d; p++ {
						dw := float64(w[yp*d+p]) - float64(w[y*d+p])
						want := float64(x.At(i, p)) + eps*math.Copysign(1, dw)
						got := float64(r.Adv.At(i, p))
						if math.Abs(got-want) > 1e-6 {
							t.Fatalf("sample %d pixel %d: %v, closed form %v", i, p, got, want)
						}
						gain += dw * (got - float64(x.At(i, p)))
						best += eps * math.Abs(dw)
					}
					// The step achieves the largest margin gain in the ball.
					if math.Abs(gain-best) > 1e-4 {
						t.Errorf("sample %d: margin gain %v, optimum %v", i, gain, best)
					}
				}
			})
		}
	}
}

// TestFGML2ClosedFormLinear: on a two-class linear model the L2 step is eps
// along (w_1 - w_0)/||w_1 - w_0|| (away from class 0), of norm exactly eps.
func TestFGML2ClosedFormLinear(t *testing.T) {
	const d, eps = 40, 0.3
	rng := tensor.NewRNG(13)
	w := tensor.Uniform[float32](rng, -1, 1, 2*d).Data()
	m := testmodels.Linear(d, 2, w, []float32{0.05, -0.05})
	x := tensor.Uniform[float32](rng, 0.3, 0.7, 6, d)
	labels := []int{0, 1, 0, 1, 0, 1}
	r, err := Run(context.Background(), FGM{}, m, x, Untargeted(labels), ThreatModel{Norm: L2, Eps: eps})
	if err != nil {
		t.Fatal(err)
	}
	var nd float64
	for p := 0; p < d; p++ {
		v := float64(w[d+p]) - float64(w[p])
		nd += v * v
	}
	nd = math.Sqrt(nd)
	for i, y := range labels {
		s := 1.0
		if y == 1 {
			s = -1
		}
		for p := 0; p < d; p++ {
			want := float64(x.At(i, p)) + s*eps*(float64(w[d+p])-float64(w[p]))/nd
			if got := float64(r.Adv.At(i, p)); math.Abs(got-want) > 1e-6 {
				t.Fatalf("sample %d pixel %d: %v, closed form %v", i, p, got, want)
			}
		}
		if math.Abs(r.Norms[i]-eps) > 1e-6 {
			t.Errorf("sample %d: step norm %v, want %v", i, r.Norms[i], eps)
		}
	}
}

// TestPGDLinearReachesCorner: on a two-class linear model PGD-Linf reaches
// the optimal corner x + eps*sign(w_1 - w_0) from any random start.
func TestPGDLinearReachesCorner(t *testing.T) {
	const d, eps = 25, 0.04
	rng := tensor.NewRNG(17)
	w := tensor.Uniform[float32](rng, -1, 1, 2*d).Data()
	m := testmodels.Linear(d, 2, w, []float32{0, 0})
	x := tensor.Uniform[float32](rng, 0.2, 0.8, 5, d)
	labels := []int{0, 0, 0, 0, 0}
	for _, loss := range []Loss{nil, MarginLoss} {
		r, err := Run(context.Background(), PGD{Steps: 12, Alpha: eps / 4, RandomStart: true, Loss: loss, Seed: 1}, m, x, Untargeted(labels), ThreatModel{Norm: Linf, Eps: eps})
		if err != nil {
			t.Fatal(err)
		}
		for i := range labels {
			for p := 0; p < d; p++ {
				want := float64(x.At(i, p)) + eps*math.Copysign(1, float64(w[d+p])-float64(w[p]))
				if got := float64(r.Adv.At(i, p)); math.Abs(got-want) > 1e-6 {
					t.Fatalf("sample %d pixel %d: %v, corner %v", i, p, got, want)
				}
			}
		}
	}
}

// key is an attack result's per-sample quality: adversarial first, then the
// margin.
func keys(r *Result) ([]bool, []float64) { return r.Success, Margins(r.Outputs, r.Criterion) }

func TestRestartsNeverWorse(t *testing.T) {
	m := testmodels.NewTinyCNN(5)
	x := testmodels.Images(40, 6)
	labels := testmodels.Predict(m, x)
	tm := ThreatModel{Norm: Linf, Eps: 0.3}
	for _, c := range criteria(t, labels, 3) {
		t.Run(critName(c), func(t *testing.T) {
			one, err := Run(context.Background(), PGD{Steps: 1, Alpha: 0.15, RandomStart: true, Seed: 8}, m, x, c, tm)
			if err != nil {
				t.Fatal(err)
			}
			five, err := Run(context.Background(), PGD{Steps: 1, Alpha: 0.15, RandomStart: true, Restarts: 5, Seed: 8}, m, x, c, tm)
			if err != nil {
				t.Fatal(err)
			}
			s1, m1 := keys(one)
			s5, m5 := keys(five)
			d := x.Len() / x.Dim(0)
			for i := range s1 {
				if s1[i] && !s5[i] || s1[i] == s5[i] && m5[i] < m1[i] {
					t.Errorf("sample %d: restarts made it worse: (%v, %.4f) -> (%v, %.4f)", i, s1[i], m1[i], s5[i], m5[i])
				}
				if s1[i] && !slices.Equal(one.Adv.Data()[i*d:(i+1)*d], five.Adv.Data()[i*d:(i+1)*d]) {
					t.Errorf("sample %d: fooled by the first run, but the restarts changed it", i)
				}
			}
			if testmodels.Count(s5) <= testmodels.Count(s1) {
				t.Errorf("restarts found no new adversarial (%d then %d of %d)", testmodels.Count(s1), testmodels.Count(s5), len(s1))
			}
		})
	}
}

// TestBestIterateNotLast checks that the returned point is the best iterate:
// with a step far too large, the last iterate overshoots, the best does not.
func TestBestIterateNotLast(t *testing.T) {
	m := testmodels.NewTinyCNN(7)
	x := testmodels.Images(30, 8)
	labels := testmodels.Predict(m, x)
	tm := ThreatModel{Norm: L2, Eps: 1.5}
	best, err := Run(context.Background(), PGD{Steps: 6, Alpha: 1, RandomStart: true, Seed: 2}, m, x, Untargeted(labels), tm)
	if err != nil {
		t.Fatal(err)
	}
	last, err := Run(context.Background(), PGD{Steps: 6, Alpha: 1, RandomStart: true, Seed: 2, LastIterate: true}, m, x, Untargeted(labels), tm)
	if err != nil {
		t.Fatal(err)
	}
	sb, mb := keys(best)
	sl, ml := keys(last)
	better := 0
	for i := range sb {
		if sl[i] && !sb[i] || sl[i] == sb[i] && ml[i] > mb[i]+1e-9 {
			t.Errorf("sample %d: the last iterate (%v, %.4f) beats the returned best (%v, %.4f)", i, sl[i], ml[i], sb[i], mb[i])
		}
		if mb[i] > ml[i]+1e-9 {
			better++
		}
	}
	if better == 0 {
		t.Error("the best iterate was never better than the last: the test does not test anything")
	}
}

func TestAttackCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, PGD{Steps: 50}, testmodels.NewTinyCNN(1), testmodels.Images(2, 1), Untargeted(nil), DefaultThreat())
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// Cancelled mid-run: the probe cancels after a few forwards.
	m := testmodels.NewTinyCNN(1)
	ctx, cancel = context.WithCancel(context.Background())
	calls := 0
	m.Probe = func() {
		if calls++; calls == 3 {
			cancel()
		}
	}
	_, err = Run(ctx, PGD{Steps: 1000}, m, testmodels.Images(2, 1), Untargeted(nil), DefaultThreat())
	if !errors.Is(err, context.Canceled) || calls > 5 {
		t.Fatalf("err = %v after %d forwards, want context.Canceled soon", err, calls)
	}
}

// TestSmallCNNRepeatable checks, on the benchmark model (whose layers run in
// parallel), that a seeded attack gives the same bits for any GOMAXPROCS and
// that a batch equals its rows attacked alone.
func TestSmallCNNRepeatable(t *testing.T) {
	m := models.NewSmallCNN(10, tensor.NewRNG(3))
	const n = 26 // not a multiple of the GEMM kernels' row blocks
	x := tensor.Uniform[float32](tensor.NewRNG(4), 0, 1, n, 1, 28, 28)
	y := make([]int, n)
	for i := range y {
		y[i] = i % 10
	}
	for _, c := range []struct {
		a  Attack
		tm ThreatModel
	}{
		{PGD{Steps: 3, RandomStart: true, Seed: 9}, DefaultThreat()},
		{APGD{Steps: 3, Seed: 9}, ThreatModel{Norm: L1, Eps: 5}},
		{FABT{Steps: 3, Targets: 2, Restarts: 2, Seed: 9}, ThreatModel{Norm: L1, Eps: 5}},
		{FAB{Steps: 2, Restarts: 2, Seed: 9}, ThreatModel{Norm: Linf, Eps: 0.1}},
	} {
		run := func(procs int, x *tensor.Tensor, cr Criterion) *tensor.Tensor {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			r, err := Run(context.Background(), c.a, m, x, cr, c.tm)
			if err != nil {
				t.Fatal(err)
			}
			return r.Adv
		}
		two := run(2, x, Untargeted(y))
		if one := run(1, x, Untargeted(y)); !slices.Equal(one.Data(), two.Data()) {
			t.Errorf("%s: GOMAXPROCS 1 and 2 give different results", c.a.Name())
		}
		d := x.Len() / n
		for _, i := range []int{0, 11, 12, 25} {
			if alone := run(2, x.Narrow0(i, 1), Untargeted(y[i:i+1])); !slices.Equal(alone.Data(), two.Data()[i*d:(i+1)*d]) {
				t.Errorf("%s: row %d alone differs from its row in the batch", c.a.Name(), i)
			}
		}
	}
}

// TestAttackRejectsBadSettings: an attack given a norm it does not
// support, an unusable setting or too few classes returns an error.
func TestAttackRejectsBadSettings(t *testing.T) {
	m := testmodels.NewSmallNet(1, testmodels.SynthClasses)
	three := testmodels.NewTinyCNN(1) // 3 classes
	x := testmodels.Images(2, 1)
	for _, c := range []struct {
		name  string
		a     Attack
		model layers.Module
		tm    ThreatModel
	}{
		{"FGSM L2", FGSM{}, three, ThreatModel{Norm: L2, Eps: 0.5}},
		{"FGSM L1", FGSM{}, three, ThreatModel{Norm: L1, Eps: 0.5}},
		{"FGM L1", FGM{}, three, ThreatModel{Norm: L1, Eps: 0.5}},
		{"MI-FGSM L1", MIFGSM{}, three, ThreatModel{Norm: L1, Eps: 0.5}},
		{"CW Linf", CW{Steps: 2}, m, ThreatModel{Norm: Linf, Eps: 0.1}},
		{"DeepFool L1", DeepFool{}, m, ThreatModel{Norm: L1, Eps: 1}},
		{"APGD EOT", APGD{Steps: 2, EOT: -1}, m, ThreatModel{Norm: Linf, Eps: 0.1}},
		{"APGD infinite eps", APGD{Steps: 2}, m, ThreatModel{Norm: Linf, Eps: math.Inf(1)}},
		{"APGD rho", APGD{Steps: 2, Rho: 2}, m, ThreatModel{Norm: Linf, Eps: 0.1}},
		{"APGD-T on 3 classes", APGDT{Steps: 2}, three, ThreatModel{Norm: Linf, Eps: 0.1}},
		{"EOT nil", EOT{}, m, ThreatModel{Norm: Linf, Eps: 0.1}},
		{"CW negative kappa", CW{Confidence: -1}, m, ThreatModel{Norm: L2, Eps: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Run(context.Background(), c.a, c.model, x, Untargeted(nil), c.tm); err == nil {
				t.Errorf("%s accepted", c.name)
			}
		})
	}
}

func TestAttackNames(t *testing.T) {
	for _, c := range []struct {
		a    Attack
		want string
	}{
		{FGSM{}, "FGSM"}, {FGM{}, "FGM"}, {BIM{}, "BIM-10"}, {PGD{Steps: 20}, "PGD-20"},
		{PGD{Steps: 20, Restarts: 5}, "PGD-20x5"}, {MIFGSM{}, "MI-FGSM-10"},
		{CW{}, "CW-L2"}, {DeepFool{}, "DeepFool"}, {APGD{}, "APGD-CE"}, {APGD{Loss: APGDDLR}, "APGD-DLR"},
		{APGDT{}, "APGD-T"}, {APGD{EOT: 20}, "APGD-CE-EOT20"}, {APGDT{EOT: 1}, "APGD-T"}, {FAB{}, "FAB"}, {FABT{}, "FAB-T"}, {EOT{Attack: PGD{Steps: 20}}, "EOT16(PGD-20)"}, {EOT{Attack: FGSM{}, Samples: 4}, "EOT4(FGSM)"},
		{KLPGD{}, "TRADES-KL-PGD-10"}, {UnboundedPGD{}, "PGD-50-unbounded"},
	} {
		if c.a.Name() != c.want {
			t.Errorf("Name %q, want %q", c.a.Name(), c.want)
		}
	}
	for _, c := range []struct {
		a    Attack
		want bool
	}{{CW{}, true}, {DeepFool{}, true}, {EOT{Attack: DeepFool{}}, true}, {EOT{Attack: PGD{}}, false}} {
		mn, ok := c.a.(MinimumNormAttack)
		if got := ok && mn.MinimumNorm(); got != c.want {
			t.Errorf("%s: minimum-norm %v, want %v", c.a.Name(), got, c.want)
		}
	}
}
