package callbacks

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/fastgo-ml/fastgo/learner"
)

// Comp reports whether value a is better than value b. Less and Greater are
// the usual ones.
type Comp func(a, b float64) bool

// Less is the Comp of values to minimise (losses, error rates).
func Less(a, b float64) bool { return a < b }

// Greater is the Comp of values to maximise (accuracy, F1...).
func Greater(a, b float64) bool { return a > b }

// InferComp returns fastai's direction for a monitored column: Less when
// the name contains "loss" or "error", Greater otherwise.
func InferComp(monitor string) Comp {
	if strings.Contains(monitor, "loss") || strings.Contains(monitor, "error") {
		return Less
	}
	return Greater
}

// tracker is fastai's TrackerCallback: it follows one column of the
// Recorder's table and says after each epoch whether it improved.
type tracker struct {
	monitor  string
	comp     Comp
	minDelta float64
	idx      int
	best     float64
	newBest  bool
	// off is set during LRFind, when trackers do nothing (as fastai's).
	off bool
}

// beforeFit resets the best value and finds the monitored column.
func (t *tracker) beforeFit(l *learner.Learner, monitor string, comp Comp, minDelta float64) error {
	t.off = l.InLRFind()
	if monitor == "" {
		monitor = "valid_loss"
	}
	if comp == nil {
		comp = InferComp(monitor)
	}
	t.monitor, t.comp = monitor, comp
	// fastai subtracts min_delta from the value; for a minimised quantity
	// the delta is negated so that an improvement must exceed it either way.
	t.minDelta = minDelta
	if comp(0, 1) {
		t.minDelta = -minDelta
	}
	t.best = math.Inf(1)
	if !comp(0, 1) {
		t.best = math.Inf(-1)
	}
	names := l.Recorder.MetricNames
	t.idx = -1
	if len(names) > 2 {
		for i, n := range names[1 : len(names)-1] {
			if n == monitor {
				t.idx = i
			}
		}
	}
	if t.idx < 0 {
		var have []string
		if len(names) > 2 {
			have = names[1 : len(names)-1]
		}
		return fmt.Errorf("callbacks: monitored value %q is not recorded (have %v)", monitor, have)
	}
	return nil
}

// afterEpoch reads the epoch's value and updates the best.
func (t *tracker) afterEpoch(l *learner.Learner) {
	vals := l.Recorder.Values
	t.newBest = false
	if len(vals) == 0 || t.idx >= len(vals[len(vals)-1]) {
		return
	}
	v := vals[len(vals)-1][t.idx]
	if !math.IsNaN(v) && t.comp(v-t.minDelta, t.best) {
		t.best, t.newBest = v, true
	}
}

// logf writes a line to w when w is not nil.
func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// EarlyStopping ends the fit (with learner.CancelFit) when the monitored
// value has not improved for Patience epochs: fastai's
// EarlyStoppingCallback. The zero value monitors valid_loss with patience 1.
type EarlyStopping struct {
	// Monitor is the column watched: "valid_loss" (the default),
	// "train_loss" or a metric's name.
	Monitor string
	// Comp tells whether a value is better than another; nil infers it
	// from Monitor (see InferComp).
	Comp Comp
	// MinDelta is the least change that counts as an improvement.
	MinDelta float64
	// Patience is the number of epochs without improvement to wait (0
	// means 1).
	Patience int
	// Log, when not nil, receives a line when the fit is stopped.
	Log io.Writer

	// StoppedEpoch is the epoch after which the last fit was stopped, or -1.
	StoppedEpoch int

	t    tracker
	wait int
}

// Order runs EarlyStopping after the other trackers (fastai's 63).
func (c *EarlyStopping) Order() int { return 63 }

// Name names the callback.
func (c *EarlyStopping) Name() string { return "EarlyStopping" }

// Handle follows the monitored value and cancels the fit.
func (c *EarlyStopping) Handle(l *learner.Learner, e learner.Event) error {
	switch e {
	case learner.BeforeFit:
		c.wait, c.StoppedEpoch = 0, -1
		return c.t.beforeFit(l, c.Monitor, c.Comp, c.MinDelta)
	case learner.AfterEpoch:
		if c.t.off {
			return nil
		}
		c.t.afterEpoch(l)
		if c.t.newBest {
			c.wait = 0
			return nil
		}
		c.wait++
		if c.wait >= max(c.Patience, 1) {
			c.StoppedEpoch = l.Epoch
			logf(c.Log, "No improvement since epoch %d: early stopping", l.Epoch-c.wait)
			return learner.CancelFit
		}
	}
	return nil
}

// Best returns the best monitored value of the current or last fit.
func (c *EarlyStopping) Best() float64 { return c.t.best }

// SaveModel saves the model whenever the monitored value improves and
// loads the best one back at the end of the fit: fastai's
// SaveModelCallback. Files are written atomically with learner.Save, so an
// interrupted run leaves the last good file.
type SaveModel struct {
	// Monitor, Comp and MinDelta choose what an improvement is, as for
	// EarlyStopping.
	Monitor  string
	Comp     Comp
	MinDelta float64
	// Path is the file to write (a safetensors state dict, with the
	// optimizer's state when WithOpt). It must be set.
	Path string
	// EveryEpoch saves after every epoch instead, to Path with the epoch
	// number before the extension ("model_3.safetensors"), and loads
	// nothing at the end.
	EveryEpoch bool
	// AtEnd saves the final model to Path at the end of the fit instead of
	// loading the best one (the best is still saved as it improves).
	AtEnd bool
	// WithOpt saves and loads the optimizer's state too.
	WithOpt bool
	// Log, when not nil, receives a line for each better model found.
	Log io.Writer

	// BestEpoch is the epoch of the best model saved in the current or last
	// fit, or -1.
	BestEpoch int

	t tracker
}

// Order runs SaveModel after the Recorder, before ReduceLROnPlateau and
// EarlyStopping (fastai's 61).
func (c *SaveModel) Order() int { return 61 }

// Name names the callback.
func (c *SaveModel) Name() string { return "SaveModel" }

// EpochPath returns the file EveryEpoch writes for epoch e.
func (c *SaveModel) EpochPath(e int) string {
	ext := filepath.Ext(c.Path)
	return fmt.Sprintf("%s_%d%s", strings.TrimSuffix(c.Path, ext), e, ext)
}

// Handle saves improvements and loads the best model after the fit.
func (c *SaveModel) Handle(l *learner.Learner, e learner.Event) error {
	switch e {
	case learner.BeforeFit:
		if c.Path == "" {
			return fmt.Errorf("callbacks.SaveModel: no Path")
		}
		c.BestEpoch = -1
		return c.t.beforeFit(l, c.Monitor, c.Comp, c.MinDelta)
	case learner.AfterEpoch:
		if c.t.off {
			return nil
		}
		if c.EveryEpoch {
			return l.Save(c.EpochPath(l.Epoch), c.saveOpts()...)
		}
		c.t.afterEpoch(l)
		if c.t.newBest {
			logf(c.Log, "Better model found at epoch %d with %s value: %g.", l.Epoch, c.t.monitor, c.t.best)
			if err := l.Save(c.Path, c.saveOpts()...); err != nil {
				return err
			}
			c.BestEpoch = l.Epoch
		}
	case learner.AfterFit:
		if c.t.off {
			return nil
		}
		switch {
		case c.AtEnd:
			return l.Save(c.Path, c.saveOpts()...)
		case !c.EveryEpoch && c.BestEpoch >= 0:
			return l.Load(c.Path, c.saveOpts()...)
		}
	}
	return nil
}

// Best returns the best monitored value of the current or last fit.
func (c *SaveModel) Best() float64 { return c.t.best }

// saveOpts are the options of Save and Load: the optimizer's state only
// WithOpt.
func (c *SaveModel) saveOpts() []learner.Option {
	if c.WithOpt {
		return nil
	}
	return []learner.Option{learner.WithoutOpt()}
}

// ReduceLROnPlateau divides the learning rate of every layer group by
// Factor when the monitored value has not improved for Patience epochs,
// never going below MinLR: fastai's ReduceLROnPlateau. A schedule that sets
// lr every batch (FitOneCycle) overrides it; use it with Fit.
type ReduceLROnPlateau struct {
	// Monitor, Comp and MinDelta choose what an improvement is, as for
	// EarlyStopping.
	Monitor  string
	Comp     Comp
	MinDelta float64
	// Patience is the number of epochs without improvement to wait (0
	// means 1).
	Patience int
	// Factor divides the learning rate (0 means 10).
	Factor float64
	// MinLR is the lowest learning rate it sets.
	MinLR float64
	// Log, when not nil, receives a line for each reduction.
	Log io.Writer

	t    tracker
	wait int
}

// Order runs ReduceLROnPlateau after SaveModel, before EarlyStopping
// (fastai's 62).
func (c *ReduceLROnPlateau) Order() int { return 62 }

// Name names the callback.
func (c *ReduceLROnPlateau) Name() string { return "ReduceLROnPlateau" }

// Handle follows the monitored value and lowers the learning rate.
func (c *ReduceLROnPlateau) Handle(l *learner.Learner, e learner.Event) error {
	switch e {
	case learner.BeforeFit:
		c.wait = 0
		return c.t.beforeFit(l, c.Monitor, c.Comp, c.MinDelta)
	case learner.AfterEpoch:
		if c.t.off {
			return nil
		}
		c.t.afterEpoch(l)
		if c.t.newBest {
			c.wait = 0
			return nil
		}
		c.wait++
		if c.wait < max(c.Patience, 1) {
			return nil
		}
		c.wait = 0
		factor := c.Factor
		if factor == 0 {
			factor = 10
		}
		lrs := l.Hyper("lr")
		if len(lrs) == 0 {
			return nil
		}
		old := lrs[len(lrs)-1]
		for i, lr := range lrs {
			lrs[i] = max(lr/factor, c.MinLR)
		}
		l.SetHyper("lr", lrs...)
		if lrs[len(lrs)-1] < old {
			logf(c.Log, "Epoch %d: reducing lr to %g", l.Epoch, lrs[len(lrs)-1])
		}
	}
	return nil
}
