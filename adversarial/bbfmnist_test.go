package adversarial

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/optim"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// TestBlackBoxOnFashionMNIST trains SmallCNN briefly on the embedded subset
// and checks that Square (scores) and HopSkipJump (labels only) lower its
// accuracy substantially through the oracle alone, within their budgets.
func TestBlackBoxOnFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a SmallCNN (several seconds); skipped with -short")
	}
	adv, x, y := fmnistLearner(t, 1, 50)
	clean := accuracy(predict(adv.Model, x), y)
	if clean < 0.7 {
		t.Fatalf("clean accuracy %.3f: the model did not train", clean)
	}
	// SmallCNN answers about 3,000 queries a second on this machine, so the
	// budgets are small; the -long test runs Square with 5,000.
	for _, c := range []struct {
		name   string
		a      BlackBoxAttack
		o      *Oracle
		tm     ThreatModel
		n      int
		budget int
		// the accuracy must fall below this fraction of the clean one
		below float64
	}{
		{"Square/Linf", Square{Queries: 300, Seed: 1}, NewScoreOracle(adv.Model, 300), ThreatModel{Norm: Linf, Eps: 0.1}, 50, 300, 0.5},
		{"HSJ/L2", HopSkipJump{Queries: 500, Seed: 1}, NewLabelOracle(adv.Model, 500), ThreatModel{Norm: L2, Eps: 2}, 25, 500, 0.7},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			x, y := x.Narrow0(0, c.n), y[:c.n]
			clean := accuracy(predict(adv.Model, x), y)
			r, err := RunBlackBox(context.Background(), c.a, c.o, x, Untargeted(y), c.tm)
			if err != nil {
				t.Fatal(err)
			}
			robust := r.Accuracy(y)
			t.Logf("%v on %d images: clean %.3f, robust %.3f, mean queries %.0f, %v", c.tm, len(y), clean, robust, meanInts(r.Queries), time.Since(start).Round(time.Millisecond))
			for i, q := range r.Queries {
				if q > c.budget {
					t.Fatalf("sample %d used %d queries, budget %d", i, q, c.budget)
				}
			}
			if robust > c.below*clean {
				t.Errorf("robust accuracy %.3f, want below %.2f of the clean %.3f", robust, c.below, clean)
			}
		})
	}
}

// trainSmallCNNFull trains SmallCNN normally on the full Fashion-MNIST (W2's
// recipe: Adam lr 1e-3, one epoch in batches of 128) and returns the model's
// learner and the first n test images with their labels. It skips the test
// when the data set is not installed.
func trainSmallCNNFull(t *testing.T, n int) (*learner.Learner, *tensor.Tensor, []int) {
	t.Helper()
	fullOnce.Do(func() { fullLearner, fullX, fullY, fullErr = trainFull(t) })
	if fullErr != nil {
		t.Skipf("full Fashion-MNIST not available: %v", fullErr)
	}
	if fullLearner == nil {
		t.Fatal("training on the full Fashion-MNIST failed in an earlier test")
	}
	n = min(n, len(fullY))
	return fullLearner, fullX.Narrow0(0, n), fullY[:n]
}

// The SmallCNN trained on the full Fashion-MNIST, shared by the -long tests
// (attacks do not change it).
var (
	fullOnce    sync.Once
	fullLearner *learner.Learner
	fullX       *tensor.Tensor
	fullY       []int
	fullErr     error
)

// trainFull trains the shared model and returns the first 1000 test images.
func trainFull(t *testing.T) (*learner.Learner, *tensor.Tensor, []int, error) {
	const n = 1000
	dls, err := vision.FashionMNIST(vision.BatchSize(128), vision.Seed(0))
	if err != nil {
		return nil, nil, nil, err
	}
	l := learner.New(dls, models.NewSmallCNN(10, tensor.NewRNG(0)), learner.WD(0), learner.LR(1e-3),
		learner.Optimizer(func(g []*optim.ParamGroup) optim.Optimizer {
			return optim.NewAdam(g, optim.Betas(0.9, 0.999), optim.Eps(1e-8))
		}))
	start := time.Now()
	if err := l.Fit(context.Background(), 1); err != nil {
		t.Error(err)
		return nil, nil, nil, nil
	}
	t.Logf("trained one epoch on 60,000 images in %v", time.Since(start).Round(time.Millisecond))
	var xs []*tensor.Tensor
	var ys []int
	for b, err := range dls.ValidLoader().Epoch(context.Background(), 0) {
		if err != nil {
			t.Error(err)
			return nil, nil, nil, nil
		}
		xs, ys = append(xs, b.X), append(ys, b.Y...)
		if len(ys) >= n {
			break
		}
	}
	return l, tensor.Concat(0, xs...).Narrow0(0, n), ys[:n], nil
}

// TestSquareFullFashionMNIST is the must-show check for Square (with
// -long and the full Fashion-MNIST installed): on SmallCNN trained normally
// on the full training set, Square with 5,000 queries at Linf eps 0.1 brings
// the accuracy on the first 500 test images under 0.20.
func TestSquareFullFashionMNIST(t *testing.T) {
	if !*long {
		t.Skip("trains SmallCNN on the full Fashion-MNIST; run with -long")
	}
	l, x, y := trainSmallCNNFull(t, 500)
	clean := accuracy(predict(l.Model, x), y)
	tm := ThreatModel{Norm: Linf, Eps: 0.1}
	start := time.Now()
	r, err := RunBlackBox(context.Background(), Square{Queries: 5000, Seed: 0}, NewScoreOracle(l.Model, 5000), x, Untargeted(y), tm)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	robust := r.Accuracy(y)
	var succ []float64
	for i, s := range r.Success {
		if s {
			succ = append(succ, float64(r.Queries[i]))
		}
	}
	t.Logf("Square-5000 Linf 0.1 on %d test images: clean %.3f, robust %.3f, success %.3f; queries: mean %.0f over all, mean %.0f and median %.0f over successes; %v",
		len(y), clean, robust, r.SuccessRate(), meanInts(r.Queries), mean(succ), median(succ), el.Round(time.Millisecond))
	for i, q := range r.Queries {
		if q > 5000 {
			t.Fatalf("sample %d used %d queries", i, q)
		}
	}
	if clean < 0.85 {
		t.Errorf("clean accuracy %.3f, W2 reaches 0.89", clean)
	}
	if robust >= 0.20 {
		t.Errorf("robust accuracy %.3f under Square-5000, want < 0.20", robust)
	}
}

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
	if !*long {
		t.Skip("trains SmallCNN on the full Fashion-MNIST; run with -long")
	}
	l, x, y := trainSmallCNNFull(t, n)
	start := time.Now()
	rep, err := EvaluateRobustness(context.Background(), l.Model, x, y, s)
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
