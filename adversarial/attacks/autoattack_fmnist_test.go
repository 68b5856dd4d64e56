package attacks

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
)

// TestAutoAttackPartsFashionMNIST (with -long and the full Fashion-MNIST):
// on SmallCNN trained one epoch (W2's recipe), on the first 200 test
// images, AutoAttack's white-box parts with its settings leave at most the
// robust accuracy PGD-20 leaves: APGD-CE, APGD-T and FAB-T at Linf 0.1,
// and L1-APGD-CE (5 restarts, LargeEps, as AutoAttack's L1 run) against
// L1 PGD-20 at L1 eps 5; FAB's median L2 norm is below DeepFool's. The
// robust accuracies and times are logged.
func TestAutoAttackPartsFashionMNIST(t *testing.T) {
	l, x, y := testmodels.W2Model(t, 200)
	clean := testmodels.Accuracy(testmodels.Predict(l.Model, x), y)
	run := func(a Attack, tm ThreatModel) *Result {
		start := time.Now()
		r, err := Run(context.Background(), a, l.Model, x, Untargeted(y), tm)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %v: robust accuracy %.3f (clean %.3f), %v", a.Name(), tm, r.Accuracy(y), clean, time.Since(start).Round(time.Millisecond))
		return r
	}
	linf := ThreatModel{Norm: Linf, Eps: 0.1}
	pgd := run(pgd20, linf).Accuracy(y)
	for _, a := range []Attack{APGD{}, APGDT{}, FABT{Eps: linf.Eps}} {
		if acc := run(a, linf).Accuracy(y); acc > pgd {
			t.Errorf("%s: robust accuracy %.3f above PGD-20's %.3f", a.Name(), acc, pgd)
		}
	}
	l1 := ThreatModel{Norm: L1, Eps: 5}
	pgdL1 := run(PGD{Steps: 20, RandomStart: true}, l1).Accuracy(y)
	if acc := run(APGD{Restarts: 5, LargeEps: true}, l1).Accuracy(y); acc > pgdL1 {
		t.Errorf("L1-APGD-CE: robust accuracy %.3f above L1 PGD-20's %.3f", acc, pgdL1)
	}
	correct := testmodels.Predict(l.Model, x)
	median := func(r *Result) float64 {
		var v []float64
		for i, n := range r.Norms {
			if correct[i] == y[i] && !math.IsInf(n, 0) {
				v = append(v, n)
			}
		}
		return batch.Median(v)
	}
	inf := ThreatModel{Norm: L2, Eps: math.Inf(1)}
	fab, df := median(run(FAB{}, inf)), median(run(DeepFool{}, inf))
	t.Logf("median L2 norms over the correctly classified: FAB %.4f, DeepFool %.4f", fab, df)
	if fab > df {
		t.Errorf("FAB's median L2 norm %.4f above DeepFool's %.4f", fab, df)
	}
}
