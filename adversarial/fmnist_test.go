package adversarial

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/optim"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

var (
	long      = flag.Bool("long", false, "run the long Fashion-MNIST checks")
	w3Weights = flag.String("w3weights", "", "W2 SmallCNN weights (safetensors, PyTorch names, e.g. from bench/reference.sh --save) for TestW3PGD20; empty: train them")
)

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

// fmnistLearner trains SmallCNN on the embedded Fashion-MNIST subset for
// the given epochs and returns the learner and the first n validation images
// with their labels.
func fmnistLearner(t *testing.T, epochs, n int) (*AdversarialLearner, *tensor.Tensor, []int) {
	t.Helper()
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(128), vision.Seed(1))
	if err != nil {
		t.Fatal(err)
	}
	l := learner.New(dls, models.NewSmallCNN(10, tensor.NewRNG(1)))
	start := time.Now()
	if err := l.FitOneCycle(context.Background(), epochs, learner.LR(3e-3)); err != nil {
		t.Fatal(err)
	}
	t.Logf("trained %d epoch(s) on 8000 images in %v", epochs, time.Since(start).Round(time.Millisecond))
	var xs []*tensor.Tensor
	var ys []int
	for b, err := range dls.ValidLoader().Epoch(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, b.X)
		ys = append(ys, b.Y...)
		if len(ys) >= n {
			break
		}
	}
	n = min(n, len(ys))
	return NewLearner(l), tensor.Concat(0, xs...).Narrow0(0, n), ys[:n]
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
	adv, x, y := fmnistLearner(t, 1, 128)
	clean := accuracy(predict(adv.Model, x), y)
	if clean < 0.7 {
		t.Fatalf("clean accuracy %.3f: the model did not train", clean)
	}
	start := time.Now()
	r, err := adv.AttackBatch(x, TrueLabels(y...))
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	robust := r.Accuracy(y)
	fg, err := adv.AttackBatch(x, TrueLabels(y...), WithAttack(FGSM{}))
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
	rs, err := RunEps(context.Background(), DefaultAttack(), adv.Model, x, RandomTargets(y, 10, 7), DefaultThreat(), []float64{0.1, 0.2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("targeted PGD-20, random targets: %.3f reach the target at eps 0.1, %.3f at 0.2", rs[0].SuccessRate(), rs[1].SuccessRate())
	if rs[1].SuccessRate() < 0.7 || rs[1].SuccessRate() <= rs[0].SuccessRate() {
		t.Errorf("targeted success %.3f at eps 0.2 (%.3f at 0.1), want >= 0.7 and rising", rs[1].SuccessRate(), rs[0].SuccessRate())
	}
}

// TestW3PGD20 is W3 of BENCHMARKS.md as a test (with -long, and the full
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
	if !*long {
		t.Skip("trains SmallCNN on the full Fashion-MNIST; run with -long")
	}
	dls, err := vision.FashionMNIST(vision.BatchSize(128), vision.Seed(0))
	if err != nil {
		t.Skipf("full Fashion-MNIST not available: %v", err)
	}
	l := learner.New(dls, models.NewSmallCNN(10, tensor.NewRNG(0)), learner.WD(0), learner.LR(1e-3),
		learner.Optimizer(func(g []*optim.ParamGroup) optim.Optimizer {
			return optim.NewAdam(g, optim.Betas(0.9, 0.999), optim.Eps(1e-8))
		}))
	if *w3Weights != "" {
		if err := loadWeights(l.Model, *w3Weights); err != nil {
			t.Fatal(err)
		}
		t.Logf("weights from %s", *w3Weights)
	} else {
		start := time.Now()
		if err := l.Fit(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		t.Logf("W2-style epoch in %v", time.Since(start).Round(time.Millisecond))
	}
	var xs []*tensor.Tensor
	var ys []int
	for b, err := range dls.ValidLoader().Epoch(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		xs, ys = append(xs, b.X), append(ys, b.Y...)
		if len(ys) >= 1000 {
			break
		}
	}
	x, y := tensor.Concat(0, xs...).Narrow0(0, 1000), ys[:1000]
	clean := accuracy(predict(l.Model, x), y)
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
		rt, err := Run(context.Background(), a, l.Model, xb, RandomTargets(yb, 10, uint64(i)), tm)
		if err != nil {
			t.Fatal(err)
		}
		hits += count(rt.Success)
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
