package callbacks

import (
	"math"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
)

// TerminateOnNaN ends the fit cleanly (learner.CancelFit, so Fit returns
// nil and the AfterFit callbacks run) as soon as a batch's loss is NaN or
// infinite, or a step leaves a parameter or buffer (BatchNorm's running
// statistics) NaN or infinite: fastai's TerminateOnNaNCallback, which
// checks the loss only. Without it the Learner fails the fit with an error
// wrapping fastgo.ErrNonFinite. The zero value is ready to use.
type TerminateOnNaN struct {
	// Stopped reports whether the last fit was ended by a non-finite loss
	// or state, and Epoch and Iter where; Param names the parameter or
	// buffer ("" for the loss).
	Stopped     bool
	Epoch, Iter int
	Param       string

	state *layers.StateDict
}

// Order runs TerminateOnNaN early (fastai's -9), before any callback that
// reads the loss.
func (c *TerminateOnNaN) Order() int { return -9 }

// Name names the callback.
func (c *TerminateOnNaN) Name() string { return "TerminateOnNaN" }

// Handle checks the loss in AfterLoss, before the Learner's own check.
func (c *TerminateOnNaN) Handle(l *learner.Learner, e learner.Event) error {
	switch e {
	case learner.BeforeFit:
		c.Stopped, c.Epoch, c.Iter, c.Param = false, 0, 0, ""
		c.state = layers.GetStateDict(l.Model)
	case learner.AfterStep:
		if n, _, bad := c.state.NonFinite(); bad {
			c.Stopped, c.Epoch, c.Iter, c.Param = true, l.Epoch, l.Iter, n
			return learner.CancelFit
		}
	case learner.AfterLoss:
		if l.LossV == nil {
			return nil
		}
		if v := float64(l.LossV.Data().Item()); math.IsNaN(v) || math.IsInf(v, 0) {
			c.Stopped, c.Epoch, c.Iter = true, l.Epoch, l.Iter
			return learner.CancelFit
		}
	}
	return nil
}

// ShortEpoch cuts every training phase (and, unless FullValid, every
// validation phase) after a fraction Pct of its batches, to check quickly
// that a pipeline runs end to end: fastai's ShortEpochCallback. As in
// fastai, the phase is cancelled after the first batch i (from 0) with
// i/NIter >= Pct, so at least one batch always runs.
type ShortEpoch struct {
	// Pct is the fraction of the batches to run (0 means 0.01).
	Pct float64
	// FullValid runs the validation phases in full.
	FullValid bool
}

// Order runs ShortEpoch after the Recorder (fastai runs it at 0), so that
// the last batch of a cut phase is recorded too.
func (c *ShortEpoch) Order() int { return 55 }

// Name names the callback.
func (c *ShortEpoch) Name() string { return "ShortEpoch" }

// Handle cancels the phase after the batch that reaches Pct.
func (c *ShortEpoch) Handle(l *learner.Learner, e learner.Event) error {
	if e != learner.AfterBatch {
		return nil
	}
	pct := c.Pct
	if pct == 0 {
		pct = 0.01
	}
	if float64(l.Iter)/float64(max(l.NIter, 1)) < pct {
		return nil
	}
	if l.Training {
		return learner.CancelTrain
	}
	if !c.FullValid {
		return learner.CancelValidate
	}
	return nil
}
