package learner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
)

// fitConfig is one fit's settings, with the defaults filled in.
type fitConfig struct {
	cbs        []Callback
	lr         rate
	wd         *float64
	startEpoch int
	pctStart   float64
	div        float64
	divFinal   float64
	moms       [3]float64
	cycleMult  int
	progress   *progressSetting
}

// fitConfigOf fills a fit's settings with fastai's defaults; pctStart is
// the schedule's default.
func fitConfigOf(s settings, pctStart float64) fitConfig {
	c := fitConfig{cbs: s.cbs, lr: s.lr, wd: s.wd, startEpoch: s.startEpoch, pctStart: pctStart,
		div: 25, divFinal: 1e5, moms: [3]float64{0.95, 0.85, 0.95}, cycleMult: 2, progress: s.progress}
	if s.pctStart != nil {
		c.pctStart = *s.pctStart
	}
	if s.div != nil {
		c.div = *s.div
	}
	if s.divFinal != nil {
		c.divFinal = *s.divFinal
	}
	if s.moms != nil {
		c.moms = *s.moms
	}
	if s.cycleMult != nil {
		c.cycleMult = *s.cycleMult
	}
	return c
}

// FitError is the error of a fit that failed: where it stopped and why.
type FitError struct {
	// Epoch and Batch locate the failure (Batch -1 outside a batch).
	Epoch, Batch int
	// Phase is "train" or "valid".
	Phase string
	// Event and Callback name the event and the callback running, if any.
	Event    Event
	Callback string
	// Err is the cause: ctx.Err(), an error wrapping ErrNaNLoss, a
	// callback's error or panic, the model's panic or the loader's error.
	Err error
	// Stack is the goroutine's stack when the failure was a panic.
	Stack []byte
}

// Error describes where the fit stopped and why.
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

// Unwrap returns Err, for errors.Is and errors.As.
func (e *FitError) Unwrap() error { return e.Err }

// ErrNoTrainingBatch is wrapped by the error of a fit whose training loader
// serves no batch (fewer items than one batch, the last partial batch being
// dropped in training): such a fit would train nothing and report figures
// of an untrained model.
var ErrNoTrainingBatch = errors.New("the training loader serves no batch")

// ErrOneClass is wrapped by the error of a fit on data with a single class:
// a classifier needs at least two.
var ErrOneClass = errors.New("the data has one class")

// checkData refuses data that cannot train.
func (l *Learner) checkData() error {
	if l.Data.TrainLoader().Len() == 0 {
		return fmt.Errorf("learner: %w: fewer items than one batch (training drops the last partial batch); lower the batch size", ErrNoTrainingBatch)
	}
	if c := l.Data.Classes(); len(c) == 1 {
		return fmt.Errorf("learner: %w (%q): a classifier needs at least two", ErrOneClass, c[0])
	}
	return nil
}

// ErrNaNLoss is wrapped by the error of a fit whose training loss became NaN
// or infinite.
var ErrNaNLoss = fmt.Errorf("the loss is not finite (%w)", fastgo.ErrNonFinite)

// runState is the per-fit machinery.
type runState struct {
	ctx      context.Context
	mem      *memPacer
	cbs      []Callback
	inBatch  bool
	curEvent Event
	fatal    *FitError
	state    stateWatch
}

// Fit trains for nEpoch epochs at a constant learning rate (fastai's fit):
// the LR option's, else the learner's, and weight decay (WD); callbacks may
// change them as it runs. Its options are the fits' (Callbacks, LR, WD,
// StartEpoch, NoProgress, ProgressTo). It returns nil when the fit completes or a
// callback cancels it with CancelFit, and a *FitError when ctx is done, the
// loss is not finite, a callback fails or panics, the model panics, or the
// data fails; the model is left usable (no pending gradients, in training
// mode), the optimizer keeps the steps taken.
func (l *Learner) Fit(ctx context.Context, nEpoch int, opts ...Option) error {
	return l.fit(ctx, nEpoch, fitConfigOf(resolve("Fit", inFit, opts), 0))
}

func (l *Learner) fit(ctx context.Context, nEpoch int, cfg fitConfig) (err error) {
	if nEpoch < 0 {
		return fmt.Errorf("learner: %d epochs", nEpoch)
	}
	if err := l.checkData(); err != nil {
		return err
	}
	if l.Opt == nil {
		l.CreateOpt()
	}
	// As fastai's fit: weight decay and learning rate are set at the start
	// of every fit; schedules then set them batch by batch.
	wd := l.wd
	if cfg.wd != nil {
		wd = *cfg.wd
	}
	l.setWD(wd)
	l.SetHyper("lr", l.lrMax(cfg.lr)...)
	cbs := append(append([]Callback{trainEval{}}, l.cbs...), cfg.cbs...)
	if p := l.progressFor(cfg.progress); p != nil {
		cbs = append(cbs, p)
	}
	sortCallbacks(cbs)
	rs := &runState{ctx: ctx, cbs: cbs, state: watchState(l.Model), mem: newMemPacer()}
	l.ctx = ctx
	l.NEpoch, l.TrainIter, l.PctTrain = nEpoch, 0, 0
	l.Epoch, l.Iter = cfg.startEpoch, 0
	if cfg.startEpoch > 0 && nEpoch > 0 {
		n := l.Data.TrainLoader().Len()
		l.TrainIter = cfg.startEpoch * n
		l.PctTrain = float64(cfg.startEpoch) / float64(nEpoch)
	}
	defer func() {
		l.ctx = nil
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

// trainEval is fastai's TrainEvalCallback: it sets PctTrain to the epoch's
// start before each training phase, and advances TrainIter and PctTrain
// after each training batch, before the other callbacks see it.
type trainEval struct{}

func (trainEval) Order() int { return -10 }

func (trainEval) Handle(l *Learner, e Event) error {
	switch e {
	case BeforeTrain:
		l.PctTrain = float64(l.Epoch) / float64(max(l.NEpoch, 1))
	case AfterBatch:
		if l.Training {
			l.TrainIter++
			l.PctTrain += 1 / float64(max(l.NIter*l.NEpoch, 1))
		}
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
	l.NIter, l.Iter = l.Data.TrainLoader().Len(), 0 // known to BeforeTrain's callbacks (the progress bar's total)
	if err := l.stage(rs, BeforeTrain, AfterTrain, AfterCancelTrain, CancelTrain, func() error {
		return l.allBatches(rs, l.Data.TrainLoader(), l.DataEpoch)
	}); err != nil {
		return err
	}
	l.DataEpoch++
	l.Training = false
	layers.Eval(l.Model)
	l.NIter, l.Iter = l.Data.ValidLoader().Len(), 0
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
func (l *Learner) allBatches(rs *runState, dl data.Loader, epoch int) error {
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
		err = l.stage(rs, BeforeBatch, AfterBatch, AfterCancelBatch, CancelBatch, func() error { return l.safeBatch(rs) })
		rs.inBatch = false
		l.LossFuncOverride = nil
		if err != nil {
			return err
		}
		rs.mem.afterBatch()
		i++
	}
	return nil
}

// safeBatch runs oneBatch and turns a panic of the model, the loss or the
// optimizer (a shape that does not fit, say) into an error naming the batch.
func (l *Learner) safeBatch(rs *runState) (err error) {
	defer func() {
		if r := recover(); r != nil {
			prev := l.current
			l.current = nil
			err = l.fail(rs, fmt.Errorf("panic: %v", r))
			l.current = prev
			rs.fatal.Stack = debug.Stack()
		}
	}()
	return l.oneBatch(rs)
}

// oneBatch is fastai's _do_one_batch: forward, loss, then in training the
// backward and step stages and zero_grad. As in fastai, the gradients are
// cleared only once the step stage has run (or was cancelled with
// CancelStep): a CancelBatch raised after the backward keeps them, and the
// next batch's backward adds to them (GradientAccumulation relies on this).
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
		return err
	}
	if err := l.stage(rs, BeforeStep, AfterStep, AfterCancelStep, CancelStep, func() error {
		l.Opt.Step()
		return nil
	}); err != nil {
		return err
	}
	l.Opt.ZeroGrad()
	if err := rs.state.checkFinite(); err != nil {
		return l.fail(rs, err)
	}
	return nil
}

// stateWatch holds the model's state (parameters and buffers, such as
// BatchNorm's running statistics), checked after every step.
type stateWatch struct{ sd *layers.StateDict }

func watchState(m layers.Module) stateWatch { return stateWatch{layers.GetStateDict(m)} }

// checkFinite returns an error naming the first parameter or buffer that
// holds a NaN or an infinity (a step that diverged).
func (w stateWatch) checkFinite() error {
	if n, i, bad := w.sd.NonFinite(); bad {
		return fmt.Errorf("parameter or buffer %s holds %v at element %d after the step: %w", n, w.sd.Tensors[n].Data()[i], i, fastgo.ErrNonFinite)
	}
	return nil
}
