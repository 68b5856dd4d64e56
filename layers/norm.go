package layers

import (
	"fmt"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// BatchNorm is torch.nn.BatchNorm1d (input [N, C]) and BatchNorm2d (input
// [N, C, H, W]): weight 1, bias 0, running mean 0 and variance 1 at start,
// momentum 0.1, eps 1e-5.
type BatchNorm struct {
	Base
	// Weight and Bias are [C] (nil when not affine).
	Weight, Bias *autograd.Value
	// RunningMean and RunningVar are the buffers used in eval mode.
	RunningMean, RunningVar *tensor.Tensor
	// NumBatchesTracked counts training forwards, as PyTorch does.
	NumBatchesTracked int64
	// Momentum and Eps are PyTorch's hyper-parameters.
	Momentum, Eps float32
	rank          int
}

func newBatchNorm(c, rank int) *BatchNorm {
	if c <= 0 {
		panic(fastgo.Errorf("layers.NewBatchNorm%dd: %d features", rank-2, c))
	}
	b := &BatchNorm{Momentum: 0.1, Eps: 1e-5, rank: rank}
	b.Weight = b.AddParam("weight", autograd.Param(tensor.Ones(c)))
	b.Bias = b.AddParam("bias", autograd.Param(tensor.Zeros(c)))
	b.RunningMean = b.AddBuffer("running_mean", tensor.Zeros(c))
	b.RunningVar = b.AddBuffer("running_var", tensor.Ones(c))
	b.AddIntBuffer("num_batches_tracked", &b.NumBatchesTracked)
	return b
}

// NewBatchNorm1d returns a BatchNorm over [N, C] inputs.
func NewBatchNorm1d(c int) *BatchNorm { return newBatchNorm(c, 2) }

// NewBatchNorm2d returns a BatchNorm over [N, C, H, W] inputs.
func NewBatchNorm2d(c int) *BatchNorm { return newBatchNorm(c, 4) }

// Forward normalises x with batch statistics in training (updating the
// running ones) and with the running statistics in eval.
func (b *BatchNorm) Forward(x *autograd.Value) *autograd.Value {
	if x.Data().Rank() != b.rank {
		panic(fastgo.Errorf("layers.BatchNorm%dd: input of shape %v, want rank %d", b.rank-2, x.Shape(), b.rank))
	}
	training := b.Training()
	if training {
		b.NumBatchesTracked++
	}
	return autograd.BatchNorm(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, autograd.BatchNormOptions{Training: training, Momentum: float64(b.Momentum), Eps: float64(b.Eps)})
}

// ForwardReLU returns ReLU(b.Forward(x)) as one fused op
// (autograd.BatchNormReLU): the same values bit for bit, with a pass over
// memory less each way and no tensor in between.
func (b *BatchNorm) ForwardReLU(x *autograd.Value) *autograd.Value {
	if x.Data().Rank() != b.rank {
		panic(fastgo.Errorf("layers.BatchNorm%dd: input of shape %v, want rank %d", b.rank-2, x.Shape(), b.rank))
	}
	training := b.Training()
	if training {
		b.NumBatchesTracked++
	}
	return autograd.BatchNormReLU(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, autograd.BatchNormOptions{Training: training, Momentum: float64(b.Momentum), Eps: float64(b.Eps)})
}

// CallReLU is Call(b, x) followed by a ReLU, fused (see ForwardReLU); b's
// hook, if any, sees the fused output.
func CallReLU(b *BatchNorm, x *autograd.Value) *autograd.Value {
	out := b.ForwardReLU(x)
	if h := b.Core().hook; h != nil {
		h(b, x, out)
	}
	return out
}

// String describes the layer as PyTorch prints it.
func (b *BatchNorm) String() string {
	return fmt.Sprintf("BatchNorm%dd(%d, eps=%g, momentum=%g)", b.rank-2, b.RunningMean.Len(), b.Eps, b.Momentum)
}

// IsNorm reports whether m is a normalisation layer (fastai keeps these
// training when a model is frozen, and exempts them from weight decay).
func IsNorm(m Module) bool {
	_, ok := m.(*BatchNorm)
	return ok
}
