package adversarial

import (
	"errors"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// tinyCNN is a small conv net with BatchNorm for 1x6x6 inputs and 3 classes.
type tinyCNN struct {
	layers.Base
	conv *layers.Conv2d
	bn   *layers.BatchNorm
	fc   *layers.Linear
	// probe, when set, is called on every forward pass (to look at the
	// model's state during an attack).
	probe func()
}

func newTinyCNN(seed uint64) *tinyCNN {
	rng := tensor.NewRNG(seed)
	m := &tinyCNN{}
	m.conv = layers.Register(&m.Base, "conv", layers.NewConv2d(1, 4, 3, rng, layers.Padding(1)))
	m.bn = layers.Register(&m.Base, "bn", layers.NewBatchNorm2d(4))
	m.fc = layers.Register(&m.Base, "fc", layers.NewLinear(4*6*6, 3, rng))
	// Non-trivial running statistics, so that eval mode matters.
	for i := range m.bn.RunningMean.Data() {
		m.bn.RunningMean.Data()[i] = 0.1 * float32(i)
		m.bn.RunningVar.Data()[i] = 0.5 + 0.2*float32(i)
	}
	return m
}

func (m *tinyCNN) Forward(x *autograd.Value) *autograd.Value {
	if m.probe != nil {
		m.probe()
	}
	h := autograd.ReLU(layers.Call(m.bn, layers.Call(m.conv, x)))
	return layers.Call(m.fc, autograd.Flatten(h, 1, -1))
}

// images returns n random images [n,1,6,6] in [0,1], with some pixels at 0
// and 1 so that the box binds.
func images(n int, seed uint64) *tensor.Tensor {
	x := tensor.Uniform[float32](tensor.NewRNG(seed), 0, 1, n, 1, 6, 6)
	for j := 0; j < x.Len(); j += 7 {
		x.Data()[j] = float32(j % 2)
	}
	return x
}

// predict returns the model's classes on x (in eval mode, restored).
func predict(m layers.Module, x *tensor.Tensor) []int {
	var out *tensor.Tensor
	if err := WithAttackMode(m, func(mm *Model) error {
		var err error
		out, err = mm.Outputs(x)
		return err
	}); err != nil {
		panic(err)
	}
	return Predictions(out)
}

// linearModel returns a Linear layer from d inputs to k classes with the
// given weights [k*d] and biases.
func linearModel(d, k int, w, b []float32) *layers.Linear {
	l := layers.NewLinear(d, k, tensor.NewRNG(1))
	copy(l.Weight.Data().Data(), w)
	copy(l.Bias.Data().Data(), b)
	return l
}

func accuracy(pred, labels []int) float64 {
	n := 0
	for i := range pred {
		if pred[i] == labels[i] {
			n++
		}
	}
	return float64(n) / float64(len(pred))
}

func count(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
