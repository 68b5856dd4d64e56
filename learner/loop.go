package learner

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
)

// FitOption configures one fit.
type FitOption func(*fitConfig)

type fitConfig struct {
	cbs        []Callback
	wd         *float64
	startEpoch int
	pctStart   float64
	div        float64
	divFinal   float64
	moms       [3]float64
	cycleMult  int
}

func newFitConfig(opts []FitOption) fitConfig {
	c := fitConfig{pctStart: -1, div: 25, divFinal: 1e5, moms: [3]float64{0.95, 0.85, 0.95}, cycleMult: 2}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// FitCallbacks adds callbacks for this fit only.
func FitCallbacks(cbs ...Callback) FitOption { return func(c *fitConfig) { c.cbs = append(c.cbs, cbs...) } }

// FitWD sets the weight decay of the decaying groups for this fit and after.
func FitWD(wd float64) FitOption { return func(c *fitConfig) { c.wd = &wd } }

// StartEpoch skips the first epochs of the fit (schedules included), to
// resume an interrupted run from its checkpoint.
func StartEpoch(e int) FitOption { return func(c *fitConfig) { c.startEpoch = e } }

// PctStart sets the fraction of a one-cycle (default 0.25) or flat-cos
// (default 0.75) schedule spent before the peak or the decay.
func PctStart(p float64) FitOption { return func(c *fitConfig) { c.pctStart = p } }

// Div sets one-cycle's initial division of the peak lr (default 25).
func Div(d float64) FitOption { return func(c *fitConfig) { c.div = d } }

// DivFinal sets the division of the peak lr at the end (default 1e5).
func DivFinal(d float64) FitOption { return func(c *fitConfig) { c.divFinal = d } }

// Moms sets one-cycle's momentum schedule (default 0.95, 0.85, 0.95).
func Moms(start, mid, end float64) FitOption {
	return func(c *fitConfig) { c.moms = [3]float64{start, mid, end} }
}

// CycleMult sets SGDR's cycle-length multiplier (default 2).
func CycleMult(m int) FitOption { return func(c *fitConfig) { c.cycleMult = m } }

// FitError is the error of a fit that failed: where it stopped and why.
type FitError struct {
	// Epoch and Batch locate the failure (Batch -1 outside a batch).
	Epoch, Batch int
	// Phase is "train" or "valid".
	Phase string
	// Event and Callback name the event and the callback running, if any.
	Event    Event
	Callback string
	Err      error
}

func (e *FitError) Error() string {
	where := fmt.Sprintf("epoch %d", e.Epoch)
	if e.Batch >= 0 {
		where += fmt.Sprintf(", %s batch %d", e.Phase, e.Batch)
	}
	if e.Callback != "" {
		where += fmt.Sprintf(", callback %s at %v", e.Callback, e.Event)
	}
	return fmt.Sprintf("learner: fit stopped at %s: %v", where, e.Err)
}

func (e *FitError) Unwrap() error { return e.Err }

// ErrNaNLoss is wrapped by the error of a fit whose training loss became NaN
// or infinite.
var ErrNaNLoss = errors.New("the loss is not finite")

// runState is the per-fit machinery.
type runState struct {
	ctx      context.Context
	cbs      []Callback
	inBatch  bool
	curEvent Event
	fatal    *FitError
}

// Fit trains for nEpoch epochs at the optimizer's current hyper-parameters
// (fastai's fit). It returns nil when the fit completes or a callback
// cancels it with CancelFit, and a *FitError when ctx is done, the loss is
// not finite, a callback fails or panics, or the data fails; the model is
// left usable (no pending gradients, in training mode).
func (l *Learner) Fit(ctx context.Context, nEpoch int, opts ...FitOption) error {
	return l.fit(ctx, nEpoch, newFitConfig(opts))
}

func (l *Learner) fit(ctx context.Context, nEpoch int, cfg fitConfig) (err error) {
	if nEpoch < 0 {
		return fmt.Errorf("learner: %d epochs", nEpoch)
	}
	if l.Opt == nil {
		l.CreateOpt()
	}
	if cfg.wd != nil {
		pgs := l.Opt.ParamGroups()
		for _, idx := range l.optGroups {
			for _, j := range idx {
				if pgs[j].Get("wd") != 0 {
					pgs[j].Set("wd", *cfg.wd)
				}
			}
		}
		l.WD = *cfg.wd
	}
	cbs := append(append([]Callback{trainEval{}}, l.cbs...), cfg.cbs...)
	sortCallbacks(cbs)
	rs := &runState{ctx: ctx, cbs: cbs}
	l.NEpoch, l.TrainIter, l.PctTrain = nEpoch, 0, 0
	l.Epoch, l.Iter = cfg.startEpoch, 0
	if cfg.startEpoch > 0 && nEpoch > 0 {
		n := l.Data.TrainLoader().Len()
		l.TrainIter = cfg.startEpoch * n
		l.PctTrain = float64(cfg.startEpoch) / float64(nEpoch)
	}
	defer func() {
		l.XB, l.YB, l.Pred, l.LossV, l.LossFuncOverride, l.BatchIndex = nil, nil, nil, nil, nil, nil
		l.Opt.ZeroGrad()
		layers.Train(l.Model)
		l.Training = false
	}()
	err = l.stage(rs, BeforeFit, AfterFit, AfterCancelFit, CancelFit, func() error {
		for e := cfg.startEpoch; e < nEpoch; e++ {
			l.Epoch = e
			if err := l.stage(rs, BeforeEpoch, AfterEpoch, AfterCancelEpoch, CancelEpoch, func() error {
				return l.doEpoch(rs)
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		return nil
	}
	if rs.fatal != nil {
		return rs.fatal
	}
	var c Cancel
	if errors.As(err, &c) {
		return l.fail(rs, fmt.Errorf("%v raised outside its stage", c))
	}
	return l.fail(rs, err)
}

// trainEval is fastai's TrainEvalCallback: it advances TrainIter and
// PctTrain after each training batch, before the other callbacks see it.
type trainEval struct{}

func (trainEval) Order() int { return -10 }

func (trainEval) Handle(l *Learner, e Event) error {
	if e == AfterBatch && l.Training {
		l.TrainIter++
		l.PctTrain += 1 / float64(l.NIter*l.NEpoch)
	}
	return nil
}

// fail wraps err with the current position (once).
func (l *Learner) fail(rs *runState, err error) error {
	var fe *FitError
	if errors.As(err, &fe) {
		return fe
	}
	fe = &FitError{Epoch: l.Epoch, Batch: -1, Phase: "train", Event: rs.curEvent, Err: err}
	if !l.Training {
		fe.Phase = "valid"
	}
	if rs.inBatch {
		fe.Batch = l.Iter
	}
	if l.current != nil {
		fe.Callback = CallbackName(l.current)
	}
	rs.fatal = fe
	return fe
}

// event runs every callback's handler for e, stopping at the first error.
// A panic in a callback becomes an error naming it.
func (l *Learner) event(rs *runState, e Event) error {
	rs.curEvent = e
	for _, cb := range rs.cbs {
		l.current = cb
		if err := l.safeHandle(cb, e); err != nil {
			var c Cancel
			if errors.As(err, &c) {
				l.current = nil
				return c
			}
			return l.fail(rs, err)
		}
	}
	l.current = nil
	return nil
}

func (l *Learner) safeHandle(cb Callback, e Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("callback panicked: %v", r)
		}
	}()
	return cb.Handle(l, e)
}

// stage runs before, f and after, as fastai's _with_events: the Cancel kind
// raised in before or f fires afterCancel, then after; another error skips
// after and propagates.
func (l *Learner) stage(rs *runState, before, after, afterCancel Event, kind Cancel, f func() error) error {
	err := l.event(rs, before)
	if err == nil {
		err = f()
	}
	if err == error(kind) {
		if err := l.event(rs, afterCancel); err != nil {
			return err
		}
		err = nil
	}
	if err != nil {
		return err
	}
	return l.event(rs, after)
}

// doEpoch runs the training phase, then validation under NoGrad in eval mode.
func (l *Learner) doEpoch(rs *runState) error {
	l.Training = true
	layers.Train(l.Model)
	if err := l.stage(rs, BeforeTrain, AfterTrain, AfterCancelTrain, CancelTrain, func() error {
		return l.allBatches(rs, l.Data.TrainLoader(), l.DataEpoch)
	}); err != nil {
		return err
	}
	l.DataEpoch++
	l.Training = false
	layers.Eval(l.Model)
	var err error
	autograd.NoGrad(func() {
		err = l.stage(rs, BeforeValidate, AfterValidate, AfterCancelValidate, CancelValidate, func() error {
			return l.allBatches(rs, l.Data.ValidLoader(), 0)
		})
	})
	layers.Train(l.Model)
	return err
}

// allBatches runs one phase over a loader's epoch.
func (l *Learner) allBatches(rs *runState, dl Loader, epoch int) error {
	l.NIter = dl.Len()
	i := 0
	for b, err := range dl.Epoch(rs.ctx, epoch) {
		if err == nil {
			err = rs.ctx.Err()
		}
		if err != nil {
			rs.inBatch = true
			l.Iter = i
			return l.fail(rs, err)
		}
		l.Iter = i
		l.XB, l.YB, l.BatchIndex = autograd.Const(b.X), b.Y, b.Index
		rs.inBatch = true
		err = l.stage(rs, BeforeBatch, AfterBatch, AfterCancelBatch, CancelBatch, func() error { return l.oneBatch(rs) })
		rs.inBatch = false
		l.LossFuncOverride = nil
		if err != nil {
			return err
		}
		i++
	}
	return nil
}

// oneBatch is fastai's _do_one_batch.
func (l *Learner) oneBatch(rs *runState) error {
	l.Pred = layers.Call(l.Model, l.XB)
	if err := l.event(rs, AfterPred); err != nil {
		return err
	}
	lf := l.Loss
	if l.LossFuncOverride != nil {
		lf = l.LossFuncOverride
	}
	l.LossV = lf(l.Pred, l.YB)
	if err := l.event(rs, AfterLoss); err != nil {
		return err
	}
	if v := l.LossV.Data().Item(); math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return l.fail(rs, fmt.Errorf("%w (%v)", ErrNaNLoss, v))
	}
	if !l.Training {
		return nil
	}
	if err := l.stage(rs, BeforeBackward, AfterBackward, AfterCancelBackward, CancelBackward, func() error {
		l.LossV.Backward()
		return nil
	}); err != nil {
		l.Opt.ZeroGrad()
		return err
	}
	err := l.stage(rs, BeforeStep, AfterStep, AfterCancelStep, CancelStep, func() error {
		l.Opt.Step()
		return nil
	})
	l.Opt.ZeroGrad()
	return err
}
