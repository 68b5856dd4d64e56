package layers

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Conv2d is torch.nn.Conv2d with a square kernel.
type Conv2d struct {
	Base
	// Weight is [out, in/groups, k, k]; Bias is [out], or nil.
	Weight, Bias *autograd.Value
	// Opts are the stride, padding, dilation and groups passed to autograd.Conv2d.
	Opts autograd.Conv2dOptions
}

// NewConv2d returns a Conv2d from in to out channels with a kernel x kernel
// window, initialised as PyTorch does from rng (nil: the default generator,
// see SeedDefault). Its options are PyTorch's arguments: Stride, Padding,
// Dilation, Groups (one value for both spatial dimensions) and NoBias.
func NewConv2d(in, out, kernel int, rng *tensor.RNG, opts ...Option) *Conv2d {
	cfg := resolve("NewConv2d", inConv, opts)
	g := max(cfg.groups, 1)
	if in <= 0 || out <= 0 || kernel <= 0 || in%g != 0 || out%g != 0 {
		panic(fastgo.Errorf("layers.NewConv2d: in=%d out=%d kernel=%d groups=%d are not valid", in, out, kernel, g))
	}
	rng = rngOr(rng)
	c := &Conv2d{Opts: autograd.Conv2dOptions{
		Stride:   [2]int{max(cfg.stride, 1), max(cfg.stride, 1)},
		Padding:  [2]int{cfg.padding, cfg.padding},
		Dilation: [2]int{max(cfg.dilation, 1), max(cfg.dilation, 1)},
		Groups:   g,
	}}
	w := tensor.Zeros(out, in/g, kernel, kernel)
	KaimingUniform(w, rng)
	c.Weight = c.AddParam("weight", autograd.Param(w))
	if !cfg.noBias {
		b := tensor.Zeros(out)
		bound := 1 / math.Sqrt(float64(FanIn(w.Shape())))
		UniformInit(b, -bound, bound, rng)
		c.Bias = c.AddParam("bias", autograd.Param(b))
	}
	return c
}

// Forward convolves x of shape [N, in, H, W].
func (c *Conv2d) Forward(x *autograd.Value) *autograd.Value {
	return autograd.Conv2d(x, c.Weight, c.Bias, c.Opts)
}

// String describes the layer as PyTorch prints it.
func (c *Conv2d) String() string {
	s := c.Weight.Shape()
	return fmt.Sprintf("Conv2d(%d, %d, kernel_size=(%d, %d), stride=%v, padding=%v, groups=%d, bias=%v)",
		s[1]*c.Opts.Groups, s[0], s[2], s[3], c.Opts.Stride, c.Opts.Padding, c.Opts.Groups, c.Bias != nil)
}
