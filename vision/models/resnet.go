package models

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// BlockKind selects a ResNet's residual block.
type BlockKind int

const (
	// Basic is the two-3x3 block of ResNet-18/34 (expansion 1).
	Basic BlockKind = iota
	// Bottleneck is the 1x1-3x3-1x1 block of ResNet-50 and up (expansion 4),
	// with the stride on the 3x3 convolution (torchvision's v1.5).
	Bottleneck
)

func (k BlockKind) expansion() int {
	if k == Bottleneck {
		return 4
	}
	return 1
}

// ResNetConfig describes a torchvision-layout ResNet.
type ResNetConfig struct {
	// Block is the residual block: Basic or Bottleneck.
	Block BlockKind
	// Layers is the number of blocks in each of the four stages.
	Layers [4]int
	// Widths are the stages' base channels; zero means 64, 128, 256, 512.
	Widths [4]int
	// InChannels is the number of input channels (fastai's n_in); zero means 3.
	InChannels int
	// NumClasses is the size of fc's output; zero means 1000.
	NumClasses int
}

// ResNet is torchvision's ResNet: conv1 (7x7, stride 2) bn1 relu maxpool
// (3x3, stride 2), layer1..layer4, avgpool, fc, with torchvision's names.
type ResNet struct {
	layers.Base
	// Conv1, BN1, Relu and MaxPool are the stem (7x7 stride-2 convolution,
	// BatchNorm, ReLU, 3x3 stride-2 max pool).
	Conv1   *layers.Conv2d
	BN1     *layers.BatchNorm
	Relu    *layers.ReLU
	MaxPool *layers.MaxPool2d
	// Layer1, Layer2, Layer3 and Layer4 are the four stages of blocks.
	Layer1, Layer2, Layer3, Layer4 *layers.Sequential
	// AvgPool is the global average pool and FC the classifier.
	AvgPool *layers.AdaptiveAvgPool2d
	FC      *layers.Linear
	// Features is the number of channels layer4 outputs.
	Features int
	// Config is the configuration the ResNet was built from, with its
	// defaults filled in.
	Config ResNetConfig
	body   *layers.Sequential
}

// NewResNet builds a ResNet from cfg, initialised as torchvision does
// (kaiming-normal fan-out convolutions, BatchNorm weight 1 and bias 0,
// PyTorch's default Linear). A nil rng uses the default generator.
func NewResNet(cfg ResNetConfig, rng *tensor.RNG) *ResNet {
	if cfg.Widths == [4]int{} {
		cfg.Widths = [4]int{64, 128, 256, 512}
	}
	if cfg.InChannels == 0 {
		cfg.InChannels = 3
	}
	if cfg.NumClasses == 0 {
		cfg.NumClasses = 1000
	}
	for i, n := range cfg.Layers {
		if n <= 0 || cfg.Widths[i] <= 0 {
			panic(fastgo.Errorf("models.NewResNet: stage %d has %d blocks of width %d", i+1, n, cfg.Widths[i]))
		}
	}
	rng = layers.OrDefault(rng)
	r := &ResNet{Config: cfg}
	r.Conv1 = layers.Register(&r.Base, "conv1", convInit(cfg.InChannels, cfg.Widths[0], 7, 2, 3, rng))
	r.BN1 = layers.Register(&r.Base, "bn1", layers.NewBatchNorm2d(cfg.Widths[0]))
	r.Relu = layers.Register(&r.Base, "relu", &layers.ReLU{})
	r.MaxPool = layers.Register(&r.Base, "maxpool", layers.NewMaxPool2d(3, 2, 1))
	in := cfg.Widths[0]
	stages := make([]*layers.Sequential, 4)
	for s := 0; s < 4; s++ {
		seq := layers.NewSequential()
		stride := 2
		if s == 0 {
			stride = 1
		}
		for b := 0; b < cfg.Layers[s]; b++ {
			if b > 0 {
				stride = 1
			}
			blk := newBlock(cfg.Block, in, cfg.Widths[s], stride, rng)
			seq.Append(blk)
			in = cfg.Widths[s] * cfg.Block.expansion()
		}
		stages[s] = layers.Register(&r.Base, fmt.Sprintf("layer%d", s+1), seq)
	}
	r.Layer1, r.Layer2, r.Layer3, r.Layer4 = stages[0], stages[1], stages[2], stages[3]
	r.AvgPool = layers.Register(&r.Base, "avgpool", &layers.AdaptiveAvgPool2d{H: 1, W: 1})
	r.FC = layers.Register(&r.Base, "fc", layers.NewLinear(in, cfg.NumClasses, rng))
	r.Features = in
	r.body = layers.NewSequential(r.Conv1, r.BN1, r.Relu, r.MaxPool, r.Layer1, r.Layer2, r.Layer3, r.Layer4)
	return r
}

// Forward maps x [N, InChannels, H, W] to logits [N, NumClasses].
func (r *ResNet) Forward(x *autograd.Value) *autograd.Value {
	h := layers.Call(r.body, x)
	h = autograd.Consumed(h, layers.Call(r.AvgPool, h))
	h = autograd.Consumed(h, autograd.Flatten(h, 1, -1))
	return autograd.Consumed(h, layers.Call(r.FC, h))
}

// BodySequential returns the network cut before its pooling, as fastai's
// create_body does: a Sequential of conv1, bn1, relu, maxpool, layer1..4
// (named 0..7), sharing r's modules (training one trains the other).
func (r *ResNet) BodySequential() *layers.Sequential { return r.body }

// convInit returns a bias-free square conv with torchvision's ResNet
// initialisation: kaiming_normal_(mode="fan_out", nonlinearity="relu").
func convInit(in, out, k, stride, pad int, rng *tensor.RNG) *layers.Conv2d {
	c := layers.NewConv2d(in, out, k, rng, layers.Stride(stride), layers.Padding(pad), layers.NoBias())
	std := math.Sqrt(2 / float64(out*k*k))
	d := c.Weight.Data().Data()
	for i := range d {
		d[i] = float32(std * rng.NormFloat64())
	}
	return c
}

// block is a BasicBlock or a Bottleneck with torchvision's names.
type block struct {
	layers.Base
	kind                BlockKind
	conv1, conv2, conv3 *layers.Conv2d
	bn1, bn2, bn3       *layers.BatchNorm
	downsample          *layers.Sequential
}

func newBlock(kind BlockKind, in, width, stride int, rng *tensor.RNG) *block {
	b := &block{kind: kind}
	out := width * kind.expansion()
	if kind == Basic {
		b.conv1 = layers.Register(&b.Base, "conv1", convInit(in, width, 3, stride, 1, rng))
		b.bn1 = layers.Register(&b.Base, "bn1", layers.NewBatchNorm2d(width))
		layers.Register(&b.Base, "relu", &layers.ReLU{})
		b.conv2 = layers.Register(&b.Base, "conv2", convInit(width, width, 3, 1, 1, rng))
		b.bn2 = layers.Register(&b.Base, "bn2", layers.NewBatchNorm2d(width))
	} else {
		b.conv1 = layers.Register(&b.Base, "conv1", convInit(in, width, 1, 1, 0, rng))
		b.bn1 = layers.Register(&b.Base, "bn1", layers.NewBatchNorm2d(width))
		b.conv2 = layers.Register(&b.Base, "conv2", convInit(width, width, 3, stride, 1, rng))
		b.bn2 = layers.Register(&b.Base, "bn2", layers.NewBatchNorm2d(width))
		b.conv3 = layers.Register(&b.Base, "conv3", convInit(width, out, 1, 1, 0, rng))
		b.bn3 = layers.Register(&b.Base, "bn3", layers.NewBatchNorm2d(out))
		layers.Register(&b.Base, "relu", &layers.ReLU{})
	}
	if stride != 1 || in != out {
		b.downsample = layers.Register(&b.Base, "downsample",
			layers.NewSequential(convInit(in, out, 1, stride, 0, rng), layers.NewBatchNorm2d(out)))
	}
	return b
}

// Forward is the residual block; x belongs to the caller (both branches
// read it), every value made inside is consumed.
func (b *block) Forward(x *autograd.Value) *autograd.Value {
	idt := x
	if b.downsample != nil {
		idt = layers.Call(b.downsample, x)
	}
	h := layers.CallConvBNReLU(b.conv1, b.bn1, x)
	if b.kind == Bottleneck {
		h = autograd.Consumed(h, layers.CallConvBNReLU(b.conv2, b.bn2, h))
		h = autograd.Consumed(h, layers.CallConvBN(b.conv3, b.bn3, h))
	} else {
		h = autograd.Consumed(h, layers.CallConvBN(b.conv2, b.bn2, h))
	}
	// The join and its ReLU in one pass over the data.
	s := autograd.Consumed(h, autograd.AddReLU(h, idt))
	if idt != x {
		autograd.Consumed(idt, s)
	}
	return s
}
