package testmodels

import (
	"context"
	"flag"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/optim"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

var long = flag.Bool("long", false, "run the long Fashion-MNIST checks")

// SkipUnlessLong skips t unless the test binary runs with -long: the
// checks that train SmallCNN on the full Fashion-MNIST
// (/usr/share/datasets/fashion-mnist) take minutes each.
func SkipUnlessLong(t testing.TB) {
	t.Helper()
	if !*long {
		t.Skip("trains SmallCNN on the full Fashion-MNIST; run with -long")
	}
}

// FirstItems returns the first n items of l's epoch 0 as one batch and
// their labels, failing t on an error.
func FirstItems(t testing.TB, l data.Loader, n int) (*tensor.Tensor, []int) {
	t.Helper()
	b, err := data.First(context.Background(), l, n)
	if err != nil {
		t.Fatal(err)
	}
	return b.X, b.Y
}

// EmbeddedFMNIST trains SmallCNN on the embedded Fashion-MNIST subset
// (8,000 training images) for the given epochs of FitOneCycle and returns
// the learner and the first n validation images with their labels.
func EmbeddedFMNIST(t testing.TB, epochs, n int) (*learner.Learner, *tensor.Tensor, []int) {
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
	x, y := FirstItems(t, dls.ValidLoader(), n)
	return l, x, y
}

// W2Learner returns an untrained SmallCNN learner with the recipe of W2
// (docs/performance.md): Adam lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight
// decay, on the full Fashion-MNIST in batches of 128, seed 0. It skips t
// when the data set is not installed.
func W2Learner(t testing.TB) *learner.Learner {
	t.Helper()
	l, err := w2Learner()
	if err != nil {
		t.Skipf("full Fashion-MNIST not available: %v", err)
	}
	return l
}

func w2Learner() (*learner.Learner, error) {
	dls, err := vision.FashionMNIST(vision.BatchSize(128), vision.Seed(0))
	if err != nil {
		return nil, err
	}
	return learner.New(dls, models.NewSmallCNN(10, tensor.NewRNG(0)), learner.WD(0), learner.LR(1e-3),
		learner.Optimizer(func(g []*optim.ParamGroup) optim.Optimizer {
			return optim.NewAdam(g, optim.Betas(0.9, 0.999), optim.Eps(1e-8))
		})), nil
}

// The SmallCNN trained with W2's recipe, shared by the long checks (attacks
// do not change it).
var (
	w2Once    sync.Once
	w2Model   *learner.Learner
	w2X       *tensor.Tensor
	w2Y       []int
	w2DataErr error
)

// W2Model returns SmallCNN trained with W2's recipe (one epoch on the 60,000
// training images; trained once per test binary) and the first n (at most
// 1000) test images with their labels. It skips t without -long or when the
// data set is not installed.
func W2Model(t testing.TB, n int) (*learner.Learner, *tensor.Tensor, []int) {
	t.Helper()
	SkipUnlessLong(t)
	w2Once.Do(func() {
		l, err := w2Learner()
		if err != nil {
			w2DataErr = err
			return
		}
		start := time.Now()
		if err := l.Fit(context.Background(), 1); err != nil {
			t.Error(err)
			return
		}
		t.Logf("trained one epoch on 60,000 images in %v", time.Since(start).Round(time.Millisecond))
		b, err := data.First(context.Background(), l.Data.ValidLoader(), 1000)
		if err != nil {
			t.Error(err)
			return
		}
		w2Model, w2X, w2Y = l, b.X, b.Y
	})
	if w2DataErr != nil {
		t.Skipf("full Fashion-MNIST not available: %v", w2DataErr)
	}
	if w2Model == nil {
		t.Fatal("training on the full Fashion-MNIST failed in an earlier test")
	}
	n = min(n, len(w2Y))
	return w2Model, w2X.Narrow0(0, n), w2Y[:n]
}

// FullFMNIST returns the full Fashion-MNIST loaders (batch 128, seed 0) and
// the 10,000 test images as one batch with their labels. It skips t without
// -long or when the data set is not installed.
func FullFMNIST(t testing.TB) (data.Data, *tensor.Tensor, []int) {
	t.Helper()
	SkipUnlessLong(t)
	dls, err := vision.FashionMNIST(vision.BatchSize(128), vision.Seed(0))
	if err != nil {
		t.Skipf("full Fashion-MNIST not available: %v", err)
	}
	x, y := FirstItems(t, dls.ValidLoader(), math.MaxInt)
	return dls, x, y
}

var (
	normalOnce  sync.Once
	normalModel *learner.Learner
	normalErr   error
)

// NormalFMNIST trains SmallCNN normally on dls (FitOneCycle, 2 epochs, lr
// 3e-3, fastai's Adam), once per test binary.
func NormalFMNIST(t testing.TB, dls data.Data) *learner.Learner {
	t.Helper()
	normalOnce.Do(func() {
		l := learner.New(dls, models.NewSmallCNN(10, tensor.NewRNG(0)))
		start := time.Now()
		normalErr = l.FitOneCycle(context.Background(), 2, learner.LR(3e-3))
		t.Logf("normal training: 2 epochs in %v", time.Since(start).Round(time.Second))
		normalModel = l
	})
	if normalErr != nil {
		t.Fatal(normalErr)
	}
	return normalModel
}
