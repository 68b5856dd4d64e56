package learner

import (
	"fmt"
	"sort"
)

// Event is a point of the training loop at which callbacks run, in fastai's
// order:
//
//	BeforeFit
//	  for each epoch: BeforeEpoch
//	    BeforeTrain
//	      for each batch: BeforeBatch, AfterPred, AfterLoss,
//	        BeforeBackward, AfterBackward, BeforeStep, AfterStep, AfterBatch
//	    AfterTrain
//	    BeforeValidate
//	      for each batch: BeforeBatch, AfterPred, AfterLoss, AfterBatch
//	    AfterValidate
//	  AfterEpoch
//	AfterFit
//
// A cancellation returned by a callback skips the rest of its stage, then
// fires the matching AfterCancel event and the stage's After event.
type Event int

// The events, in the order fastai fires them.
const (
	BeforeFit Event = iota
	BeforeEpoch
	BeforeTrain
	BeforeBatch
	AfterPred
	AfterLoss
	BeforeBackward
	AfterCancelBackward
	AfterBackward
	BeforeStep
	AfterCancelStep
	AfterStep
	AfterCancelBatch
	AfterBatch
	AfterCancelTrain
	AfterTrain
	BeforeValidate
	AfterCancelValidate
	AfterValidate
	AfterCancelEpoch
	AfterEpoch
	AfterCancelFit
	AfterFit
	numEvents
)

var eventNames = [...]string{
	"before_fit", "before_epoch", "before_train", "before_batch", "after_pred", "after_loss",
	"before_backward", "after_cancel_backward", "after_backward", "before_step", "after_cancel_step",
	"after_step", "after_cancel_batch", "after_batch", "after_cancel_train", "after_train",
	"before_validate", "after_cancel_validate", "after_validate", "after_cancel_epoch", "after_epoch",
	"after_cancel_fit", "after_fit",
}

// String returns fastai's name of the event (e.g. "before_batch").
func (e Event) String() string {
	if e >= 0 && e < numEvents {
		return eventNames[e]
	}
	return fmt.Sprintf("Event(%d)", int(e))
}

// Callback reacts to the loop's events. It reads and may change the
// Learner's state (the batch XB/YB, Pred, Loss, hyper-parameters...) and may
// return a Cancel to skip the rest of a stage; any other error ends the run.
type Callback interface {
	Handle(l *Learner, e Event) error
}

// Ordered is implemented by callbacks that must run before (lower) or after
// (higher) others; the default order is 0 and ties keep insertion order, as
// fastai's Callback.order.
type Ordered interface {
	Order() int
}

// Named is implemented by callbacks that name themselves in errors and
// listings; otherwise the Go type name is used.
type Named interface {
	Name() string
}

// CallbackFunc adapts a function to a Callback.
type CallbackFunc func(l *Learner, e Event) error

// Handle calls f.
func (f CallbackFunc) Handle(l *Learner, e Event) error { return f(l, e) }

// Cancel is returned by a callback to skip the rest of a stage: fastai's
// CancelBatchException and friends.
type Cancel int

// The cancellations. Each skips the rest of its stage; the loop then fires
// the stage's AfterCancel event and its After event, and goes on.
const (
	CancelBatch Cancel = iota + 1
	CancelStep
	CancelBackward
	CancelTrain
	CancelValidate
	CancelEpoch
	CancelFit
)

// Error names the cancellation.
func (c Cancel) Error() string {
	switch c {
	case CancelBatch:
		return "learner: batch cancelled"
	case CancelStep:
		return "learner: step cancelled"
	case CancelBackward:
		return "learner: backward cancelled"
	case CancelTrain:
		return "learner: training phase cancelled"
	case CancelValidate:
		return "learner: validation cancelled"
	case CancelEpoch:
		return "learner: epoch cancelled"
	case CancelFit:
		return "learner: fit cancelled"
	}
	return fmt.Sprintf("learner: Cancel(%d)", int(c))
}

// sortCallbacks orders cbs by Order, stably.
func sortCallbacks(cbs []Callback) {
	sort.SliceStable(cbs, func(i, j int) bool { return orderOf(cbs[i]) < orderOf(cbs[j]) })
}

func orderOf(cb Callback) int {
	if o, ok := cb.(Ordered); ok {
		return o.Order()
	}
	return 0
}

// CallbackName returns cb's name: its Name() or its Go type.
func CallbackName(cb Callback) string {
	if n, ok := cb.(Named); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", cb)
}
