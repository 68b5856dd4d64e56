package robustness

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
)

// TestEvaluateFullFashionMNIST runs FastSuite on the normally trained
// SmallCNN (with -long and the full Fashion-MNIST installed) on the first
// 500 test images at Linf eps 0.05 and 0.1, logs the table and the time,
// and checks what such a model must show: robust accuracy far below the
// clean one, the worst case at most each attack, and no masking flag (the
// model's gradients are honest). FASTGO_REPORT_DIR, when set, receives the
// report's files.
func TestEvaluateFullFashionMNIST(t *testing.T) {
	evaluateFull(t, "FastSuite", FastSuite(0.05, 0.1), 500)
}

// TestEvaluateStandardFullFashionMNIST is TestEvaluateFullFashionMNIST
// with StandardSuite (AutoAttack's budgets: 100 APGD steps, 9 APGD-T
// targets, 5,000 Square queries) on 200 images; it takes minutes, most of
// it in Square on the samples APGD leaves robust.
func TestEvaluateStandardFullFashionMNIST(t *testing.T) {
	evaluateFull(t, "StandardSuite", StandardSuite(0.05, 0.1), 200)
}

func evaluateFull(t *testing.T, name string, s Suite, n int) {
	l, x, y := testmodels.W2Model(t, n)
	start := time.Now()
	rep, err := Evaluate(context.Background(), l.Model, x, y, s)
	if err != nil {
		t.Fatal(err)
	}
	rep.Classes = l.Data.Classes()
	t.Logf("EvaluateRobustness(%s(0.05, 0.1)) on %d images in %v:\n%s", name, len(y), time.Since(start).Round(time.Millisecond), rep.Table())
	if dir := os.Getenv("FASTGO_REPORT_DIR"); dir != "" {
		if err := rep.Save(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := rep.WorstAccuracy(0.1)
	if w > 0.10 {
		t.Errorf("worst-case robust accuracy %.3f at eps 0.1, want <= 0.10 (PGD-20 alone reaches about 0.07)", w)
	}
	if w0, _ := rep.WorstAccuracy(0.05); w0 > 0.5*rep.CleanAccuracy {
		t.Errorf("worst-case robust accuracy %.3f at eps 0.05, want at most half the clean %.3f", w0, rep.CleanAccuracy)
	}
	for _, a := range rep.Attacks {
		for _, res := range a.Results {
			if wc, _ := rep.WorstAccuracy(res.Eps); wc > res.RobustAccuracy {
				t.Errorf("worst case %.3f above %s's %.3f at eps %g", wc, a.Name, res.RobustAccuracy, res.Eps)
			}
		}
	}
	if f := rep.Flags(); len(f) > 0 {
		t.Errorf("a normally trained SmallCNN was flagged: %v", f)
	}
}

// TestEvaluateVersionStandardFullFashionMNIST runs AutoAttack's standard
// version (VersionSuite) on the normally trained SmallCNN (with -long and
// the full Fashion-MNIST installed) on the first 100 test images at Linf
// eps 0.1, logs the table and the time, and checks that the cascade is at
// least as strong as PGD-20 on every image: whatever PGD-20 fools, the
// cascade fools too, but for one image of noise.
func TestEvaluateVersionStandardFullFashionMNIST(t *testing.T) {
	l, x, y := testmodels.W2Model(t, 100)
	s, err := VersionSuite(VersionStandard, attacks.ThreatModel{Norm: attacks.Linf}, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep, err := Evaluate(context.Background(), l.Model, x, y, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("VersionSuite(standard, Linf, 0.1) on %d images in %v:\n%s", len(y), time.Since(start).Round(time.Millisecond), rep.Table())
	var pgd *AttackResult
	for k := range rep.Attacks {
		if rep.Attacks[k].Name == "PGD-20" {
			pgd = &rep.Attacks[k].Results[0]
		}
	}
	if pgd == nil || len(rep.AutoAttack) != 1 {
		t.Fatalf("no PGD-20 row or no cascade: %+v", rep.Attacks)
	}
	casc := rep.AutoAttack[0].RobustAccuracy
	if casc > pgd.RobustAccuracy+1.0/float64(len(y)) {
		t.Errorf("the standard cascade leaves %.3f robust, PGD-20 %.3f", casc, pgd.RobustAccuracy)
	}
	if w, _ := rep.WorstAccuracy(0.1); w > pgd.RobustAccuracy {
		t.Errorf("worst case %.3f above PGD-20's %.3f", w, pgd.RobustAccuracy)
	}
	if rep.Randomised == nil || rep.Randomised.Detected {
		t.Errorf("a deterministic SmallCNN was found randomised: %+v", rep.Randomised)
	}
}
