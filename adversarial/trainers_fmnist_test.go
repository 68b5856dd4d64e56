package adversarial

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// The acceptance checks of the trainers on the full Fashion-MNIST, with
// -long (see the package doc for the commands). Every figure is logged.

// pgd20 is the evaluation attack of the long checks (and W3): PGD-20, Linf,
// step 0.01, random start, keeping each sample's best iterate.
var pgd20 = attacks.PGD{Steps: 20, Alpha: 0.01, RandomStart: true}

var fmnistThreat = attacks.ThreatModel{Norm: attacks.Linf, Eps: 0.1}

// evalRobust returns the clean and PGD-20 accuracies on (x, y), in batches.
func evalRobust(t *testing.T, l *learner.Learner, x *tensor.Tensor, y []int) (clean, robust float64, el time.Duration) {
	t.Helper()
	start := time.Now()
	var nc, nr int
	const bs = 500
	for i := 0; i < len(y); i += bs {
		n := min(bs, len(y)-i)
		r, err := attacks.Run(context.Background(), pgd20, l.Model, x.Narrow0(i, n), attacks.Untargeted(y[i:i+n]), fmnistThreat)
		if err != nil {
			t.Fatal(err)
		}
		nr += int(math.Round(r.Accuracy(y[i:i+n]) * float64(n)))
		nc += int(math.Round(testmodels.Accuracy(testmodels.Predict(l.Model, x.Narrow0(i, n)), y[i:i+n]) * float64(n)))
	}
	return float64(nc) / float64(len(y)), float64(nr) / float64(len(y)), time.Since(start)
}

// atConfig is one adversarial training run of the long checks.
type atConfig struct {
	name   string
	epochs int
	lr     float64
	cb     learner.Callback
}

// trainAT trains a fresh SmallCNN with cfg and returns it with the
// training time.
func trainAT(t *testing.T, dls data.Data, cfg atConfig) (*learner.Learner, time.Duration) {
	t.Helper()
	l := learner.New(dls, models.NewSmallCNN(10, tensor.NewRNG(0)))
	start := time.Now()
	if err := l.FitOneCycle(context.Background(), cfg.epochs, learner.LR(cfg.lr), learner.Callbacks(cfg.cb)); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	t.Logf("%s: %d epochs of FitOneCycle (lr %g) in %v (%v per epoch)", cfg.name, cfg.epochs, cfg.lr, el.Round(time.Second), (el / time.Duration(cfg.epochs)).Round(time.Second))
	return l, el
}

// TestFMNISTPGDAT: Madry's PGD adversarial training of SmallCNN at Linf
// 0.1 with FitOneCycle reaches clean accuracy >= 0.80 and PGD-20 robust
// accuracy >= 0.70 on the 10,000 test images.
func TestFMNISTPGDAT(t *testing.T) {
	dls, x, y := testmodels.FullFMNIST(t)
	tr := NewTrainer(Attack(attacks.PGD{Steps: pgdATSteps, Alpha: 2.5 * 0.1 / pgdATSteps, RandomStart: true, LastIterate: true}), Threat(fmnistThreat))
	l, _ := trainAT(t, dls, atConfig{"PGD-AT", pgdATEpochs, 3e-3, tr})
	clean, robust, el := evalRobust(t, l, x, y)
	t.Logf("PGD-AT (PGD-%d, %d epochs): test clean %.4f, PGD-20 robust %.4f (evaluation %v); training-batch adversarial accuracy per epoch %.4f",
		pgdATSteps, pgdATEpochs, clean, robust, el.Round(time.Second), tr.AdvAccuracy)
	if clean < 0.80 || robust < 0.70 {
		t.Errorf("PGD-AT: clean %.4f (want >= 0.80), PGD-20 robust %.4f (want >= 0.70)", clean, robust)
	}
}

// TestFMNISTFastAT: fast adversarial training (FGSM from a random start,
// step 1.25 eps) at Linf 0.1 with FitOneCycle reaches PGD-20 robust
// accuracy >= 0.65 on the test images its guard did not hold out (the guard
// checks the last 512 of them), with its guard checking a held-out PGD
// accuracy after every epoch: either no check trips and the robust accuracy
// never collapses between checks, or the guard restored the last good
// weights, and the model returned is as robust as the best check said.
func TestFMNISTFastAT(t *testing.T) {
	dls, x, y := testmodels.FullFMNIST(t)
	tr := NewFastAT(Threat(fmnistThreat))
	l, _ := trainAT(t, dls, atConfig{"fast AT", fastATEpochs, 3e-3, tr})
	g := tr.Guard()
	// The guard held out the last test images: the figures are measured on
	// the others.
	n := len(y) - len(g.y)
	if !strings.HasPrefix(g.HeldOutFrom, fmt.Sprintf("the last %d of the %d validation items", len(g.y), len(y))) {
		t.Fatalf("the guard held out %s", g.HeldOutFrom)
	}
	clean, robust, el := evalRobust(t, l, x.Narrow0(0, n), y[:n])
	t.Logf("fast AT (%d epochs): test clean %.4f, PGD-20 robust %.4f (evaluation %v); guard checks %+v; FGSM training accuracy per epoch %.4f",
		fastATEpochs, clean, robust, el.Round(time.Second), g.Checks, tr.AdvAccuracy)
	if len(g.Checks) == 0 {
		t.Fatal("the guard never checked")
	}
	best := 0.0
	for _, c := range g.Checks {
		if !c.Tripped {
			best = math.Max(best, c.Robust)
		}
	}
	if last := g.Checks[len(g.Checks)-1]; !last.Tripped && last.Robust < best-0.2 {
		t.Errorf("the last check's robust accuracy %.4f collapsed from %.4f without tripping", last.Robust, best)
	}
	var good *GuardCheck
	for i := range g.Checks {
		if !g.Checks[i].Tripped {
			good = &g.Checks[i]
		}
	}
	if good != nil && robust < good.Robust-0.1 {
		t.Errorf("test robust accuracy %.4f far below the guard's last good check (%.4f): the model returned is not the one checked", robust, good.Robust)
	}
	if robust < 0.65 {
		t.Errorf("fast AT: PGD-20 robust %.4f, want >= 0.65 (clean %.4f)", robust, clean)
	}
}

// TestFMNISTTRADES: TRADES at Linf 0.1 trains SmallCNN with FitOneCycle to
// a robust model; its figures are logged.
func TestFMNISTTRADES(t *testing.T) {
	dls, x, y := testmodels.FullFMNIST(t)
	tr := &TRADES{Threat: fmnistThreat, Beta: tradesBeta, Steps: tradesSteps}
	l, _ := trainAT(t, dls, atConfig{"TRADES", tradesEpochs, 3e-3, tr})
	clean, robust, el := evalRobust(t, l, x, y)
	t.Logf("TRADES (beta %g, KL-PGD-%d, %d epochs): test clean %.4f, PGD-20 robust %.4f (evaluation %v); mean KL per epoch %.4f",
		tradesBeta, tradesSteps, tradesEpochs, clean, robust, el.Round(time.Second), tr.KL)
	if clean < 0.75 || robust < 0.65 {
		t.Errorf("TRADES: clean %.4f (want >= 0.75), PGD-20 robust %.4f (want >= 0.65)", clean, robust)
	}
}

// The training budgets of the long checks, chosen to meet the thresholds
// in as little time as possible (see the package doc for measured times).
const (
	pgdATSteps   = 3
	pgdATEpochs  = 3
	fastATEpochs = 2
	tradesSteps  = 5
	tradesBeta   = 3.0
	tradesEpochs = 2
)

// TestFMNISTSmoothing: SmallCNN trained with GaussianNoise (sigma 0.25,
// one epoch of FitOneCycle) and certified by CERTIFY (n0 100, n 1000,
// alpha 0.001) on the first 100 test images: the certified accuracy at
// radii 0, 0.25 and 0.5 is logged, and at radius 0 it must be most of the
// clean accuracy (the smoothed classifier works).
func TestFMNISTSmoothing(t *testing.T) {
	dls, x, y := testmodels.FullFMNIST(t)
	const sigma = 0.25
	l := learner.New(dls, models.NewSmallCNN(10, tensor.NewRNG(0)))
	start := time.Now()
	if err := l.FitOneCycle(context.Background(), 1, learner.LR(3e-3), learner.Callbacks(&GaussianNoise{Sigma: sigma})); err != nil {
		t.Fatal(err)
	}
	trained := time.Since(start)
	x, y = x.Narrow0(0, 100), y[:100]
	s := &robustness.Smoothed{Model: l.Model, Sigma: sigma, Seed: 1}
	start = time.Now()
	certs, err := s.Certify(context.Background(), x, 100, 1000, 0.001)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	radii := []float64{0, 0.25, 0.5}
	acc := make([]float64, len(radii))
	abstain := 0
	for i, c := range certs {
		if c.Class == robustness.Abstain {
			abstain++
		}
		for k, r := range radii {
			if c.Class == y[i] && c.Radius >= r {
				acc[k] += 1.0 / float64(len(y))
			}
		}
	}
	clean := testmodels.Accuracy(testmodels.Predict(l.Model, x), y)
	t.Logf("Gaussian-noise training (sigma %g) in %v; clean accuracy of the base model %.2f; CERTIFY on %d images in %v: certified accuracy %.2f at r=0, %.2f at r=0.25, %.2f at r=0.5; %d abstentions",
		sigma, trained.Round(time.Second), clean, len(y), el.Round(time.Second), acc[0], acc[1], acc[2], abstain)
	if acc[0] < 0.7 || acc[2] > acc[1] || acc[1] > acc[0] {
		t.Errorf("certified accuracies %v", acc)
	}
}
