package vision

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/callbacks"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// fashionLearner returns a SmallCNN learner on the embedded subset with
// the settings of the accuracy test.
func fashionLearner(t testing.TB, seed uint64) *learner.Learner {
	dls, err := EmbeddedFashionMNIST(BatchSize(64), Seed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return learner.New(dls, models.NewSmallCNN(10, tensor.NewRNG(seed)), learner.Metrics(learner.Accuracy()))
}

func TestSmallCNNEmbeddedFashionMNIST(t *testing.T) {
	if testing.Short() || pureGo {
		t.Skip("trains 2 epochs on 8,000 images (not under -short or purego)")
	}
	start := time.Now()
	l := fashionLearner(t, 1)
	if err := l.FitOneCycle(context.Background(), 2, learner.LR(5e-3)); err != nil {
		t.Fatal(err)
	}
	acc, _ := l.Recorder.Last("accuracy")
	t.Logf("SmallCNN, FitOneCycle 2 epochs on the embedded subset: valid accuracy %.4f (%v)", acc, time.Since(start).Round(time.Second))
	if acc < 0.85 {
		t.Fatalf("validation accuracy %.4f, want at least 0.85", acc)
	}
}

func TestSmallCNNFullFashionMNIST(t *testing.T) {
	if testing.Short() || pureGo {
		t.Skip("trains 3 epochs on 60,000 images (not under -short or purego)")
	}
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist"); err != nil {
		t.Skip("the full Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
	}
	start := time.Now()
	dls, err := FashionMNIST(BatchSize(128), Seed(1), DataDir("/usr/share/datasets/fashion-mnist"))
	if err != nil {
		t.Fatal(err)
	}
	l := learner.New(dls, models.NewSmallCNN(10, tensor.NewRNG(1)), learner.Metrics(learner.Accuracy()))
	if err := l.FitOneCycle(context.Background(), 3, learner.LR(1e-2)); err != nil {
		t.Fatal(err)
	}
	acc, _ := l.Recorder.Last("accuracy")
	t.Logf("SmallCNN, FitOneCycle 3 epochs on Fashion-MNIST: test accuracy %.4f (%v)", acc, time.Since(start).Round(time.Second))
	if acc < 0.905 {
		t.Fatalf("test accuracy %.4f, want at least 0.905", acc)
	}
}

func TestFineTuneResNet18OneChannel(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes a ResNet-18")
	}
	ctx := context.Background()
	start := time.Now()
	dls, err := EmbeddedFashionMNIST(BatchSize(32), Seed(2))
	if err != nil {
		t.Fatal(err)
	}
	// A "pretrained" file of a ResNet-18 (random weights, torchvision
	// names) so that FineTune starts frozen, as it does in transfer
	// learning.
	path := filepath.Join(t.TempDir(), "resnet18.safetensors")
	sd := layers.GetStateDict(mustBuild(t, models.ResNet18, 3, 1000, 5))
	ints := map[string]safetensors.Int64Tensor{}
	for k, v := range sd.Ints {
		ints[k] = safetensors.Int64Tensor{Data: []int64{v}}
	}
	if err := safetensors.Save(path, sd.Tensors, safetensors.Ints(ints)); err != nil {
		t.Fatal(err)
	}
	l, err := CNNLearner(dls, models.ResNet18, Weights(path), learner.Metrics(learner.Accuracy()))
	if err != nil {
		t.Fatal(err)
	}
	if l.Model.(*models.CNN).Body.At(0).(*layers.Conv2d).Weight.Shape()[1] != 1 {
		t.Fatal("the stem was not adapted to 1 channel")
	}
	type phase struct {
		frozenTo int
		stemGrad bool
		peakLRs  []float64
		batches  int
	}
	var phases []phase
	watch := learner.CallbackFunc(func(l *learner.Learner, e learner.Event) error {
		switch {
		case e == learner.BeforeFit:
			stem := l.Model.(*models.CNN).Body.At(0).(*layers.Conv2d).Weight
			phases = append(phases, phase{frozenTo: l.FrozenTo(), stemGrad: stem.RequiresGrad(), peakLRs: make([]float64, 3)})
		case e == learner.AfterBatch && l.Training:
			p := &phases[len(phases)-1]
			p.batches++
			for i, v := range l.Hyper("lr") {
				p.peakLRs[i] = math.Max(p.peakLRs[i], v)
			}
		}
		return nil
	})
	// A few batches per phase: ShortEpoch cuts each epoch at 4%.
	err = l.FineTune(ctx, 1, learner.Callbacks(watch, &callbacks.ShortEpoch{Pct: 0.04}))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FineTune of a 1-channel ResNet-18, %d + %d batches: %v", phases[0].batches, phases[1].batches, time.Since(start).Round(time.Second))
	if len(phases) != 2 || phases[0].frozenTo != 2 || phases[0].stemGrad || phases[1].frozenTo != 0 || !phases[1].stemGrad {
		t.Fatalf("phases %+v: want frozen (2 groups, stem without gradient), then unfrozen", phases)
	}
	// Frozen phase: slice(2e-3) -> [2e-4, 2e-4, 2e-3] at the peak; the
	// second: slice(1e-3/100, 1e-3) -> [1e-5, 1e-4, 1e-3], log-even.
	r0, r1 := phases[0].peakLRs, phases[1].peakLRs
	if math.Abs(r0[0]/r0[2]-0.1) > 1e-9 || math.Abs(r0[1]/r0[2]-0.1) > 1e-9 || r0[2] > 2e-3 {
		t.Errorf("frozen-phase peak lrs %v, want in the ratios of slice(2e-3)", r0)
	}
	if math.Abs(r1[0]/r1[2]-0.01) > 1e-9 || math.Abs(r1[1]/r1[2]-0.1) > 1e-9 || r1[2] > 1e-3*(1+1e-12) {
		t.Errorf("unfrozen peak lrs %v, want in the ratios of slice(1e-5, 1e-3)", r1)
	}
	if _, err := l.Validate(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSameSeedSameWeights(t *testing.T) {
	if testing.Short() {
		t.Skip("trains twice")
	}
	run := func(procs int) map[string][]float32 {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		dls, err := EmbeddedFashionMNIST(BatchSize(64), Seed(9))
		if err != nil {
			t.Fatal(err)
		}
		l := learner.New(dls, models.NewSmallCNN(10, tensor.NewRNG(9)), learner.Metrics(learner.Accuracy()))
		// 25 batches of a one-cycle, with MixUp's random draws, and the
		// validation's BatchNorm statistics untouched.
		err = l.FitOneCycle(context.Background(), 1, learner.LR(5e-3),
			learner.Callbacks(&callbacks.ShortEpoch{Pct: 0.2}, &callbacks.MixUp{Seed: 3}))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]float32{}
		for n, x := range layers.GetStateDict(l.Model).Tensors {
			out[n] = append([]float32(nil), x.Data()...)
		}
		return out
	}
	a, b := run(1), run(2)
	for n := range a {
		for i := range a[n] {
			if math.Float32bits(a[n][i]) != math.Float32bits(b[n][i]) {
				t.Fatalf("%s[%d]: %v with GOMAXPROCS 1, %v with 2", n, i, a[n][i], b[n][i])
			}
		}
	}
}
