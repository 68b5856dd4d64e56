package learner

import (
	"context"
	"iter"
	"math"
	"reflect"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/tensor"
)

func TestGetPredsInDatasetOrder(t *testing.T) {
	ctx := context.Background()
	d := blobData(64, 40, 8)
	l := New(d, newMLP(1))
	if err := l.Fit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	plain, err := l.GetPreds(ctx, WithInput(), WithLoss())
	if err != nil {
		t.Fatal(err)
	}
	// The same items served shuffled (and without the last partial batch
	// dropping anything: 40 = 5 batches of 8) come back in dataset order.
	shuffled := &data.SliceLoader{X: d.Valid.X, Y: d.Valid.Y, BatchSize: 8, Shuffle: true, Seed: 7}
	sh, err := l.GetPreds(ctx, OnLoader(shuffled), WithInput(), WithLoss())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plain.Index, sh.Index) || !reflect.DeepEqual(plain.Targets, sh.Targets) ||
		!reflect.DeepEqual(plain.Decoded, sh.Decoded) || !reflect.DeepEqual(plain.Probs.Data(), sh.Probs.Data()) ||
		!reflect.DeepEqual(plain.Inputs.Data(), sh.Inputs.Data()) || !reflect.DeepEqual(plain.Losses, sh.Losses) {
		t.Fatal("GetPreds over a shuffled loader is not in dataset order")
	}
	// Per-item losses are cross-entropies of the items, and average to
	// Validate's loss.
	mean := 0.0
	for i, v := range plain.Losses {
		p := plain.Probs.Data()[i*3+plain.Targets[i]]
		if math.Abs(v+math.Log(float64(p))) > 1e-5 {
			t.Fatalf("item %d: loss %v, -log p %v", i, v, -math.Log(float64(p)))
		}
		mean += v / float64(len(plain.Losses))
	}
	v, err := l.Validate(ctx)
	if err != nil || math.Abs(v[0]-mean) > 1e-5 {
		t.Fatalf("Validate = %v, %v; mean item loss %v", v, err, mean)
	}
	// A custom loss without ItemLoss is evaluated item by item.
	l.Loss = func(p *autograd.Value, y []int) *autograd.Value { return autograd.MulScalar(CrossEntropy(p, y), 2) }
	l.defLoss = false
	custom, err := l.GetPreds(ctx, WithLoss())
	if err != nil {
		t.Fatal(err)
	}
	for i := range custom.Losses {
		if math.Abs(custom.Losses[i]-2*plain.Losses[i]) > 1e-5 {
			t.Fatalf("item %d: custom loss %v, want %v", i, custom.Losses[i], 2*plain.Losses[i])
		}
	}
}

// augData serves the validation items scaled by (epoch+2) as their
// "augmented" version.
type augData struct{ *data.SliceData }

type scaledLoader struct{ *data.SliceLoader }

func (s scaledLoader) Epoch(ctx context.Context, e int) iter.Seq2[data.Batch, error] {
	return func(yield func(data.Batch, error) bool) {
		for b, err := range s.SliceLoader.Epoch(ctx, 0) {
			if err == nil {
				b.X = b.X.Clone()
				tensor.ScaleInPlace(b.X, float32(e+2))
			}
			if !yield(b, err) {
				return
			}
		}
	}
}

func (d augData) AugmentedValid() data.Loader { return scaledLoader{d.Valid} }

func TestTTA(t *testing.T) {
	ctx := context.Background()
	d := augData{blobData(64, 16, 8)}
	l := New(d, newMLP(1))
	if err := l.Fit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	const n, beta = 3, 0.25
	got, err := l.TTA(ctx, Passes(n), Beta(beta))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := l.GetPreds(ctx)
	var augs []*Preds
	for e := 0; e < n; e++ {
		p, _ := l.GetPreds(ctx, OnLoader(epochLoader{d.AugmentedValid(), e}))
		augs = append(augs, p)
	}
	for j, v := range got.Probs.Data() {
		aug := 0.0
		for _, p := range augs {
			aug += float64(p.Probs.Data()[j]) / n
		}
		// fastai: torch.lerp(aug, plain, beta) = (1-beta)*aug + beta*plain.
		if want := (1-beta)*aug + beta*float64(plain.Probs.Data()[j]); math.Abs(float64(v)-want) > 1e-6 {
			t.Fatalf("TTA prob %d = %v, want %v", j, v, want)
		}
	}
	if _, err := New(blobData(8, 8, 8), newMLP(1)).TTA(ctx, Passes(2)); err == nil {
		t.Fatal("TTA on data without augmented validation succeeded")
	}
	if _, err := l.TTA(ctx, Passes(0)); err == nil {
		t.Fatal("TTA with 0 passes succeeded")
	}
}

func TestMetricsEmptyAndUnlabelled(t *testing.T) {
	for _, m := range []Metric{Accuracy(), F1(), BalancedAccuracy()} {
		m.Reset()
		if v := m.Value(); !math.IsNaN(v) {
			t.Errorf("%s before any batch = %v, want NaN (#na#)", m.Name(), v)
		}
	}
	// An unlabelled item (-1) is not counted by the confusion metrics.
	m := Precision()
	m.Reset()
	m.Accumulate(tensor.FromSlice([]float32{1, 0, 0, 1}, 2, 2), []int{0, -1})
	if v := m.Value(); v != 1 {
		t.Fatalf("precision with an unlabelled item = %v, want 1", v)
	}
}

func TestPredictErrors(t *testing.T) {
	l := New(blobData(8, 8, 8), newMLP(1))
	for _, x := range []*tensor.Tensor{tensor.Zeros(2), tensor.Zeros(2, 2), tensor.Zeros(1, 3)} {
		if _, err := l.Predict(x); err == nil {
			t.Errorf("Predict of shape %v succeeded", x.Shape())
		}
	}
	if _, err := l.GetPreds(context.Background(), OnLoader(&data.SliceLoader{X: tensor.Zeros(4, 5), Y: make([]int, 4), BatchSize: 2})); err == nil {
		t.Error("GetPreds on inputs the model cannot take succeeded")
	}
}
