package attacks

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

type attackCase struct {
	name string
	a    Attack
	norm Norm
	eps  float64
}

// gradientCases are the attacks of gradient.go: FGSM, FGM, BIM, PGD and
// MI-FGSM, checked on a 3-class net.
func gradientCases() []attackCase {
	return []attackCase{
		{"FGSM", FGSM{}, Linf, 0.1},
		{"FGM/Linf", FGM{}, Linf, 0.1},
		{"FGM/L2", FGM{}, L2, 0.8},
		{"BIM/Linf", BIM{Steps: 5}, Linf, 0.1},
		{"BIM/L2", BIM{Steps: 5}, L2, 0.8},
		{"BIM/L1", BIM{Steps: 5}, L1, 3},
		{"PGD/Linf", PGD{Steps: 5, RandomStart: true, Seed: 3}, Linf, 0.1},
		{"PGD/L2", PGD{Steps: 5, RandomStart: true, Seed: 3}, L2, 0.8},
		{"PGD/L1", PGD{Steps: 5, RandomStart: true, Seed: 3}, L1, 3},
		{"PGD/Linf/restarts", PGD{Steps: 3, RandomStart: true, Restarts: 3, Seed: 4}, Linf, 0.05},
		{"PGD/Linf/margin", PGD{Steps: 5, RandomStart: true, Loss: MarginLoss, Seed: 5}, Linf, 0.1},
		{"PGD/Linf/last", PGD{Steps: 5, RandomStart: true, LastIterate: true, Seed: 6}, Linf, 0.1},
		{"MI-FGSM/Linf", MIFGSM{Steps: 5}, Linf, 0.1},
		{"MI-FGSM/L2", MIFGSM{Steps: 5}, L2, 0.8},
	}
}

// searchCases are the minimum-norm attacks (C&W, DeepFool, FAB, FAB-T), APGD, APGD-T
// and EOT, checked on a 5-class net (APGD-T needs 4 classes).
func searchCases() []attackCase {
	cw := CW{BinarySteps: 5, Steps: 60, LR: 0.05}
	return []attackCase{
		{"CW/L2", cw, L2, 0.8},
		{"CW/L2/kappa", CW{BinarySteps: 6, Steps: 40, LR: 0.05, Confidence: 0.05}, L2, 0.8},
		{"DeepFool/L2", DeepFool{}, L2, 0.8},
		{"DeepFool/Linf", DeepFool{}, Linf, 0.1},
		{"DeepFool/L2/2 candidates", DeepFool{Candidates: 2}, L2, 0.8},
		{"APGD-CE/Linf", APGD{Steps: 12, Seed: 3}, Linf, 0.1},
		{"APGD-CE/L2", APGD{Steps: 12, Seed: 3}, L2, 0.8},
		{"APGD-DLR/Linf", APGD{Steps: 12, Loss: APGDDLR, Seed: 4}, Linf, 0.1},
		{"APGD-DLR/L2", APGD{Steps: 12, Loss: APGDDLR, Seed: 4}, L2, 0.8},
		{"APGD-CE/L1", APGD{Steps: 12, Seed: 3}, L1, 3},
		{"APGD-DLR/L1/large eps", APGD{Steps: 12, Loss: APGDDLR, LargeEps: true, Seed: 4}, L1, 3},
		{"APGD-CE/L1/restarts", APGD{Steps: 6, Restarts: 2, Seed: 5}, L1, 2},
		{"APGD-T/L1", APGDT{Steps: 8, Targets: 2, LargeEps: true, Seed: 6}, L1, 3},
		{"APGD-CE/Linf/EOT3", APGD{Steps: 6, EOT: 3, Seed: 3}, Linf, 0.1},
		{"APGD-CE/Linf/restarts", APGD{Steps: 6, Restarts: 3, Seed: 5}, Linf, 0.1},
		{"APGD-T/Linf", APGDT{Steps: 8, Targets: 3, Seed: 6}, Linf, 0.1},
		{"APGD-T/L2", APGDT{Steps: 8, Targets: 3, Seed: 6}, L2, 0.8},
		{"FAB/Linf", FAB{Steps: 15}, Linf, 0.1},
		{"FAB/L2", FAB{Steps: 15, Restarts: 2, Seed: 7}, L2, 0.8},
		{"FAB/L1", FAB{Steps: 15, SearchSteps: 5}, L1, 3},
		{"FAB-T/Linf", FABT{Steps: 10, Targets: 3, Seed: 8}, Linf, 0.1},
		{"FAB-T/L1", FABT{Steps: 10, Targets: 2, Restarts: 2, Seed: 8}, L1, 3},
		{"EOT2(PGD)/Linf", EOT{Attack: PGD{Steps: 5, RandomStart: true, Seed: 3}, Samples: 2}, Linf, 0.1},
		{"EOT2(DeepFool)/L2", EOT{Attack: DeepFool{}, Samples: 2}, L2, 0.8},
	}
}

// attackSet is a list of attacks and the net they are checked on.
type attackSet struct {
	name    string
	classes int
	net     func(seed uint64) *testmodels.ConvNet
	cases   []attackCase
	// rows are the samples attacked alone, and stateImages the size of the
	// batch of the model-state check.
	rows        []int
	stateImages int
}

func attackSets() []attackSet {
	return []attackSet{
		{"3 classes", 3, testmodels.NewTinyCNN, gradientCases(), []int{0, 5, 23}, 8},
		{"5 classes", testmodels.SynthClasses, func(seed uint64) *testmodels.ConvNet {
			return testmodels.NewSmallNet(seed, testmodels.SynthClasses)
		}, searchCases(), []int{0, 7, 23}, 6},
	}
}

// criteria returns the untargeted (true labels) and targeted (next class)
// criteria for labels of k classes.
func criteria(t testing.TB, labels []int, k int) []Criterion {
	return []Criterion{Untargeted(labels), targetsFor(t, TargetNextClass(), labels, nil, k)}
}

func critName(c Criterion) string {
	if _, ok := c.(Targeted); ok {
		return "targeted"
	}
	return "untargeted"
}

// TestAttackOracles checks every white-box attack, untargeted and
// targeted: the input is not modified, the result is within eps and the
// box, success is computed on the result, the attack lowers the accuracy
// (or raises the hits on the target), eps 0 returns the input, a batch
// gives what its rows give alone, and a seed repeats a run.
func TestAttackOracles(t *testing.T) {
	x := testmodels.Images(24, 1)
	for _, set := range attackSets() {
		labels := make([]int, x.Dim(0))
		for i := range labels {
			labels[i] = i % set.classes
		}
		for _, ac := range set.cases {
			for _, c := range criteria(t, labels, set.classes) {
				t.Run(set.name+"/"+ac.name+"/"+critName(c), func(t *testing.T) {
					checkOracles(t, ac, set.net(2), x, labels, c, set.rows)
				})
			}
		}
	}
}

func checkOracles(t *testing.T, ac attackCase, m *testmodels.ConvNet, x *tensor.Tensor, labels []int, c Criterion, rows []int) {
	ctx := context.Background()
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
		pred := testmodels.Predict(m, r.Adv)
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
		clean := testmodels.Predict(m, x)
		switch cc := c.(type) {
		case Untargeted:
			ca, ra := testmodels.Accuracy(clean, labels), r.Accuracy(labels)
			if ra >= ca {
				t.Errorf("robust accuracy %.3f, clean %.3f: the attack did not lower it", ra, ca)
			}
		case Targeted:
			before, after := testmodels.Count(cc.IsAdversarialClass(clean)), testmodels.Count(r.Success)
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
		for _, i := range rows {
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
}

// TestAttackModelState checks the honesty rules about the model: eval mode
// and frozen parameters during the attack, everything restored after (a
// sub-module left in eval and a frozen parameter included), and BatchNorm
// statistics that never move.
func TestAttackModelState(t *testing.T) {
	for _, set := range attackSets() {
		for _, ac := range set.cases {
			t.Run(set.name+"/"+ac.name, func(t *testing.T) {
				m := set.net(3)
				layers.Train(m)
				layers.SetTraining(m.FC, false)    // a sub-module in eval: must stay so
				m.Conv.Bias.SetRequiresGrad(false) // a frozen parameter: must stay so
				mean, vr, tracked := m.BN.RunningMean.Clone(), m.BN.RunningVar.Clone(), m.BN.NumBatchesTracked
				calls := 0
				m.Probe = func() {
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
				x := testmodels.Images(set.stateImages, 4)
				if _, err := Run(context.Background(), ac.a, m, x, Untargeted(nil), ThreatModel{Norm: ac.norm, Eps: ac.eps}); err != nil {
					t.Fatal(err)
				}
				m.Probe = nil
				if calls == 0 {
					t.Fatal("the model was never called")
				}
				if !m.Training() || !m.Conv.Training() || !m.BN.Training() || m.FC.Training() {
					t.Errorf("modes not restored: root %v conv %v bn %v fc %v", m.Training(), m.Conv.Training(), m.BN.Training(), m.FC.Training())
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
				if !slices.Equal(mean.Data(), m.BN.RunningMean.Data()) || !slices.Equal(vr.Data(), m.BN.RunningVar.Data()) || tracked != m.BN.NumBatchesTracked {
					t.Error("BatchNorm running statistics moved during the attack")
				}
			})
		}
	}
}
