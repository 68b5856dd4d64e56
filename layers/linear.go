package layers

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Linear is torch.nn.Linear: y = x W^T + b, with W of shape [out, in].
type Linear struct {
	Base
	// Weight is [out, in]; Bias is [out], or nil without bias.
	Weight, Bias *autograd.Value
}

// NewLinear returns a Linear layer from in to out features, initialised as
// PyTorch does (weight and bias U(-1/sqrt(in), 1/sqrt(in))) from rng (nil:
// the default generator, see SeedDefault). Its option is NoBias.
func NewLinear(in, out int, rng *tensor.RNG, opts ...Option) *Linear {
	bias := !resolve("NewLinear", inLinear, opts).noBias
	if in <= 0 || out <= 0 {
		panic(fastgo.Errorf("layers.NewLinear: sizes in=%d out=%d must be positive", in, out))
	}
	rng = rngOr(rng)
	l := &Linear{}
	w := tensor.Zeros(out, in)
	KaimingUniform(w, rng)
	l.Weight = l.AddParam("weight", autograd.Param(w))
	if bias {
		b := tensor.Zeros(out)
		bound := 1 / math.Sqrt(float64(in))
		UniformInit(b, -bound, bound, rng)
		l.Bias = l.AddParam("bias", autograd.Param(b))
	}
	return l
}

// Forward returns x W^T + b for x of shape [N, in].
func (l *Linear) Forward(x *autograd.Value) *autograd.Value {
	return autograd.Linear(x, l.Weight, l.Bias)
}

// String describes the layer as PyTorch prints it.
func (l *Linear) String() string {
	s := l.Weight.Shape()
	return fmt.Sprintf("Linear(in_features=%d, out_features=%d, bias=%v)", s[1], s[0], l.Bias != nil)
}
