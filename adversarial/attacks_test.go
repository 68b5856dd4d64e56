package adversarial

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
)

type attackCase struct {
	name string
	a    Attack
	norm Norm
	eps  float64
	// iterative attacks keep their best iterate, so they never do worse
	// than the clean input when it is one of their iterates.
	iterative bool
}

func attackCases() []attackCase {
	return []attackCase{
		{"FGSM", FGSM{}, Linf, 0.1, false},
		{"FGM/Linf", FGM{}, Linf, 0.1, false},
		{"FGM/L2", FGM{}, L2, 0.8, false},
		{"BIM/Linf", BIM{Steps: 5}, Linf, 0.1, true},
		{"BIM/L2", BIM{Steps: 5}, L2, 0.8, true},
		{"BIM/L1", BIM{Steps: 5}, L1, 3, true},
		{"PGD/Linf", PGD{Steps: 5, RandomStart: true, Seed: 3}, Linf, 0.1, true},
		{"PGD/L2", PGD{Steps: 5, RandomStart: true, Seed: 3}, L2, 0.8, true},
		{"PGD/L1", PGD{Steps: 5, RandomStart: true, Seed: 3}, L1, 3, true},
		{"PGD/Linf/restarts", PGD{Steps: 3, RandomStart: true, Restarts: 3, Seed: 4}, Linf, 0.05, true},
		{"PGD/Linf/margin", PGD{Steps: 5, RandomStart: true, Loss: MarginLoss, Seed: 5}, Linf, 0.1, true},
		{"PGD/Linf/last", PGD{Steps: 5, RandomStart: true, LastIterate: true, Seed: 6}, Linf, 0.1, true},
		{"MI-FGSM/Linf", MIFGSM{Steps: 5}, Linf, 0.1, true},
		{"MI-FGSM/L2", MIFGSM{Steps: 5}, L2, 0.8, true},
	}
}

// criteria returns the untargeted (true labels) and targeted (next class)
// criteria for labels.
func criteria(labels []int) []Criterion {
	return []Criterion{Untargeted(labels), NextClassTargets(labels, 3)}
}

func critName(c Criterion) string {
	if _, ok := c.(Targeted); ok {
		return "targeted"
	}
	return "untargeted"
}

func TestAttackOracles(t *testing.T) {
	ctx := context.Background()
	x := images(24, 1)
	labels := make([]int, x.Dim(0))
	for i := range labels {
		labels[i] = i % 3
	}
	for _, ac := range attackCases() {
		for _, c := range criteria(labels) {
			t.Run(ac.name+"/"+critName(c), func(t *testing.T) {
				m := newTinyCNN(2)
				tm := ThreatModel{Norm: ac.norm, Eps: ac.eps}
				x0 := x.Clone()
				r, err := Run(ctx, ac.a, m, x, c, tm)
				if err != nil {
					t.Fatal(err)
				}
				t.Run("input not mutated", func(t *testing.T) {
					if !slices.Equal(x.Data(), x0.Data()) {
						t.Fatal("the input was modified")
					}
				})
				t.Run("within eps and box", func(t *testing.T) {
					for i, nrm := range tm.Norms(x, r.Adv) {
						if nrm > ac.eps+1e-6 {
							t.Errorf("sample %d: %v norm %.8f > eps %g", i, ac.norm, nrm, ac.eps)
						}
						if math.Abs(nrm-r.Norms[i]) > 1e-12 {
							t.Errorf("sample %d: Result.Norms %v, recomputed %v", i, r.Norms[i], nrm)
						}
					}
					for _, v := range r.Adv.Data() {
						if v < 0 || v > 1 {
							t.Fatalf("value %v outside [0,1]", v)
						}
					}
				})
				t.Run("success is computed on the result", func(t *testing.T) {
					pred := predict(m, r.Adv)
					if !slices.Equal(pred, r.Pred) {
						t.Fatalf("Result.Pred %v, model on Adv %v", r.Pred, pred)
					}
					for i, p := range pred {
						want := p != labels[i]
						if tg, ok := c.(Targeted); ok {
							want = p == tg[i]
						}
						if r.Success[i] != want {
							t.Fatalf("sample %d: Success %v, prediction %d", i, r.Success[i], p)
						}
					}
				})
				t.Run("attack does its job", func(t *testing.T) {
					clean := predict(m, x)
					switch cc := c.(type) {
					case Untargeted:
						ca, ra := accuracy(clean, labels), r.Accuracy(labels)
						if ra > ca {
							t.Errorf("robust accuracy %.3f > clean accuracy %.3f", ra, ca)
						}
						if ra >= ca && ca > 0 {
							t.Errorf("the attack did not lower accuracy (%.3f)", ca)
						}
					case Targeted:
						before := count(cc.IsAdversarialClass(clean))
						after := count(r.Success)
						if after <= before {
							t.Errorf("hits on the target: %d before, %d after", before, after)
						}
					}
				})
				t.Run("eps 0 returns the input", func(t *testing.T) {
					r0, err := Run(ctx, ac.a, m, x, c, tm.WithEps(0))
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(r0.Adv.Data(), x.Data()) {
						t.Fatal("eps 0 changed the input")
					}
					for i, v := range r0.Norms {
						if v != 0 {
							t.Fatalf("sample %d: norm %v at eps 0", i, v)
						}
					}
				})
				t.Run("batch equals rows alone", func(t *testing.T) {
					d := x.Len() / x.Dim(0)
					for _, i := range []int{0, 5, 23} {
						ri, err := Run(ctx, ac.a, m, x.Narrow0(i, 1), c.Select([]int{i}), tm)
						if err != nil {
							t.Fatal(err)
						}
						if !slices.Equal(ri.Adv.Data(), r.Adv.Data()[i*d:(i+1)*d]) {
							t.Fatalf("row %d attacked alone differs from its row in the batch", i)
						}
					}
				})
				t.Run("repeatable", func(t *testing.T) {
					r2, err := Run(ctx, ac.a, m, x, c, tm)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(r2.Adv.Data(), r.Adv.Data()) {
						t.Fatal("the same seed gave a different result")
					}
				})
			})
		}
	}
}

// TestAttackModelState checks the honesty rules about the model: eval mode
// and frozen parameters during the attack, everything restored after, and
// BatchNorm statistics that never move.
func TestAttackModelState(t *testing.T) {
	for _, ac := range attackCases() {
		t.Run(ac.name, func(t *testing.T) {
			m := newTinyCNN(3)
			layers.Train(m)
			layers.SetTraining(m.fc, false)    // a sub-module in eval: must stay so
			m.conv.Bias.SetRequiresGrad(false) // a frozen parameter: must stay so
			mean := m.bn.RunningMean.Clone()
			vr := m.bn.RunningVar.Clone()
			tracked := m.bn.NumBatchesTracked
			var calls int
			m.probe = func() {
				calls++
				for _, nm := range layers.Modules(m) {
					if nm.Module.Core().Training() {
						t.Errorf("module %q in training mode during the attack", nm.Name)
					}
				}
				for _, np := range layers.NamedParameters(m) {
					if np.Param.RequiresGrad() {
						t.Errorf("parameter %s requires a gradient during the attack", np.Name)
					}
				}
			}
			x := images(8, 4)
			if _, err := Run(context.Background(), ac.a, m, x, Untargeted(nil), ThreatModel{Norm: ac.norm, Eps: ac.eps}); err != nil {
				t.Fatal(err)
			}
			if calls == 0 {
				t.Fatal("the model was never called")
			}
			m.probe = nil
			if !m.Training() || !m.conv.Training() || !m.bn.Training() || m.fc.Training() {
				t.Errorf("modes not restored: root %v conv %v bn %v fc %v", m.Training(), m.conv.Training(), m.bn.Training(), m.fc.Training())
			}
			for _, np := range layers.NamedParameters(m) {
				want := np.Name != "conv.bias"
				if np.Param.RequiresGrad() != want {
					t.Errorf("parameter %s: requires-grad %v after the attack, want %v", np.Name, np.Param.RequiresGrad(), want)
				}
				if np.Param.Grad() != nil {
					t.Errorf("parameter %s got a gradient", np.Name)
				}
			}
			if !slices.Equal(mean.Data(), m.bn.RunningMean.Data()) || !slices.Equal(vr.Data(), m.bn.RunningVar.Data()) || tracked != m.bn.NumBatchesTracked {
				t.Error("BatchNorm running statistics moved during the attack")
			}
		})
	}
}

// TestAttackRestoresOnError checks that a failing run restores the model too.
func TestAttackRestoresOnError(t *testing.T) {
	m := newTinyCNN(3)
	layers.Train(m)
	m.probe = func() { panic("boom") }
	_, err := Run(context.Background(), PGD{Steps: 2}, m, images(2, 1), Untargeted(nil), DefaultThreat())
	if err == nil {
		t.Fatal("no error from a panicking model")
	}
	if !m.Training() || !m.bn.Training() {
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
				m := linearModel(d, k, w, b)
				x := tensor.Uniform[float32](rng, 0.2, 0.8, 8, d) // interior: no clipping
				labels := make([]int, 8)
				for i := range labels {
					labels[i] = i % k
				}
				r, err := Run(context.Background(), FGSM{Loss: loss.f}, m, x, Untargeted(labels), ThreatModel{Norm: Linf, Eps: eps})
				if err != nil {
					t.Fatal(err)
				}
				z := logitsOf(w, b, x.Data(), d, k)
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

func logitsOf(w, b, x []float32, d, k int) [][]float64 {
	n := len(x) / d
	z := make([][]float64, n)
	for i := range z {
		z[i] = make([]float64, k)
		for j := 0; j < k; j++ {
			s := float64(b[j])
			for p := 0; p < d; p++ {
				s += float64(w[j*d+p]) * float64(x[i*d+p])
			}
			z[i][j] = s
		}
	}
	return z
}

// TestFGML2ClosedFormLinear: on a two-class linear model the L2 step is eps
// along (w_1 - w_0)/||w_1 - w_0|| (away from class 0), of norm exactly eps.
func TestFGML2ClosedFormLinear(t *testing.T) {
	const d, eps = 40, 0.3
	rng := tensor.NewRNG(13)
	w := tensor.Uniform[float32](rng, -1, 1, 2*d).Data()
	m := linearModel(d, 2, w, []float32{0.05, -0.05})
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
	m := linearModel(d, 2, w, []float32{0, 0})
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
	m := newTinyCNN(5)
	x := images(40, 6)
	labels := predict(m, x)
	tm := ThreatModel{Norm: Linf, Eps: 0.3}
	for _, c := range criteria(labels) {
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
			if count(s5) <= count(s1) {
				t.Errorf("restarts found no new adversarial (%d then %d of %d)", count(s1), count(s5), len(s1))
			}
		})
	}
}

// TestBestIterateNotLast checks that the returned point is the best iterate:
// with a step far too large, the last iterate overshoots, the best does not.
func TestBestIterateNotLast(t *testing.T) {
	m := newTinyCNN(7)
	x := images(30, 8)
	labels := predict(m, x)
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

func TestAttackRejectsUnsupportedNorms(t *testing.T) {
	m := newTinyCNN(1)
	x := images(2, 1)
	for _, c := range []struct {
		a    Attack
		norm Norm
	}{{FGSM{}, L2}, {FGSM{}, L1}, {FGM{}, L1}, {MIFGSM{}, L1}} {
		if _, err := Run(context.Background(), c.a, m, x, Untargeted(nil), ThreatModel{Norm: c.norm, Eps: 0.5}); err == nil {
			t.Errorf("%s accepted %v", c.a.Name(), c.norm)
		}
	}
}

func TestAttackCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, PGD{Steps: 50}, newTinyCNN(1), images(2, 1), Untargeted(nil), DefaultThreat())
	if err == nil || !errorsIs(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// Cancelled mid-run: the probe cancels after a few forwards.
	m := newTinyCNN(1)
	ctx, cancel = context.WithCancel(context.Background())
	calls := 0
	m.probe = func() {
		if calls++; calls == 3 {
			cancel()
		}
	}
	_, err = Run(ctx, PGD{Steps: 1000}, m, images(2, 1), Untargeted(nil), DefaultThreat())
	if !errorsIs(err, context.Canceled) || calls > 5 {
		t.Fatalf("err = %v after %d forwards, want context.Canceled soon", err, calls)
	}
}

func TestAttackNames(t *testing.T) {
	for _, c := range []struct {
		a    Attack
		want string
	}{
		{FGSM{}, "FGSM"}, {FGM{}, "FGM"}, {BIM{}, "BIM-10"}, {PGD{Steps: 20}, "PGD-20"},
		{PGD{Steps: 20, Restarts: 5}, "PGD-20x5"}, {MIFGSM{}, "MI-FGSM-10"},
	} {
		if c.a.Name() != c.want {
			t.Errorf("Name %q, want %q", c.a.Name(), c.want)
		}
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
	a := PGD{Steps: 3, RandomStart: true, Seed: 9}
	run := func(procs int, x *tensor.Tensor, c Criterion) *tensor.Tensor {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		r, err := Run(context.Background(), a, m, x, c, DefaultThreat())
		if err != nil {
			t.Fatal(err)
		}
		return r.Adv
	}
	two := run(2, x, Untargeted(y))
	if one := run(1, x, Untargeted(y)); !slices.Equal(one.Data(), two.Data()) {
		t.Error("GOMAXPROCS 1 and 2 give different results")
	}
	d := x.Len() / n
	for _, i := range []int{0, 11, 12, 25} {
		if alone := run(2, x.Narrow0(i, 1), Untargeted(y[i:i+1])); !slices.Equal(alone.Data(), two.Data()[i*d:(i+1)*d]) {
			t.Errorf("row %d alone differs from its row in the batch", i)
		}
	}
}
