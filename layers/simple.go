package layers

import (
	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// ReLU is torch.nn.ReLU.
type ReLU struct{ Base }

// Forward returns max(x, 0).
func (*ReLU) Forward(x *autograd.Value) *autograd.Value { return autograd.ReLU(x) }

// LeakyReLU is torch.nn.LeakyReLU.
type LeakyReLU struct {
	Base
	// Slope is the negative slope (PyTorch's default 0.01).
	Slope float32
}

// NewLeakyReLU returns torch.nn.LeakyReLU(): negative slope 0.01. (The zero
// LeakyReLU has slope 0, which is ReLU.)
func NewLeakyReLU() *LeakyReLU { return &LeakyReLU{Slope: 0.01} }

// Forward returns x where x > 0, else Slope*x.
func (l *LeakyReLU) Forward(x *autograd.Value) *autograd.Value { return autograd.LeakyReLU(x, l.Slope) }

// GELU is torch.nn.GELU (exact, erf form).
type GELU struct{ Base }

// Forward returns x * Phi(x).
func (*GELU) Forward(x *autograd.Value) *autograd.Value { return autograd.GELU(x) }

// Sigmoid is torch.nn.Sigmoid.
type Sigmoid struct{ Base }

// Forward returns 1/(1+exp(-x)).
func (*Sigmoid) Forward(x *autograd.Value) *autograd.Value { return autograd.Sigmoid(x) }

// Tanh is torch.nn.Tanh.
type Tanh struct{ Base }

// Forward returns tanh(x).
func (*Tanh) Forward(x *autograd.Value) *autograd.Value { return autograd.Tanh(x) }

// Identity is torch.nn.Identity.
type Identity struct{ Base }

// Forward returns x.
func (*Identity) Forward(x *autograd.Value) *autograd.Value { return x }

// Flatten is torch.nn.Flatten: it merges dimensions Start..End (inclusive,
// negative counts from the end). The zero value is PyTorch's default, but
// Start 0 is the batch axis, so use NewFlatten for the usual Start 1.
type Flatten struct {
	Base
	// Start and End are the first and last dimensions merged (inclusive).
	Start, End int
}

// NewFlatten returns torch.nn.Flatten(): dimensions 1..-1.
func NewFlatten() *Flatten { return &Flatten{Start: 1, End: -1} }

// Forward flattens x.
func (f *Flatten) Forward(x *autograd.Value) *autograd.Value {
	return autograd.Flatten(x, f.Start, f.End)
}

// Dropout is torch.nn.Dropout (inverted: kept values are scaled by 1/(1-P)).
type Dropout struct {
	Base
	// P is the probability of zeroing an element.
	P   float64
	rng *tensor.RNG
}

// NewDropout returns a Dropout with probability p drawing from rng (nil: a
// generator split off the default one).
func NewDropout(p float64, rng *tensor.RNG) *Dropout {
	if p < 0 || p >= 1 {
		panic(fastgo.Errorf("layers.NewDropout: p=%g must be in [0, 1)", p))
	}
	return &Dropout{P: p, rng: rngOr(rng)}
}

// Forward zeroes each element with probability P in training; identity in eval.
func (d *Dropout) Forward(x *autograd.Value) *autograd.Value {
	if !d.Training() {
		return x
	}
	return autograd.Dropout(x, d.P, d.rng)
}

// MaxPool2d is torch.nn.MaxPool2d.
type MaxPool2d struct {
	Base
	// Opts are the kernel, stride, padding and dilation.
	Opts autograd.Pool2dOptions
}

// NewMaxPool2d returns a square max pool (stride 0 means the kernel size).
func NewMaxPool2d(kernel, stride, padding int) *MaxPool2d {
	return &MaxPool2d{Opts: autograd.Pool2dOptions{Kernel: [2]int{kernel, kernel}, Stride: [2]int{stride, stride}, Padding: [2]int{padding, padding}}}
}

// Forward max-pools x [N, C, H, W].
func (p *MaxPool2d) Forward(x *autograd.Value) *autograd.Value { return autograd.MaxPool2d(x, p.Opts) }

// AvgPool2d is torch.nn.AvgPool2d (count_include_pad=True).
type AvgPool2d struct {
	Base
	// Opts are the kernel, stride and padding; ExcludePad is PyTorch's
	// count_include_pad=False.
	Opts autograd.Pool2dOptions
}

// NewAvgPool2d returns a square average pool (stride 0 means the kernel size).
func NewAvgPool2d(kernel, stride, padding int) *AvgPool2d {
	return &AvgPool2d{Opts: autograd.Pool2dOptions{Kernel: [2]int{kernel, kernel}, Stride: [2]int{stride, stride}, Padding: [2]int{padding, padding}}}
}

// Forward average-pools x [N, C, H, W].
func (p *AvgPool2d) Forward(x *autograd.Value) *autograd.Value { return autograd.AvgPool2d(x, p.Opts) }

// AdaptiveAvgPool2d is torch.nn.AdaptiveAvgPool2d((H, W)).
type AdaptiveAvgPool2d struct {
	Base
	// H and W are the output size.
	H, W int
}

// Forward pools x to [N, C, H, W].
func (p *AdaptiveAvgPool2d) Forward(x *autograd.Value) *autograd.Value {
	return autograd.AdaptiveAvgPool2d(x, p.H, p.W)
}

// AdaptiveMaxPool2d is torch.nn.AdaptiveMaxPool2d((H, W)).
type AdaptiveMaxPool2d struct {
	Base
	// H and W are the output size.
	H, W int
}

// Forward pools x to [N, C, H, W].
func (p *AdaptiveMaxPool2d) Forward(x *autograd.Value) *autograd.Value {
	return autograd.AdaptiveMaxPool2d(x, p.H, p.W)
}

// AdaptiveConcatPool2d is fastai's layer: adaptive max and average pools
// concatenated along channels (max first), doubling the channels.
type AdaptiveConcatPool2d struct {
	Base
	// Size is the output height and width of both pools.
	Size int
}

// NewAdaptiveConcatPool2d returns fastai's AdaptiveConcatPool2d(size), size 1
// by default (size <= 0).
func NewAdaptiveConcatPool2d(size int) *AdaptiveConcatPool2d {
	return &AdaptiveConcatPool2d{Size: max(size, 1)}
}

// Forward returns cat([maxpool(x), avgpool(x)], 1).
func (p *AdaptiveConcatPool2d) Forward(x *autograd.Value) *autograd.Value {
	return autograd.Concat(1, autograd.AdaptiveMaxPool2d(x, p.Size, p.Size), autograd.AdaptiveAvgPool2d(x, p.Size, p.Size))
}

// Normalize subtracts a per-channel mean and divides by a per-channel std, so
// that models take [0,1] pixels and attacks measure eps in pixels. Its mean
// and std are configuration, not state: they are not in the state dict.
type Normalize struct {
	Base
	// Mean and Std are the per-channel statistics (read-only: Forward uses
	// the values given to NewNormalize).
	Mean, Std []float32
	shift     *autograd.Value // -mean/std, shape [1, C, 1, 1]
	scale     *autograd.Value // 1/std, shape [1, C, 1, 1]
}

// ImageNetMean and ImageNetStd are torchvision's normalisation statistics.
var (
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
)

// NewNormalize returns a Normalize layer for len(mean) channels.
func NewNormalize(mean, std []float32) *Normalize {
	if len(mean) == 0 || len(mean) != len(std) {
		panic(fastgo.Errorf("layers.NewNormalize: %d means and %d stds", len(mean), len(std)))
	}
	c := len(mean)
	shift, scale := tensor.Zeros(1, c, 1, 1), tensor.Zeros(1, c, 1, 1)
	for i := range mean {
		if std[i] <= 0 {
			panic(fastgo.Errorf("layers.NewNormalize: std[%d] = %g must be positive", i, std[i]))
		}
		scale.Data()[i] = 1 / std[i]
		shift.Data()[i] = -mean[i] / std[i]
	}
	return &Normalize{Mean: append([]float32(nil), mean...), Std: append([]float32(nil), std...),
		shift: autograd.Const(shift), scale: autograd.Const(scale)}
}

// Forward returns (x - mean) / std per channel of x [N, C, H, W].
func (n *Normalize) Forward(x *autograd.Value) *autograd.Value {
	if x.Data().Rank() != 4 || x.Shape()[1] != len(n.Mean) {
		panic(fastgo.Errorf("layers.Normalize: input of shape %v, want [N %d H W]", x.Shape(), len(n.Mean)))
	}
	return autograd.Add(autograd.Mul(x, n.scale), n.shift)
}
