package layers

import (
	"math"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// CallConvBN is Call(bn, Call(conv, x)), followed by a ReLU when relu is set:
// the Conv2d → BatchNorm2d (→ ReLU) of every ResNet block and CNN stem.
//
// When bn is in eval mode, neither module has a hook, and no parameter of
// either will receive a gradient (they are frozen, or gradients are off, as
// for inference and for attacks on a frozen model), the batch-norm is folded
// into the convolution: weight a⊙W and bias a⊙(b−mean)+beta per output
// channel, with a = gamma/sqrt(var+eps), computed afresh on each call (so a
// loaded or updated state is always used), and the ReLU is applied as the
// output is written (autograd.Conv2dReLU). The result equals the unfolded
// one up to float32 rounding (about 1e-6 relative), and the gradient with
// respect to x still flows. Otherwise CallConvBN runs the modules as they
// are, so training, hooks (Summary) and fine-tuning see them unchanged.
func CallConvBN(conv *Conv2d, bn *BatchNorm, x *autograd.Value) *autograd.Value {
	return callConvBN(conv, bn, x, false)
}

// CallConvBNReLU is CallConvBN followed by a ReLU, fused the same way: in
// the fold the ReLU is applied as the convolution's output is written, and
// otherwise it is BatchNorm's fused ReLU (CallReLU).
func CallConvBNReLU(conv *Conv2d, bn *BatchNorm, x *autograd.Value) *autograd.Value {
	return callConvBN(conv, bn, x, true)
}

func callConvBN(conv *Conv2d, bn *BatchNorm, x *autograd.Value, relu bool) *autograd.Value {
	if foldable(conv, bn) && x.Data().Rank() == 4 {
		w, b := foldConvBN(conv, bn)
		var out *autograd.Value
		if relu {
			out = autograd.Conv2dReLU(x, w, b, conv.Opts)
		} else {
			out = autograd.Conv2d(x, w, b, conv.Opts)
		}
		if !autograd.GradEnabled() || !x.RequiresGrad() {
			// Nothing will run the convolution's backward: the folded
			// tensors can go back to the pool now.
			w.Data().Release()
			b.Data().Release()
		}
		return out
	}
	h := Call(conv, x)
	if relu {
		return autograd.Consumed(h, CallReLU(bn, h))
	}
	return autograd.Consumed(h, Call(bn, h))
}

// CallConvBNReLUMaxPool is Call(pool, CallConvBNReLU(conv, bn, x)), the
// Conv → BatchNorm → ReLU → MaxPool block of small CNNs. When bn normalises
// with the batch statistics (training), pool is a 2x2 max pool of stride 2,
// and none of the modules has a hook, the batch-norm, ReLU and pool run as
// one op after the convolution, which gathers the batch-norm's statistics
// as it writes its output (autograd.Conv2dBatchNormReLUMaxPool2x2): the
// same values bit for bit, without the normalised tensor in between or a
// pass over the convolution's output for the statistics. When the
// batch-norm folds into the convolution (see CallConvBN) and pool is such
// a pool, the block is one op (autograd.Conv2dReLUMaxPool2x2), which does
// not keep the convolution's full-size output and sends the pooled
// gradient straight back into the convolution's backward. Otherwise the
// modules run as CallConvBNReLU and Call do.
func CallConvBNReLUMaxPool(conv *Conv2d, bn *BatchNorm, pool *MaxPool2d, x *autograd.Value) *autograd.Value {
	hooked := conv.Core().hook != nil || bn.Core().hook != nil || pool.Core().hook != nil
	if !hooked && foldable(conv, bn) && x.Data().Rank() == 4 && isPool2x2(pool.Opts) {
		w, b := foldConvBN(conv, bn)
		out := autograd.Conv2dReLUMaxPool2x2(x, w, b, conv.Opts)
		if !autograd.GradEnabled() || !x.RequiresGrad() {
			w.Data().Release() // as in callConvBN
			b.Data().Release()
		}
		return out
	}
	if !bn.Training() || bn.rank != 4 || x.Data().Rank() != 4 || !isPool2x2(pool.Opts) || hooked {
		h := CallConvBNReLU(conv, bn, x)
		return autograd.Consumed(h, Call(pool, h))
	}
	bn.NumBatchesTracked++
	h, out := autograd.Conv2dBatchNormReLUMaxPool2x2(x, conv.Weight, conv.Bias, conv.Opts, bn.Weight, bn.Bias, bn.RunningMean, bn.RunningVar,
		autograd.BatchNormOptions{Training: true, Momentum: float64(bn.Momentum), Eps: float64(bn.Eps)})
	return autograd.Consumed(h, out)
}

// isPool2x2 reports whether o is a 2x2 max pool of stride 2 without padding
// or dilation (zero stride and dilation meaning their defaults).
func isPool2x2(o autograd.Pool2dOptions) bool {
	for a := 0; a < 2; a++ {
		if o.Kernel[a] != 2 || (o.Stride[a] != 2 && o.Stride[a] != 0) || o.Padding[a] != 0 || o.Dilation[a] > 1 {
			return false
		}
	}
	return true
}

// foldable reports whether CallConvBN may fold bn into conv (see there).
func foldable(conv *Conv2d, bn *BatchNorm) bool {
	if bn.Training() || bn.rank != 4 || bn.RunningMean == nil || bn.RunningVar == nil ||
		conv.Core().hook != nil || bn.Core().hook != nil {
		return false
	}
	for _, p := range []*autograd.Value{conv.Weight, conv.Bias, bn.Weight, bn.Bias} {
		if p != nil && p.RequiresGrad() && autograd.GradEnabled() {
			return false
		}
	}
	return conv.Weight.Shape()[0] == bn.RunningMean.Len()
}

// foldConvBN returns the weight and bias of the convolution equal to bn
// (eval) applied after conv, as constants, computed in float64 from the
// float32 parameters.
func foldConvBN(conv *Conv2d, bn *BatchNorm) (w, b *autograd.Value) {
	ws := conv.Weight.Shape()
	out := ws[0]
	per := ws[1] * ws[2] * ws[3]
	wt := tensor.Empty[float32](ws...)
	bt := tensor.Empty[float32](out)
	src, dst, bd := conv.Weight.Data().Data(), wt.Data(), bt.Data()
	rm, rv := bn.RunningMean.Data(), bn.RunningVar.Data()
	parallel.For(out, 8, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			a := 1 / math.Sqrt(float64(rv[o])+float64(bn.Eps))
			if bn.Weight != nil {
				a *= float64(bn.Weight.Data().Data()[o])
			}
			var cb, beta float64
			if conv.Bias != nil {
				cb = float64(conv.Bias.Data().Data()[o])
			}
			if bn.Bias != nil {
				beta = float64(bn.Bias.Data().Data()[o])
			}
			bd[o] = float32(a*(cb-float64(rm[o])) + beta)
			for i, v := range src[o*per : (o+1)*per] {
				dst[o*per+i] = float32(a * float64(v))
			}
		}
	})
	return autograd.Const(wt), autograd.Const(bt)
}
