package testmodels

import (
	"context"
	"sync"
	"testing"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// SynthClasses is the number of classes of SynthData.
const SynthClasses = 5

// SynthData returns n images [n,1,6,6] of SynthClasses classes: each a
// class prototype (fixed random pixels) blended half and half with uniform
// noise, so that a small net learns them well but not trivially.
func SynthData(n int, seed uint64) (*tensor.Tensor, []int) {
	proto := tensor.Uniform[float32](tensor.NewRNG(12345), 0, 1, SynthClasses, 36).Data()
	g := tensor.NewRNG(seed)
	x := tensor.New[float32](n, 1, 6, 6)
	y := make([]int, n)
	for i := range y {
		y[i] = g.IntN(SynthClasses)
		row := x.Data()[i*36 : (i+1)*36]
		for j := range row {
			row[j] = 0.5*proto[y[i]*36+j] + 0.5*float32(g.Float64())
		}
	}
	return x, y
}

// SynthLearner returns a learner of a fresh NewSmallNet net on the synthetic data
// (480 training, 120 validation images).
func SynthLearner(seed uint64) *learner.Learner {
	xt, yt := SynthData(480, 1)
	xv, yv := SynthData(120, 2)
	data := &data.SliceData{
		Train: &data.SliceLoader{X: xt, Y: yt, BatchSize: 32, Shuffle: true, Seed: 3},
		Valid: &data.SliceLoader{X: xv, Y: yv, BatchSize: 60},
		Vocab: []string{"a", "b", "c", "d", "e"},
	}
	return learner.New(data, NewSmallNet(seed, SynthClasses), learner.LR(1e-2))
}

var (
	trainedOnce sync.Once
	trainedNet  *ConvNet
)

// TrainedSmallNet returns a NewSmallNet net trained normally on the synthetic
// data (shared: attacks restore its state, tests must not train it).
func TrainedSmallNet(t *testing.T) *ConvNet {
	t.Helper()
	trainedOnce.Do(func() {
		l := SynthLearner(7)
		if err := l.Fit(context.Background(), 8); err != nil {
			panic(err)
		}
		trainedNet = l.Model.(*ConvNet)
	})
	return trainedNet
}
