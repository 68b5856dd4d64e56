package testmodels

import (
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// ConvNet is a conv net for 1x6x6 inputs: a 3x3 convolution, BatchNorm,
// ReLU and a linear layer. Its BatchNorm has non-trivial running statistics,
// so that eval mode matters.
type ConvNet struct {
	layers.Base
	// Conv is the 3x3 convolution (padding 1) from one channel.
	Conv *layers.Conv2d
	// BN normalises the convolution's channels.
	BN *layers.BatchNorm
	// FC maps the flattened features to the classes.
	FC *layers.Linear
	// Probe, when set, is called on every forward pass (to look at the
	// model's state during an attack).
	Probe func()
}

// NewTinyCNN returns a ConvNet of 4 channels and 3 classes initialised with
// seed.
func NewTinyCNN(seed uint64) *ConvNet { return newConvNet(seed, 4, 3, 0.1, 0.5, 0.2) }

// NewSmallNet returns a ConvNet of 6 channels and k classes initialised
// with seed (k >= 4 for APGD-T's targeted DLR loss).
func NewSmallNet(seed uint64, k int) *ConvNet { return newConvNet(seed, 6, k, 0.05, 0.6, 0.1) }

// newConvNet builds a ConvNet whose channel i has running mean mean*i and
// running variance v0 + v*i.
func newConvNet(seed uint64, ch, k int, mean, v0, v float32) *ConvNet {
	rng := tensor.NewRNG(seed)
	m := &ConvNet{}
	m.Conv = layers.Register(&m.Base, "conv", layers.NewConv2d(1, ch, 3, rng, layers.Padding(1)))
	m.BN = layers.Register(&m.Base, "bn", layers.NewBatchNorm2d(ch))
	m.FC = layers.Register(&m.Base, "fc", layers.NewLinear(ch*6*6, k, rng))
	for i := range m.BN.RunningMean.Data() {
		m.BN.RunningMean.Data()[i] = mean * float32(i)
		m.BN.RunningVar.Data()[i] = v0 + v*float32(i)
	}
	return m
}

// Forward implements layers.Module, calling Probe first when set.
func (m *ConvNet) Forward(x *autograd.Value) *autograd.Value {
	if m.Probe != nil {
		m.Probe()
	}
	h := autograd.ReLU(layers.Call(m.BN, layers.Call(m.Conv, x)))
	return layers.Call(m.FC, autograd.Flatten(h, 1, -1))
}

// Images returns n random images [n,1,6,6] in [0,1], with some pixels at 0
// and 1 so that the box binds.
func Images(n int, seed uint64) *tensor.Tensor {
	x := tensor.Uniform[float32](tensor.NewRNG(seed), 0, 1, n, 1, 6, 6)
	for j := 0; j < x.Len(); j += 7 {
		x.Data()[j] = float32(j % 2)
	}
	return x
}

// Predict returns m's classes on x (the first largest score of each row),
// computed in eval mode without a graph; each module's mode is restored
// afterwards. It does not go through the attack packages, so the tests can
// check their predictions against it.
func Predict(m layers.Module, x *tensor.Tensor) []int {
	mods := layers.Modules(m)
	training := make([]bool, len(mods))
	for i, nm := range mods {
		training[i] = nm.Module.Core().Training()
	}
	layers.Eval(m)
	defer func() {
		for i, nm := range mods {
			layers.SetTraining(nm.Module, training[i])
		}
	}()
	var out *autograd.Value
	autograd.NoGrad(func() { out = layers.Call(m, autograd.Const(x)) })
	return tensor.ArgMax(out.Data(), 1)
}

// Linear returns a Linear layer from d inputs to k classes with the
// given weights [k*d] and biases.
func Linear(d, k int, w, b []float32) *layers.Linear {
	l := layers.NewLinear(d, k, tensor.NewRNG(1))
	copy(l.Weight.Data().Data(), w)
	copy(l.Bias.Data().Data(), b)
	return l
}

// Accuracy returns the share of pred equal to labels.
func Accuracy(pred, labels []int) float64 {
	n := 0
	for i := range pred {
		if pred[i] == labels[i] {
			n++
		}
	}
	return float64(n) / float64(len(pred))
}

// Count returns the number of true values of b.
func Count(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// RandomLinear returns a k-class linear model on d inputs with weights in
// [-1, 1] and biases in [-0.1, 0.1], and its weights.
func RandomLinear(rng *tensor.RNG, d, k int) (*layers.Linear, []float32, []float32) {
	w := tensor.Uniform[float32](rng, -1, 1, k*d).Data()
	b := tensor.Uniform[float32](rng, -0.1, 0.1, k).Data()
	return Linear(d, k, w, b), w, b
}

// Logits returns W x + b for each sample of the flat batch x (d values
// per sample), k classes, computed in float64.
func Logits(w, b, x []float32, d, k int) [][]float64 {
	n := len(x) / d
	z := make([][]float64, n)
	for i := range z {
		z[i] = make([]float64, k)
		for j := 0; j < k; j++ {
			s := float64(b[j])
			for p := 0; p < d; p++ {
				s += float64(w[j*d+p]) * float64(x[i*d+p])
			}
			z[i][j] = s
		}
	}
	return z
}

// Classes returns the first largest class of each row of logits z.
func Classes(z [][]float64) []int {
	out := make([]int, len(z))
	for i, row := range z {
		out[i] = batch.ArgMax(row)
	}
	return out
}
