package attacks

import (
	"context"
	"flag"
	"math"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// pgd20 is the evaluation attack of the long checks (and W3): PGD-20, Linf,
// step 0.01, random start, keeping each sample's best iterate.
var pgd20 = PGD{Steps: 20, Alpha: 0.01, RandomStart: true}

var fmnistThreat = ThreatModel{Norm: Linf, Eps: 0.1}

var w3Weights = flag.String("w3weights", "", "W2 SmallCNN weights (safetensors, PyTorch names, e.g. from bench/reference.sh --save) for TestW3PGD20; empty: train them")

// loadWeights loads a safetensors state dict into m, strictly.
func loadWeights(m layers.Module, path string) error {
	f, err := safetensors.Load(path)
	if err != nil {
		return err
	}
	sd := &layers.StateDict{Tensors: map[string]*tensor.Tensor{}, Ints: map[string]int64{}}
	for _, name := range f.Names() {
		sd.Names = append(sd.Names, name)
		if info, _ := f.Info(name); info.Dtype == "I64" {
			v, err := f.Int64(name)
			if err != nil {
				return err
			}
			sd.Ints[name] = v.Data[0]
			continue
		}
		t, err := f.Tensor(name)
		if err != nil {
			return err
		}
		sd.Tensors[name] = t
	}
	_, err = layers.LoadStateDict(m, sd)
	return err
}

// TestPGDOnFashionMNIST trains SmallCNN briefly on the embedded subset (one
// epoch of 8000 images, seconds) and checks that PGD-20 at Linf 0.1 brings
// accuracy down substantially and well below FGSM's, and that targeted PGD
// reaches its targets. A model this briefly trained is smoother than W2's
// (PyTorch's PGD on the same weights gives the same figures, 0.20 robust
// for 0.82 clean), so the thresholds are lower than W3's; TestW3PGD20
// checks the full-data figures under -long.
func TestPGDOnFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a SmallCNN (several seconds); skipped with -short")
	}
	l, x, y := testmodels.EmbeddedFMNIST(t, 1, 128)
	ctx := context.Background()
	clean := testmodels.Accuracy(testmodels.Predict(l.Model, x), y)
	if clean < 0.7 {
		t.Fatalf("clean accuracy %.3f: the model did not train", clean)
	}
	start := time.Now()
	r, err := Generate(ctx, l.Model, x, TrueLabels(y...))
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	robust := r.Accuracy(y)
	fg, err := Generate(ctx, l.Model, x, TrueLabels(y...), Using(FGSM{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Linf 0.1 on %d images: clean %.3f, FGSM %.3f, PGD-20 %.3f (%.0f img/s)", len(y), clean, fg.Accuracy(y), robust, float64(len(y))/el.Seconds())
	if robust > clean/2 {
		t.Errorf("PGD-20 robust accuracy %.3f, want at most half the clean %.3f", robust, clean)
	}
	if fg.Accuracy(y) <= robust {
		t.Errorf("FGSM (%.3f) no weaker than PGD-20 (%.3f): PGD is broken or the gradients are masked", fg.Accuracy(y), robust)
	}
	rs, err := RunEps(ctx, DefaultAttack(), l.Model, x, targetsFor(t, TargetRandom(7), y, nil, 10), DefaultThreat(), []float64{0.1, 0.2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("targeted PGD-20, random targets: %.3f reach the target at eps 0.1, %.3f at 0.2", rs[0].SuccessRate(), rs[1].SuccessRate())
	if rs[1].SuccessRate() < 0.7 || rs[1].SuccessRate() <= rs[0].SuccessRate() {
		t.Errorf("targeted success %.3f at eps 0.2 (%.3f at 0.1), want >= 0.7 and rising", rs[1].SuccessRate(), rs[0].SuccessRate())
	}
}

// TestW3PGD20 is W3 of docs/performance.md as a test (with -long, and the full
// Fashion-MNIST installed): SmallCNN trained as W2 (Adam lr 1e-3, betas
// 0.9/0.999, eps 1e-8, no weight decay, batch 128, one epoch on the 60,000
// training images), then PGD-20 Linf eps 0.1 step 0.01 from a random start
// on the first 1000 test images in batches of 250. PyTorch's reference
// gives clean 0.90-0.91 and robust about 0.04; this PGD keeps each sample's
// best iterate, so its robust accuracy can only be at most that of the last
// iterate. With -w3weights FILE it attacks PyTorch-trained W2 weights
// (bench/reference.sh w2w3 --save PREFIX writes PREFIX.safetensors): on
// such weights PyTorch's W3 gave clean 0.907, robust 0.039, and this test
// clean 0.907, robust 0.040.
func TestW3PGD20(t *testing.T) {
	testmodels.SkipUnlessLong(t)
	var l *learner.Learner
	var x *tensor.Tensor
	var y []int
	if *w3Weights != "" {
		l = testmodels.W2Learner(t)
		if err := loadWeights(l.Model, *w3Weights); err != nil {
			t.Fatal(err)
		}
		t.Logf("weights from %s", *w3Weights)
		x, y = testmodels.FirstItems(t, l.Data.ValidLoader(), 1000)
	} else {
		l, x, y = testmodels.W2Model(t, 1000)
	}
	clean := testmodels.Accuracy(testmodels.Predict(l.Model, x), y)
	a := PGD{Steps: 20, Alpha: 0.01, RandomStart: true}
	tm := ThreatModel{Norm: Linf, Eps: 0.1}
	last := a
	last.LastIterate = true
	robust, robustLast, hits := 0, 0, 0
	var el time.Duration
	for i := 0; i < 1000; i += 250 {
		xb, yb := x.Narrow0(i, 250), y[i:i+250]
		s := time.Now()
		r, err := Run(context.Background(), a, l.Model, xb, Untargeted(yb), tm)
		if err != nil {
			t.Fatal(err)
		}
		el += time.Since(s)
		robust += int(r.Accuracy(yb)*250 + 0.5)
		rl, err := Run(context.Background(), last, l.Model, xb, Untargeted(yb), tm)
		if err != nil {
			t.Fatal(err)
		}
		robustLast += int(rl.Accuracy(yb)*250 + 0.5)
		rt, err := Run(context.Background(), a, l.Model, xb, targetsFor(t, TargetRandom(uint64(i)), yb, nil, 10), tm)
		if err != nil {
			t.Fatal(err)
		}
		hits += testmodels.Count(rt.Success)
	}
	t.Logf("W3: clean %.3f, PGD-20 robust %.3f (last iterate %.3f), %.1f img/s (%v); targeted PGD-20 (random targets) success %.3f",
		clean, float64(robust)/1000, float64(robustLast)/1000, 1000/el.Seconds(), el.Round(time.Millisecond), float64(hits)/1000)
	if clean < 0.85 {
		t.Errorf("clean accuracy %.3f, W2 reaches 0.89", clean)
	}
	if float64(robust)/1000 > 0.10 {
		t.Errorf("robust accuracy %.3f, want <= 0.10 (PyTorch: about 0.04)", float64(robust)/1000)
	}
	// Random targets at eps 0.1 are hard for this model: PyTorch's PGD-20 on
	// the same W2 weights reaches 0.545 (fastgo 0.541), and even PGD-100
	// with the margin loss stays near 0.61.
	if float64(hits)/1000 < 0.45 {
		t.Errorf("targeted success %.3f, want >= 0.45 (PyTorch: 0.545 on W2 weights)", float64(hits)/1000)
	}
}

// TestBlackBoxOnFashionMNIST trains SmallCNN briefly on the embedded subset
// and checks that Square (scores) and HopSkipJump (labels only) lower its
// accuracy substantially through the oracle alone, within their budgets.
func TestBlackBoxOnFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a SmallCNN (several seconds); skipped with -short")
	}
	l, x, y := testmodels.EmbeddedFMNIST(t, 1, 100)
	clean := testmodels.Accuracy(testmodels.Predict(l.Model, x), y)
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
		// 500 queries: the schedule stretched to the budget (AutoAttack's
		// fixed schedule is made for 5,000 and more and keeps large squares).
		// On 100 images the robust accuracy is 0.34 of a clean 0.84. With
		// 300 queries it was about half the clean accuracy (0.43-0.45 on
		// 100 images), too close to the bound: on 50 images one image
		// decided the test, and the rounding of a new convolution kernel
		// in the model's training moved it.
		{"Square/Linf", Square{Queries: 500, Schedule: SquareRescaled, Seed: 1}, NewScoreOracle(l.Model, 500), ThreatModel{Norm: Linf, Eps: 0.1}, 100, 500, 0.5},
		{"HSJ/L2", HopSkipJump{Queries: 500, Seed: 1}, NewLabelOracle(l.Model, 500), ThreatModel{Norm: L2, Eps: 2}, 25, 500, 0.7},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			x, y := x.Narrow0(0, c.n), y[:c.n]
			clean := testmodels.Accuracy(testmodels.Predict(l.Model, x), y)
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

// TestSquareFullFashionMNIST is the acceptance check for Square (with
// -long and the full Fashion-MNIST installed): on SmallCNN trained normally
// on the full training set, Square with 5,000 queries at Linf eps 0.1 brings
// the accuracy on the first 500 test images under 0.20.
func TestSquareFullFashionMNIST(t *testing.T) {
	l, x, y := testmodels.W2Model(t, 500)
	clean := testmodels.Accuracy(testmodels.Predict(l.Model, x), y)
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
		len(y), clean, robust, r.SuccessRate(), meanInts(r.Queries), batch.Mean(succ), batch.Median(succ), el.Round(time.Millisecond))
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

// TestFMNISTTargetedPGD: on a normally trained SmallCNN, targeted PGD-20
// at Linf 0.1 reaches the runner-up class (the most likely wrong class) on
// at least 90% of the first 1000 test images; the random-target figure is
// logged (W3 measured about 0.54 for PyTorch and fastgo on W2 weights).
func TestFMNISTTargetedPGD(t *testing.T) {
	dls, x, y := testmodels.FullFMNIST(t)
	l := testmodels.NormalFMNIST(t, dls)
	x, y = x.Narrow0(0, 1000), y[:1000]
	var out *tensor.Tensor
	if err := WithAttackMode(l.Model, func(m *Model) error {
		var err error
		out, err = m.Outputs(x)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	clean := testmodels.Accuracy(Predictions(out), y)
	start := time.Now()
	runner, err := Run(context.Background(), pgd20, l.Model, x, targetsFor(t, TargetRunnerUp(), y, out, 10), fmnistThreat)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	random, err := Run(context.Background(), pgd20, l.Model, x, targetsFor(t, TargetRandom(7), y, nil, 10), fmnistThreat)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("clean %.4f; targeted PGD-20 at Linf 0.1: runner-up target reached on %.4f, random target on %.4f (%v per 1000 images)",
		clean, runner.SuccessRate(), random.SuccessRate(), el.Round(time.Millisecond))
	if clean < 0.88 {
		t.Errorf("clean accuracy %.4f: the normal training fell short", clean)
	}
	if runner.SuccessRate() < 0.90 {
		t.Errorf("targeted PGD reached the runner-up class on %.4f, want >= 0.90", runner.SuccessRate())
	}
	if random.SuccessRate() >= runner.SuccessRate() {
		t.Errorf("random targets (%.4f) no harder than the runner-up (%.4f)", random.SuccessRate(), runner.SuccessRate())
	}
}

// TestFMNISTMinimumNorm: C&W (Carlini and Wagner's settings, 9 search
// steps from c = 1e-3, Adam step 0.01, abort early, but at most 250 steps
// per search step instead of 10,000) and DeepFool (L2 and Linf, 10
// candidates, overshoot 0.02) succeed on every one of the
// first 200 test images of a normally trained SmallCNN; the median norms
// are logged.
func TestFMNISTMinimumNorm(t *testing.T) {
	dls, x, y := testmodels.FullFMNIST(t)
	l := testmodels.NormalFMNIST(t, dls)
	x, y = x.Narrow0(0, 200), y[:200]
	correct := testmodels.Predict(l.Model, x)
	for _, c := range []struct {
		name string
		a    Attack
		norm Norm
	}{
		{"C&W-L2", CW{Steps: 250}, L2},
		{"DeepFool-L2", DeepFool{}, L2},
		{"DeepFool-Linf", DeepFool{}, Linf},
	} {
		start := time.Now()
		r, err := Run(context.Background(), c.a, l.Model, x, Untargeted(y), ThreatModel{Norm: c.norm, Eps: math.Inf(1)})
		if err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		// The medians are over the samples the model classifies correctly
		// (the others are adversarial as they are, at distance 0).
		var nrm, l2 []float64
		all := ThreatModel{Norm: L2}.Norms(x, r.Adv)
		for i, v := range r.Norms {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%s sample %d: norm %v", c.name, i, v)
			}
			if correct[i] == y[i] {
				nrm, l2 = append(nrm, v), append(l2, all[i])
			}
		}
		t.Logf("%s: success %.4f on %d images; over the %d classified correctly, median %v norm %.4f, median L2 %.4f; %v",
			c.name, r.SuccessRate(), len(y), len(nrm), c.norm, batch.Median(nrm), batch.Median(l2), el.Round(time.Second))
		if r.SuccessRate() != 1 {
			t.Errorf("%s succeeded on %.4f of the samples, want all", c.name, r.SuccessRate())
		}
	}
}
