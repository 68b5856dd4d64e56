package models

import (
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// SmallCNNModel is the benchmark model of docs/performance.md for 1x28x28 input:
// Conv2d(1,32,3,p1) BN ReLU MaxPool2 Conv2d(32,64,3,p1) BN ReLU MaxPool2
// Flatten Linear(3136,128) ReLU Linear(128,10); 421,834 parameters, with
// PyTorch's names conv1, bn1, conv2, bn2, fc1, fc2.
type SmallCNNModel struct {
	layers.Base
	// Conv1 and BN1 are the first convolution, 1 to 32 channels, and its
	// BatchNorm; Conv2 and BN2 the second, 32 to 64 channels.
	Conv1 *layers.Conv2d
	BN1   *layers.BatchNorm
	Conv2 *layers.Conv2d
	BN2   *layers.BatchNorm
	// FC1 and FC2 are the classifier, Linear(3136, 128) and
	// Linear(128, classes).
	FC1, FC2 *layers.Linear
	pool     *layers.MaxPool2d
}

// NewSmallCNN returns a SmallCNN with nClasses outputs (10 in the benchmark),
// initialised as PyTorch does, drawing from rng (nil: the default generator).
func NewSmallCNN(nClasses int, rng *tensor.RNG) *SmallCNNModel {
	m := &SmallCNNModel{pool: layers.NewMaxPool2d(2, 2, 0)}
	m.Conv1 = layers.Register(&m.Base, "conv1", layers.NewConv2d(1, 32, 3, rng, layers.Padding(1)))
	m.BN1 = layers.Register(&m.Base, "bn1", layers.NewBatchNorm2d(32))
	m.Conv2 = layers.Register(&m.Base, "conv2", layers.NewConv2d(32, 64, 3, rng, layers.Padding(1)))
	m.BN2 = layers.Register(&m.Base, "bn2", layers.NewBatchNorm2d(64))
	m.FC1 = layers.Register(&m.Base, "fc1", layers.NewLinear(64*7*7, 128, rng))
	m.FC2 = layers.Register(&m.Base, "fc2", layers.NewLinear(128, nClasses, rng))
	return m
}

// Forward maps x [N, 1, 28, 28] in [0,1] to logits [N, nClasses].
//
// Every value inside is consumed (autograd.Consumed), so a training step
// recycles their buffers.
func (m *SmallCNNModel) Forward(x *autograd.Value) *autograd.Value {
	h := layers.CallConvBNReLUMaxPool(m.Conv1, m.BN1, m.pool, x)
	h = autograd.Consumed(h, layers.CallConvBNReLUMaxPool(m.Conv2, m.BN2, m.pool, h))
	h = autograd.Consumed(h, autograd.Flatten(h, 1, -1))
	h = autograd.Consumed(h, layers.Call(m.FC1, h))
	h = autograd.Consumed(h, autograd.ReLU(h))
	return autograd.Consumed(h, layers.Call(m.FC2, h))
}
