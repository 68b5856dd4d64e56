package callbacks

import (
	"math"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// trainedParams returns the optimizer's parameters that have a gradient.
func trainedParams(l *learner.Learner) []*autograd.Value {
	if l.Opt == nil {
		return nil
	}
	var out []*autograd.Value
	for _, g := range l.Opt.ParamGroups() {
		for _, p := range g.Params {
			if p.Grad() != nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// GradNorm returns the global L2 norm of the gradients of params (those
// without a gradient count as zero), accumulated in float64.
func GradNorm(params []*autograd.Value) float64 {
	s := 0.0
	for _, p := range params {
		if g := p.Grad(); g != nil {
			for _, v := range g.Data() {
				s += float64(v) * float64(v)
			}
		}
	}
	return math.Sqrt(s)
}

// GradientClip rescales the gradients after each backward pass so that
// their global L2 norm is at most MaxNorm, as PyTorch's clip_grad_norm_:
// when the norm exceeds MaxNorm, every gradient is multiplied by
// MaxNorm/(norm+1e-6). It is fastai's GradientClip. The zero value clips at
// norm 1.
type GradientClip struct {
	// MaxNorm is the largest norm allowed (0 means 1).
	MaxNorm float64
	// LastNorm is the norm of the last batch's gradients before clipping.
	LastNorm float64
}

// Order runs GradientClip after GradientAccumulation has added its saved
// gradients (fastai's 11).
func (c *GradientClip) Order() int { return 11 }

// Name names the callback.
func (c *GradientClip) Name() string { return "GradientClip" }

// Handle clips the gradients in AfterBackward.
func (c *GradientClip) Handle(l *learner.Learner, e learner.Event) error {
	if e != learner.AfterBackward {
		return nil
	}
	maxNorm := c.MaxNorm
	if maxNorm == 0 {
		maxNorm = 1
	}
	ps := trainedParams(l)
	c.LastNorm = GradNorm(ps)
	if coef := maxNorm / (c.LastNorm + 1e-6); coef < 1 {
		for _, p := range ps {
			tensor.ScaleInPlace(p.Grad(), float32(coef))
		}
	}
	return nil
}

// GradientAccumulation accumulates gradients over several batches until
// NAcc items have been seen, then lets the optimizer step once: fastai's
// GradientAccumulation, to train with an effective batch of NAcc items when
// only smaller batches fit in memory. Each batch's loss is scaled by its
// batch size / NAcc for the backward pass only (the recorded loss is not),
// so with a mean-reduced loss the step uses the mean gradient over the NAcc
// items, as one batch of NAcc items would (exactly when the batch size
// divides NAcc, up to float32 rounding and BatchNorm's batch statistics).
//
// As in fastai, the steps in between are skipped by raising
// learner.CancelBatch in BeforeStep: the loop then skips the step and the
// zeroing of the gradients, and the next backward adds to them. A partial
// sum carries over from one epoch to the next; the Learner clears it at the
// end of the fit. Validation batches are untouched.
type GradientAccumulation struct {
	// NAcc is the number of items per optimizer step (0 means 32).
	NAcc int
	// Steps counts the optimizer steps taken in the current or last fit.
	Steps int

	count int
	loss  *autograd.Value
}

// Order runs GradientAccumulation before GradientClip (fastai's 6), so
// that the clip sees the accumulated gradients.
func (c *GradientAccumulation) Order() int { return 6 }

// Name names the callback.
func (c *GradientAccumulation) Name() string { return "GradientAccumulation" }

func (c *GradientAccumulation) nAcc() int {
	if c.NAcc <= 0 {
		return 32
	}
	return c.NAcc
}

// Handle scales the backward pass and cancels the early steps.
func (c *GradientAccumulation) Handle(l *learner.Learner, e learner.Event) error {
	switch e {
	case learner.BeforeFit:
		c.count, c.Steps = 0, 0
	case learner.BeforeBackward:
		c.loss = l.LossV
		l.LossV = autograd.MulScalar(l.LossV, float32(float64(len(l.YB))/float64(c.nAcc())))
	case learner.AfterBackward:
		if c.loss != nil {
			l.LossV, c.loss = c.loss, nil
		}
	case learner.BeforeStep:
		c.count += len(l.YB)
		if c.count < c.nAcc() {
			return learner.CancelBatch
		}
		c.count = 0
		c.Steps++
	}
	return nil
}
