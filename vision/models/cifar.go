package models

import (
	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// CIFARResNet18Model is the CIFAR variant of ResNet-18 used by the W4 benchmark:
// a 3x3 stride-1 stem without max-pool, 4 stages of 2 BasicBlocks
// (64/128/256/512 channels, strides 1/2/2/2), global average pool and
// Linear(512, classes); 11,173,962 parameters for 3 input channels and 10
// classes. Names follow the benchmark's PyTorch program: conv1, bn1,
// layers.<i>.{conv1,bn1,conv2,bn2,shortcut.0,shortcut.1}, fc.
type CIFARResNet18Model struct {
	layers.Base
	// Conv1 and BN1 are the 3x3 stem and its BatchNorm.
	Conv1 *layers.Conv2d
	BN1   *layers.BatchNorm
	// Blocks are the 8 BasicBlocks ("layers.0" to "layers.7").
	Blocks *layers.Sequential
	// FC is the classifier, Linear(512, classes).
	FC *layers.Linear
}

// NewCIFARResNet18 returns the W4 model for inCh input channels (0 means 3).
func NewCIFARResNet18(inCh, classes int, rng *tensor.RNG) *CIFARResNet18Model {
	if inCh == 0 {
		inCh = 3
	}
	if classes <= 0 {
		panic(fastgo.Errorf("models.NewCIFARResNet18: %d classes", classes))
	}
	m := &CIFARResNet18Model{}
	m.Conv1 = layers.Register(&m.Base, "conv1", layers.NewConv2d(inCh, 64, 3, rng, layers.Padding(1), layers.NoBias()))
	m.BN1 = layers.Register(&m.Base, "bn1", layers.NewBatchNorm2d(64))
	seq := layers.NewSequential()
	in := 64
	for _, st := range []struct{ out, stride int }{{64, 1}, {128, 2}, {256, 2}, {512, 2}} {
		seq.Append(newCIFARBlock(in, st.out, st.stride, rng))
		seq.Append(newCIFARBlock(st.out, st.out, 1, rng))
		in = st.out
	}
	m.Blocks = layers.Register(&m.Base, "layers", seq)
	m.FC = layers.Register(&m.Base, "fc", layers.NewLinear(512, classes, rng))
	return m
}

// Forward maps x [N, inCh, 32, 32] to logits.
func (m *CIFARResNet18Model) Forward(x *autograd.Value) *autograd.Value {
	h := layers.CallConvBNReLU(m.Conv1, m.BN1, x)
	h = autograd.Consumed(h, layers.Call(m.Blocks, h))
	h = autograd.Consumed(h, autograd.AdaptiveAvgPool2d(h, 1, 1))
	h = autograd.Consumed(h, autograd.Flatten(h, 1, -1))
	return autograd.Consumed(h, layers.Call(m.FC, h))
}

type cifarBlock struct {
	layers.Base
	conv1, conv2 *layers.Conv2d
	bn1, bn2     *layers.BatchNorm
	shortcut     *layers.Sequential
}

func newCIFARBlock(in, out, stride int, rng *tensor.RNG) *cifarBlock {
	b := &cifarBlock{}
	b.conv1 = layers.Register(&b.Base, "conv1", layers.NewConv2d(in, out, 3, rng, layers.Stride(stride), layers.Padding(1), layers.NoBias()))
	b.bn1 = layers.Register(&b.Base, "bn1", layers.NewBatchNorm2d(out))
	b.conv2 = layers.Register(&b.Base, "conv2", layers.NewConv2d(out, out, 3, rng, layers.Padding(1), layers.NoBias()))
	b.bn2 = layers.Register(&b.Base, "bn2", layers.NewBatchNorm2d(out))
	if stride != 1 || in != out {
		b.shortcut = layers.Register(&b.Base, "shortcut", layers.NewSequential(
			layers.NewConv2d(in, out, 1, rng, layers.Stride(stride), layers.NoBias()), layers.NewBatchNorm2d(out)))
	} else {
		b.shortcut = layers.Register(&b.Base, "shortcut", layers.NewSequential())
	}
	return b
}

func (b *cifarBlock) Forward(x *autograd.Value) *autograd.Value {
	h := layers.CallConvBNReLU(b.conv1, b.bn1, x)
	h = autograd.Consumed(h, layers.CallConvBN(b.conv2, b.bn2, h))
	idt := layers.Call(b.shortcut, x) // x itself when the shortcut is empty
	// The join and its ReLU in one pass over the data.
	s := autograd.Consumed(h, autograd.AddReLU(h, idt))
	if idt != x { // x is the caller's
		autograd.Consumed(idt, s)
	}
	return s
}
