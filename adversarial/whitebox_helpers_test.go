package adversarial

import (
	"context"
	"sync"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// smallNet is a conv net with BatchNorm for 1x6x6 inputs and k classes (k
// >= 4 so that APGD-T's targeted DLR loss applies).
type smallNet struct {
	layers.Base
	conv *layers.Conv2d
	bn   *layers.BatchNorm
	fc   *layers.Linear
	// probe, when set, is called on every forward pass.
	probe func()
}

func newSmallNet(seed uint64, k int) *smallNet {
	rng := tensor.NewRNG(seed)
	m := &smallNet{}
	m.conv = layers.Register(&m.Base, "conv", layers.NewConv2d(1, 6, 3, rng, layers.Padding(1)))
	m.bn = layers.Register(&m.Base, "bn", layers.NewBatchNorm2d(6))
	m.fc = layers.Register(&m.Base, "fc", layers.NewLinear(6*6*6, k, rng))
	for i := range m.bn.RunningMean.Data() {
		m.bn.RunningMean.Data()[i] = 0.05 * float32(i)
		m.bn.RunningVar.Data()[i] = 0.6 + 0.1*float32(i)
	}
	return m
}

func (m *smallNet) Forward(x *autograd.Value) *autograd.Value {
	if m.probe != nil {
		m.probe()
	}
	h := autograd.ReLU(layers.Call(m.bn, layers.Call(m.conv, x)))
	return layers.Call(m.fc, autograd.Flatten(h, 1, -1))
}

const synthClasses = 5

// synthData returns n images [n,1,6,6] of synthClasses classes: each a
// class prototype (fixed random pixels) blended half and half with uniform
// noise, so that a small net learns them well but not trivially.
func synthData(n int, seed uint64) (*tensor.Tensor, []int) {
	proto := tensor.Uniform[float32](tensor.NewRNG(12345), 0, 1, synthClasses, 36).Data()
	g := tensor.NewRNG(seed)
	x := tensor.New[float32](n, 1, 6, 6)
	y := make([]int, n)
	for i := range y {
		y[i] = g.IntN(synthClasses)
		row := x.Data()[i*36 : (i+1)*36]
		for j := range row {
			row[j] = 0.5*proto[y[i]*36+j] + 0.5*float32(g.Float64())
		}
	}
	return x, y
}

// synthLearner returns a learner of a fresh smallNet on the synthetic data
// (480 training, 120 validation images).
func synthLearner(seed uint64) *learner.Learner {
	xt, yt := synthData(480, 1)
	xv, yv := synthData(120, 2)
	data := &data.SliceData{
		Train: &data.SliceLoader{X: xt, Y: yt, BatchSize: 32, Shuffle: true, Seed: 3},
		Valid: &data.SliceLoader{X: xv, Y: yv, BatchSize: 60},
		Vocab: []string{"a", "b", "c", "d", "e"},
	}
	return learner.New(data, newSmallNet(seed, synthClasses), learner.LR(1e-2))
}

var (
	trainedOnce sync.Once
	trainedNet  *smallNet
)

// trainedSmallNet returns a smallNet trained normally on the synthetic
// data (shared: attacks restore its state, tests must not train it).
func trainedSmallNet(t *testing.T) *smallNet {
	t.Helper()
	trainedOnce.Do(func() {
		l := synthLearner(7)
		if err := l.Fit(context.Background(), 8); err != nil {
			panic(err)
		}
		trainedNet = l.Model.(*smallNet)
	})
	return trainedNet
}
