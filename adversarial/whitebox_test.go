package adversarial

import (
	"context"
	"math"
	"slices"
	"sort"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// phase2Cases are the white-box attacks of this file's tests, with the
// threat models they are checked under.
func phase2Cases() []attackCase {
	cw := CW{BinarySteps: 5, Steps: 60, LR: 0.05}
	return []attackCase{
		{"CW/L2", cw, L2, 0.8, true},
		{"CW/L2/kappa", CW{BinarySteps: 6, Steps: 40, LR: 0.05, Confidence: 0.05}, L2, 0.8, true},
		{"DeepFool/L2", DeepFool{}, L2, 0.8, true},
		{"DeepFool/Linf", DeepFool{}, Linf, 0.1, true},
		{"DeepFool/L2/2 candidates", DeepFool{Candidates: 2}, L2, 0.8, true},
		{"APGD-CE/Linf", APGD{Steps: 12, Seed: 3}, Linf, 0.1, true},
		{"APGD-CE/L2", APGD{Steps: 12, Seed: 3}, L2, 0.8, true},
		{"APGD-DLR/Linf", APGD{Steps: 12, Loss: APGDDLR, Seed: 4}, Linf, 0.1, true},
		{"APGD-DLR/L2", APGD{Steps: 12, Loss: APGDDLR, Seed: 4}, L2, 0.8, true},
		{"APGD-CE/Linf/restarts", APGD{Steps: 6, Restarts: 3, Seed: 5}, Linf, 0.1, true},
		{"APGD-T/Linf", APGDT{Steps: 8, Targets: 3, Seed: 6}, Linf, 0.1, true},
		{"APGD-T/L2", APGDT{Steps: 8, Targets: 3, Seed: 6}, L2, 0.8, true},
		{"EOT2(PGD)/Linf", EOT{Attack: PGD{Steps: 5, RandomStart: true, Seed: 3}, Samples: 2}, Linf, 0.1, true},
		{"EOT2(DeepFool)/L2", EOT{Attack: DeepFool{}, Samples: 2}, L2, 0.8, true},
	}
}

// TestPhase2AttackOracles runs the checks of TestAttackOracles on the
// attacks of phase 2, on a 5-class net (APGD-T needs 4 classes).
func TestPhase2AttackOracles(t *testing.T) {
	ctx := context.Background()
	x := images(24, 1)
	labels := make([]int, x.Dim(0))
	for i := range labels {
		labels[i] = i % synthClasses
	}
	for _, ac := range phase2Cases() {
		for _, c := range []Criterion{Untargeted(labels), NextClassTargets(labels, synthClasses)} {
			t.Run(ac.name+"/"+critName(c), func(t *testing.T) {
				m := newSmallNet(2, synthClasses)
				tm := ThreatModel{Norm: ac.norm, Eps: ac.eps}
				x0 := x.Clone()
				r, err := Run(ctx, ac.a, m, x, c, tm)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(x.Data(), x0.Data()) {
					t.Fatal("the input was modified")
				}
				for i, nrm := range tm.Norms(x, r.Adv) {
					if nrm > ac.eps+1e-6 {
						t.Errorf("sample %d: %v norm %.8f > eps %g", i, ac.norm, nrm, ac.eps)
					}
				}
				for _, v := range r.Adv.Data() {
					if v < 0 || v > 1 {
						t.Fatalf("value %v outside [0,1]", v)
					}
				}
				pred := predict(m, r.Adv)
				if !slices.Equal(pred, r.Pred) {
					t.Fatalf("Result.Pred %v, model on Adv %v", r.Pred, pred)
				}
				if want := c.IsAdversarialClass(pred); !slices.Equal(r.Success, want) {
					t.Fatalf("Result.Success %v, criterion on the model's predictions %v", r.Success, want)
				}
				clean := predict(m, x)
				switch cc := c.(type) {
				case Untargeted:
					ca, ra := accuracy(clean, labels), r.Accuracy(labels)
					if ra >= ca {
						t.Errorf("robust accuracy %.3f, clean %.3f: the attack did not lower it", ra, ca)
					}
				case Targeted:
					before, after := count(cc.IsAdversarialClass(clean)), count(r.Success)
					if after <= before {
						t.Errorf("hits on the target: %d before, %d after", before, after)
					}
				}
				r0, err := Run(ctx, ac.a, m, x, c, tm.WithEps(0))
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(r0.Adv.Data(), x.Data()) {
					t.Error("eps 0 changed the input")
				}
				d := x.Len() / x.Dim(0)
				for _, i := range []int{0, 7, 23} {
					ri, err := Run(ctx, ac.a, m, x.Narrow0(i, 1), c.Select([]int{i}), tm)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(ri.Adv.Data(), r.Adv.Data()[i*d:(i+1)*d]) {
						t.Errorf("row %d attacked alone differs from its row in the batch", i)
					}
				}
				r2, err := Run(ctx, ac.a, m, x, c, tm)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(r2.Adv.Data(), r.Adv.Data()) {
					t.Error("the same seed gave a different result")
				}
			})
		}
	}
}

// TestPhase2AttackModelState: eval mode and frozen parameters during the
// attack, modes and flags restored after, BatchNorm statistics unmoved.
func TestPhase2AttackModelState(t *testing.T) {
	for _, ac := range phase2Cases() {
		t.Run(ac.name, func(t *testing.T) {
			m := newSmallNet(3, synthClasses)
			layers.Train(m)
			layers.SetTraining(m.fc, false)
			m.conv.Bias.SetRequiresGrad(false)
			mean, vr, tracked := m.bn.RunningMean.Clone(), m.bn.RunningVar.Clone(), m.bn.NumBatchesTracked
			calls := 0
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
			if _, err := Run(context.Background(), ac.a, m, images(6, 4), Untargeted(nil), ThreatModel{Norm: ac.norm, Eps: ac.eps}); err != nil {
				t.Fatal(err)
			}
			m.probe = nil
			if calls == 0 {
				t.Fatal("the model was never called")
			}
			if !m.Training() || !m.conv.Training() || !m.bn.Training() || m.fc.Training() {
				t.Error("modes not restored")
			}
			for _, np := range layers.NamedParameters(m) {
				if want := np.Name != "conv.bias"; np.Param.RequiresGrad() != want {
					t.Errorf("parameter %s: requires-grad %v after the attack", np.Name, np.Param.RequiresGrad())
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

func TestPhase2AttackErrors(t *testing.T) {
	m := newSmallNet(1, synthClasses)
	three := newTinyCNN(1) // 3 classes
	x := images(2, 1)
	for _, c := range []struct {
		name  string
		a     Attack
		model layers.Module
		tm    ThreatModel
	}{
		{"CW Linf", CW{Steps: 2}, m, ThreatModel{Norm: Linf, Eps: 0.1}},
		{"DeepFool L1", DeepFool{}, m, ThreatModel{Norm: L1, Eps: 1}},
		{"APGD L1", APGD{}, m, ThreatModel{Norm: L1, Eps: 1}},
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

func TestPhase2AttackNames(t *testing.T) {
	for _, c := range []struct {
		a    Attack
		want string
	}{
		{CW{}, "CW-L2"}, {DeepFool{}, "DeepFool"}, {APGD{}, "APGD-CE"}, {APGD{Loss: APGDDLR}, "APGD-DLR"},
		{APGDT{}, "APGD-T"}, {EOT{Attack: PGD{Steps: 20}}, "EOT16(PGD-20)"}, {EOT{Attack: FGSM{}, Samples: 4}, "EOT4(FGSM)"},
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

// randomLinear returns a k-class linear model on d inputs with weights in
// [-1, 1] and biases in [-0.1, 0.1], and its weights.
func randomLinear(rng *tensor.RNG, d, k int) (*layers.Linear, []float32, []float32) {
	w := tensor.Uniform[float32](rng, -1, 1, k*d).Data()
	b := tensor.Uniform[float32](rng, -0.1, 0.1, k).Data()
	return linearModel(d, k, w, b), w, b
}

// TestDeepFoolLinearOneStep: on a linear model DeepFool reaches the nearest
// boundary in one step, at the closed-form distance (1 + overshoot) *
// (min_k |f_k| / ||w_k - w_y||_q + 1e-4), along w_k* - w_y (L2) or its sign
// (Linf), and the point is adversarial.
func TestDeepFoolLinearOneStep(t *testing.T) {
	const d, k = 30, 6
	rng := tensor.NewRNG(21)
	for _, norm := range []Norm{L2, Linf} {
		for _, over := range []float64{0, 0.1} {
			m, w, b := randomLinear(rng, d, k)
			x := tensor.Uniform[float32](rng, 0.4, 0.6, 10, d) // interior: no clipping
			z := logitsOf(w, b, x.Data(), d, k)
			labels := make([]int, 10)
			for i := range labels {
				labels[i] = argmax64(z[i])
			}
			a := DeepFool{Candidates: k, Overshoot: over}
			r, err := Run(context.Background(), a, m, x, Untargeted(labels), ThreatModel{Norm: norm, Eps: math.Inf(1)})
			if err != nil {
				t.Fatal(err)
			}
			ov := over
			if ov == 0 {
				ov = 0.02
			}
			for i, y := range labels {
				best, bk := math.Inf(1), -1
				for j := 0; j < k; j++ {
					if j == y {
						continue
					}
					var dn float64
					for p := 0; p < d; p++ {
						v := math.Abs(float64(w[j*d+p]) - float64(w[y*d+p]))
						if norm == L2 {
							dn += v * v
						} else {
							dn += v
						}
					}
					if norm == L2 {
						dn = math.Sqrt(dn)
					}
					if dist := (z[i][y] - z[i][j]) / dn; dist < best {
						best, bk = dist, j
					}
				}
				want := (1 + ov) * (best + 1e-4)
				if math.Abs(r.Norms[i]-want) > 1e-4*want+1e-6 {
					t.Errorf("%v overshoot %g, sample %d: distance %.6f, closed form %.6f", norm, ov, i, r.Norms[i], want)
				}
				if !r.Success[i] {
					t.Errorf("%v sample %d: the one-step point is not adversarial", norm, i)
				}
				// The step is along w_k* - w_y (or its sign).
				var dot, nd, nr float64
				for p := 0; p < d; p++ {
					dw := float64(w[bk*d+p]) - float64(w[y*d+p])
					if norm == Linf {
						dw = math.Copysign(1, dw)
					}
					rp := float64(r.Adv.At(i, p)) - float64(x.At(i, p))
					dot, nd, nr = dot+dw*rp, nd+dw*dw, nr+rp*rp
				}
				if cos := dot / math.Sqrt(nd*nr); cos < 1-1e-6 {
					t.Errorf("%v sample %d: step at cosine %.8f from the closed-form direction", norm, i, cos)
				}
			}
		}
	}
}

func argmax64(v []float64) int {
	b := 0
	for j, x := range v {
		if x > v[b] {
			b = j
		}
	}
	return b
}

// TestCWLinearMinimumNorm: on a two-class linear model the smallest L2
// perturbation that flips the class is |f(x)| / ||w_1 - w_0||; C&W's result
// is adversarial, never closer (that would be impossible) and within 2% of
// it.
func TestCWLinearMinimumNorm(t *testing.T) {
	const d = 20
	rng := tensor.NewRNG(31)
	m, w, b := randomLinear(rng, d, 2)
	x := tensor.Uniform[float32](rng, 0.35, 0.65, 8, d)
	z := logitsOf(w, b, x.Data(), d, 2)
	labels := make([]int, 8)
	for i := range labels {
		labels[i] = argmax64(z[i])
	}
	var nw float64
	for p := 0; p < d; p++ {
		v := float64(w[d+p]) - float64(w[p])
		nw += v * v
	}
	nw = math.Sqrt(nw)
	for _, c := range []Criterion{Untargeted(labels), NextClassTargets(labels, 2)} {
		r, err := Run(context.Background(), CW{BinarySteps: 10, Steps: 300, LR: 0.01}, m, x, c, ThreatModel{Norm: L2, Eps: math.Inf(1)})
		if err != nil {
			t.Fatal(err)
		}
		for i := range labels {
			exact := math.Abs(z[i][1]-z[i][0]) / nw
			if !r.Success[i] {
				t.Fatalf("%s sample %d: not adversarial", critName(c), i)
			}
			if r.Norms[i] < exact*(1-1e-4) || r.Norms[i] > exact*1.02 {
				t.Errorf("%s sample %d: L2 %.5f, minimum %.5f", critName(c), i, r.Norms[i], exact)
			}
		}
	}
}

// TestCWHingeMasksTrueLogit: f6 takes the max over the other classes with
// the true class excluded, even when every logit is hugely negative (a
// "set the true class to -1e4" mask would pick the true class itself), and
// its gradient goes to the true class and the best other class only.
func TestCWHingeMasksTrueLogit(t *testing.T) {
	logits := []float32{-2e5, -3e5, -2.5e5, -4e5}
	for _, c := range []struct {
		targeted bool
		class    int
		want     float64
		grad     []float32
	}{
		{false, 0, 0.5e5 + 1, []float32{1, 0, -1, 0}}, // z_0 - z_2 + kappa
		{true, 3, 2e5 + 1, []float32{1, 0, 0, -1}},    // z_0 - z_3 + kappa
	} {
		z := autograd.Param(tensor.FromSlice(slices.Clone(logits), 1, 4))
		h := cwHinge(z, []int{c.class}, c.targeted, 1)
		if got := float64(h.Data().Item()); math.Abs(got-c.want) > 1 {
			t.Errorf("targeted %v: f6 %v, want %v", c.targeted, got, c.want)
		}
		g := autograd.Grads(autograd.SumAll(h), nil, z)[0]
		if !slices.Equal(g.Data(), c.grad) {
			t.Errorf("targeted %v: gradient %v, want %v", c.targeted, g.Data(), c.grad)
		}
	}
	// The hinge is 0 once the margin is reached.
	z := autograd.Const(tensor.FromSlice([]float32{0, 3, 1}, 1, 3))
	if v := cwHinge(z, []int{0}, false, 2).Data().Item(); v != 0 {
		t.Errorf("hinge %v past the margin", v)
	}
}

// TestMinimumNormOnTrainedNet: C&W and DeepFool (L2 and Linf) succeed on
// every sample of a small trained model, with finite norms; C&W, which
// optimises the norm, finds smaller L2 perturbations than DeepFool, and
// every DeepFool point is adversarial.
func TestMinimumNormOnTrainedNet(t *testing.T) {
	m := trainedSmallNet(t)
	x, y := synthData(40, 9)
	clean := accuracy(predict(m, x), y)
	if clean < 0.8 {
		t.Fatalf("clean accuracy %.3f: the net did not train", clean)
	}
	med := map[string]float64{}
	for _, c := range []struct {
		name string
		a    Attack
		norm Norm
	}{
		{"CW", CW{BinarySteps: 8, Steps: 200, LR: 0.02}, L2},
		{"DeepFool/L2", DeepFool{}, L2},
		{"DeepFool/Linf", DeepFool{}, Linf},
	} {
		r, err := Run(context.Background(), c.a, m, x, Untargeted(y), ThreatModel{Norm: c.norm, Eps: math.Inf(1)})
		if err != nil {
			t.Fatal(err)
		}
		if r.SuccessRate() != 1 {
			t.Errorf("%s: success %.3f, want every sample", c.name, r.SuccessRate())
		}
		for i, v := range r.Norms {
			if math.IsNaN(v) || math.IsInf(v, 0) || (v == 0 && predict(m, x.Narrow0(i, 1))[0] == y[i]) {
				t.Errorf("%s sample %d: norm %v", c.name, i, v)
			}
		}
		l2 := ThreatModel{Norm: L2}.Norms(x, r.Adv)
		sort.Float64s(l2)
		med[c.name] = l2[len(l2)/2]
	}
	t.Logf("median L2 norms: C&W %.4f, DeepFool-L2 %.4f, DeepFool-Linf (L2 of) %.4f", med["CW"], med["DeepFool/L2"], med["DeepFool/Linf"])
	if med["CW"] > med["DeepFool/L2"] {
		t.Errorf("C&W median L2 %.4f above DeepFool's %.4f", med["CW"], med["DeepFool/L2"])
	}
}

// TestAPGDNotWorseThanPGD: at the same budget (steps, eps), APGD-CE leaves
// at most the robust accuracy PGD leaves on a trained model, and APGD-T at
// most APGD-CE's... on this model at least as strong as PGD.
func TestAPGDNotWorseThanPGD(t *testing.T) {
	m := trainedSmallNet(t)
	x, y := synthData(120, 11)
	for _, tm := range []ThreatModel{{Norm: Linf, Eps: 0.06}, {Norm: L2, Eps: 0.3}} {
		acc := map[string]float64{}
		for _, c := range []struct {
			name string
			a    Attack
		}{
			{"PGD", PGD{Steps: 20, RandomStart: true, Seed: 1}},
			{"APGD-CE", APGD{Steps: 20, Seed: 1}},
			{"APGD-DLR", APGD{Steps: 20, Loss: APGDDLR, Seed: 1}},
		} {
			r, err := Run(context.Background(), c.a, m, x, Untargeted(y), tm)
			if err != nil {
				t.Fatal(err)
			}
			acc[c.name] = r.Accuracy(y)
		}
		t.Logf("%v: clean %.3f, PGD-20 %.3f, APGD-CE-20 %.3f, APGD-DLR-20 %.3f", tm, accuracy(predict(m, x), y), acc["PGD"], acc["APGD-CE"], acc["APGD-DLR"])
		if acc["APGD-CE"] > acc["PGD"] {
			t.Errorf("%v: APGD-CE robust accuracy %.3f above PGD's %.3f at the same budget", tm, acc["APGD-CE"], acc["PGD"])
		}
		if acc["PGD"] >= accuracy(predict(m, x), y) {
			t.Errorf("%v: PGD did not lower accuracy: the eps is too small for the test to mean anything", tm)
		}
	}
}

// TestAPGDCheckpoints: the checkpoints of the paper, p = 0, 0.22, 0.41,
// 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 for 100 steps.
func TestAPGDCheckpoints(t *testing.T) {
	for _, c := range []struct {
		steps int
		want  []int
	}{
		{100, []int{22, 41, 57, 70, 80, 87, 93, 99}},
		{10, []int{2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{1, []int{1}},
	} {
		if got := apgdCheckpoints(c.steps); !slices.Equal(got, c.want) {
			t.Errorf("%d steps: checkpoints %v, want %v", c.steps, got, c.want)
		}
	}
}

// TestAPGDHalvingRule checks the two conditions of the step-size rule.
func TestAPGDHalvingRule(t *testing.T) {
	rising := []float64{0, 1, 2, 3, 4} // 4 rises in 4 steps
	zigzag := []float64{0, 1, 0, 1, 0} // 2 rises in 4 steps
	for _, c := range []struct {
		name          string
		window        []float64
		reducedLast   bool
		bestLast, cur float64
		want          bool
	}{
		{"rising, improved", rising, false, 1, 4, false},
		{"oscillating", zigzag, true, 0, 1, true}, // 2 <= 0.75*4
		{"3 of 4 rises", []float64{0, 1, 2, 3, 2}, true, 0, 3, true},
		{"not improved, kept last time", rising, false, 4, 4, true}, // condition 2
		{"not improved, halved last time", rising, true, 4, 4, false},
	} {
		if got := apgdHalve(c.window, 0.75, c.reducedLast, c.bestLast, c.cur); got != c.want {
			t.Errorf("%s: halve %v, want %v", c.name, got, c.want)
		}
	}
	// In a run: step sizes start at 2 eps and only ever halve.
	m := trainedSmallNet(t)
	x, y := synthData(16, 13)
	var seen [][]float32
	apgdTrace = func(_ int, s []float32) { seen = append(seen, slices.Clone(s)) }
	defer func() { apgdTrace = nil }()
	if _, err := Run(context.Background(), APGD{Steps: 30, Seed: 2}, m, x, Untargeted(y), ThreatModel{Norm: Linf, Eps: 0.05}); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatal("no checkpoint reached")
	}
	halved := false
	for _, s := range seen {
		for _, v := range s {
			ratio := 0.1 / float64(v)
			if e := math.Log2(ratio); math.Abs(e-math.Round(e)) > 1e-4 || e < -1e-4 {
				t.Fatalf("step size %v is not 2 eps / 2^k", v)
			}
			halved = halved || ratio > 1.5
		}
	}
	if !halved {
		t.Error("no step size was ever halved in 30 steps")
	}
}

// TestDLRLossInvariance: DLR is invariant to shifting and positively
// scaling the logits, positive exactly when the class is not the top one,
// and matches its closed form.
func TestDLRLossInvariance(t *testing.T) {
	z := []float32{2, 5, 1, 3, -1}
	val := func(z []float32, loss Loss, c int) float64 {
		return float64(loss(autograd.Const(tensor.FromSlice(slices.Clone(z), 1, len(z))), []int{c}).Data().Item())
	}
	// sorted 5 3 2 1 -1: class 3 (z=3): (5-3)/(5-2); class 1: (3-5)/(5-2).
	if got := val(z, DLRLoss, 3); math.Abs(got-2.0/3) > 1e-6 {
		t.Errorf("DLR(class 3) %v, want 2/3", got)
	}
	if got := val(z, DLRLoss, 1); math.Abs(got+2.0/3) > 1e-6 {
		t.Errorf("DLR(class 1) %v, want -2/3", got)
	}
	// targeted: (max_{j!=t} - z_t)/(z1 - (z3+z4)/2): t=0: (5-2)/(5-1.5).
	if got := val(z, TargetedDLRLoss, 0); math.Abs(got-3/3.5) > 1e-6 {
		t.Errorf("targeted DLR %v, want %v", got, 3/3.5)
	}
	shifted := make([]float32, len(z))
	for j, v := range z {
		shifted[j] = 7*v - 100
	}
	for c := range z {
		for _, loss := range []Loss{DLRLoss, TargetedDLRLoss} {
			if a, b := val(z, loss, c), val(shifted, loss, c); math.Abs(a-b) > 1e-5 {
				t.Errorf("class %d: %v changes under 7z-100: %v vs %v", c, loss, a, b)
			}
		}
	}
}

// TestRunnerUpTargets checks the helper and the learner option.
func TestRunnerUpTargets(t *testing.T) {
	out := tensor.FromSlice([]float32{
		0.1, 0.7, 0.2, // label 1: runner-up 2
		0.5, 0.5, 0.0, // label 0: tie with 1 -> 1
		0.3, 0.6, 0.1, // label 2 (misclassified): most likely other = 1
	}, 3, 3)
	if got := RunnerUpTargets(out, []int{1, 0, 2}); !slices.Equal(got, Targeted{2, 1, 1}) {
		t.Errorf("targets %v, want [2 1 1]", got)
	}
	// nil labels: the runner-up of each prediction (1, 0, 1).
	if got := RunnerUpTargets(out, nil); !slices.Equal(got, Targeted{2, 1, 0}) {
		t.Errorf("targets of predictions %v, want [2 1 0]", got)
	}
	nan := float32(math.NaN())
	if got := RunnerUpTargets(tensor.FromSlice([]float32{nan, 1, nan}, 1, 3), []int{1}); !slices.Equal(got, Targeted{2}) {
		t.Errorf("NaN row targets %v, want [2]", got)
	}
}

// noisyLinear is a randomised model: logits W x + s * V x, with s ~ N(0,
// Scale^2) drawn anew at every forward pass. Its expected logits are W x,
// but a single pass's gradient is dominated by the random s V.
type noisyLinear struct {
	layers.Base
	w, v  *layers.Linear
	rng   *tensor.RNG
	scale float32
}

func (m *noisyLinear) Forward(x *autograd.Value) *autograd.Value {
	s := float32(m.rng.NormFloat64()) * m.scale
	return autograd.Add(layers.Call(m.w, x), autograd.MulScalar(layers.Call(m.v, x), s))
}

// TestEOT: on a deterministic model EOT(2) is the wrapped attack bit for
// bit; on a randomised model EOT's averaged gradient follows the expected
// model, and fools it where the single-pass attack, led by noise, fails.
func TestEOT(t *testing.T) {
	ctx := context.Background()
	m := newSmallNet(4, synthClasses)
	x := images(10, 3)
	labels := predict(m, x)
	tm := ThreatModel{Norm: Linf, Eps: 0.1}
	inner := PGD{Steps: 4, RandomStart: true, Seed: 2}
	a, err := Run(ctx, inner, m, x, Untargeted(labels), tm)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(ctx, EOT{Attack: inner, Samples: 2}, m, x, Untargeted(labels), tm)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Adv.Data(), b.Adv.Data()) {
		t.Error("EOT(2) on a deterministic model differs from the wrapped attack")
	}

	const d = 16
	rng := tensor.NewRNG(5)
	wl, w, bias := randomLinear(rng, d, 2)
	vl, _, _ := randomLinear(rng, d, 2)
	noisy := &noisyLinear{rng: tensor.NewRNG(6), scale: 5}
	noisy.w = layers.Register(&noisy.Base, "w", wl)
	noisy.v = layers.Register(&noisy.Base, "v", vl)
	xs := tensor.Uniform[float32](rng, 0.3, 0.7, 40, d)
	z := logitsOf(w, bias, xs.Data(), d, 2)
	y := make([]int, 40)
	for i := range y {
		y[i] = argmax64(z[i])
	}
	// Each sample's distance to the expected model's boundary, in Linf.
	var l1 float64
	for p := 0; p < d; p++ {
		l1 += math.Abs(float64(w[d+p]) - float64(w[p]))
	}
	eps := 0.0
	for i := range y {
		eps = math.Max(eps, 1.2*math.Abs(z[i][1]-z[i][0])/l1)
	}
	eps = math.Min(eps, 0.3)
	fooled := func(r *Result) int {
		n := 0
		for i, p := range Predictions(linearOut(w, bias, r.Adv, d)) {
			if p != y[i] {
				n++
			}
		}
		return n
	}
	pgd := PGD{Steps: 10, Alpha: eps / 4, Loss: MarginLoss, Seed: 1}
	plain, err := Run(ctx, pgd, noisy, xs, Untargeted(y), ThreatModel{Norm: Linf, Eps: eps})
	if err != nil {
		t.Fatal(err)
	}
	eot, err := Run(ctx, EOT{Attack: pgd, Samples: 400}, noisy, xs, Untargeted(y), ThreatModel{Norm: Linf, Eps: eps})
	if err != nil {
		t.Fatal(err)
	}
	fp, fe := fooled(plain), fooled(eot)
	t.Logf("expected model fooled at Linf %.3f: PGD %d/40, EOT400(PGD) %d/40", eps, fp, fe)
	if fe < 36 || fe <= fp {
		t.Errorf("EOT fooled the expected model on %d of 40 samples (plain PGD %d)", fe, fp)
	}
}

// linearOut returns W x + b for a batch x [N, d].
func linearOut(w, b []float32, x *tensor.Tensor, d int) *tensor.Tensor {
	z := logitsOf(w, b, x.Data(), d, len(b))
	out := tensor.New[float32](len(z), len(b))
	for i := range z {
		for j := range z[i] {
			out.Data()[i*len(b)+j] = float32(z[i][j])
		}
	}
	return out
}

// TestTargetRunnerUpOption: the learner option targets the runner-up of
// the true labels (or of the predictions without them).
func TestTargetRunnerUpOption(t *testing.T) {
	adv := NewLearner(synthLearner(1))
	x, y := synthData(8, 5)
	var out *tensor.Tensor
	if err := WithAttackMode(adv.Model, func(m *Model) error {
		var err error
		out, err = m.Outputs(x)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, labels := range [][]int{y, nil} {
		opts := []GenOption{TargetRunnerUp(), WithAttack(PGD{Steps: 2})}
		if labels != nil {
			opts = append(opts, TrueLabels(labels...))
		}
		r, err := adv.AttackBatch(x, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if want := RunnerUpTargets(out, labels); !slices.Equal(r.Criterion.Classes(), want) {
			t.Errorf("labels %v: targets %v, want %v", labels, r.Criterion.Classes(), want)
		}
	}
}
