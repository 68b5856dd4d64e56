package attacks

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// TestAPGDNotWorseThanPGD: at the same budget (steps, eps), APGD-CE leaves
// at most the robust accuracy PGD leaves on a trained model, for Linf, L2
// and L1 (sparse steps for both), and APGD-T at
// most APGD-CE's... on this model at least as strong as PGD.
func TestAPGDNotWorseThanPGD(t *testing.T) {
	m := testmodels.TrainedSmallNet(t)
	x, y := testmodels.SynthData(120, 11)
	for _, tm := range []ThreatModel{{Norm: Linf, Eps: 0.06}, {Norm: L2, Eps: 0.3}, {Norm: L1, Eps: 1.5}} {
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
		t.Logf("%v: clean %.3f, PGD-20 %.3f, APGD-CE-20 %.3f, APGD-DLR-20 %.3f", tm, testmodels.Accuracy(testmodels.Predict(m, x), y), acc["PGD"], acc["APGD-CE"], acc["APGD-DLR"])
		if acc["APGD-CE"] > acc["PGD"] {
			t.Errorf("%v: APGD-CE robust accuracy %.3f above PGD's %.3f at the same budget", tm, acc["APGD-CE"], acc["PGD"])
		}
		if acc["PGD"] >= testmodels.Accuracy(testmodels.Predict(m, x), y) {
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
	m := testmodels.TrainedSmallNet(t)
	x, y := testmodels.SynthData(16, 13)
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
