package learner

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Recorder keeps the history of a Learner's fits, as fastai's Recorder: the
// smoothed training loss and the hyper-parameters of every training batch,
// and per epoch the results table's row (train_loss, valid_loss, the
// metrics) and time. It is always among the Learner's callbacks, at fastai's
// order 50.
//
// As in fastai, the table's train_loss is the smoothed loss at the end of
// the epoch's training phase, an exponential moving average of the batch
// losses with weight Beta, debiased as Adam debiases its moments:
//
//	avg_t = Beta*avg_{t-1} + (1-Beta)*loss_t,  smooth_t = avg_t / (1 - Beta^t)
//
// restarted at every fit; valid_loss is the mean loss over the validation
// items (each batch weighted by its size). A phase that was cancelled keeps
// the figures of the batches it ran (ShortEpoch's epochs report their loss
// and metrics over the batches they saw), and its epoch's note says so; a
// phase that ran no batch leaves NaN in its columns, which the progress
// display prints as "#na#", and the note says why.
//
// Unlike fastai's, which forgets everything at each fit, the Recorder keeps
// the history of every fit of its Learner (FineTune's two fits appear one
// after the other); Iters and EpochIters tell them apart.
type Recorder struct {
	// Beta is the smoothing of the training loss (0 means 0.98).
	Beta float64
	// Losses holds the smoothed training loss after each batch; RawLosses
	// the unsmoothed ones.
	Losses, RawLosses []float64
	// LRs and Moms hold the last layer group's lr and mom at each batch
	// (mom is left out when the optimizer has none).
	LRs, Moms []float64
	// Iters holds the number of training batches of each fit.
	Iters []int
	// EpochIters holds, for each epoch, len(Losses) at its end: the x
	// position of its validation loss in PlotLoss.
	EpochIters []int
	// MetricNames are the column names: epoch, train_loss, valid_loss, the
	// metrics, time.
	MetricNames []string
	// Values holds, per epoch, train_loss, valid_loss and the metrics.
	Values [][]float64
	// EpochTimes holds each epoch's duration.
	EpochTimes []time.Duration
	// EpochNotes holds, per epoch, what its figures do not cover ("" for a
	// complete epoch): "train cut after 3 of 40 batches", "validation
	// cancelled before any batch was recorded".
	EpochNotes []string
	// SmoothLoss is the current smoothed training loss.
	SmoothLoss float64

	smoothCount  int
	smoothAvg    float64
	validSum     float64
	validCnt     float64
	trainBatches int // training batches of the current epoch
	trainLen     int // and the training phase's length
	validBatches int
	validLen     int
	epochStart   time.Time
	trainDone    bool
	validDone    bool
	trainCancel  bool
	validCancel  bool
	fitIterStart int
}

// Order is the Recorder's place among callbacks (fastai's 50).
func (r *Recorder) Order() int { return 50 }

// Name names the callback.
func (r *Recorder) Name() string { return "Recorder" }

func (r *Recorder) beta() float64 {
	if r.Beta == 0 {
		return 0.98
	}
	return r.Beta
}

// Handle records the loop's values.
func (r *Recorder) Handle(l *Learner, e Event) error {
	switch e {
	case BeforeFit:
		r.smoothCount, r.smoothAvg, r.SmoothLoss = 0, 0, math.NaN()
		r.MetricNames = []string{"epoch", "train_loss", "valid_loss"}
		for _, m := range l.Metrics {
			r.MetricNames = append(r.MetricNames, m.Name())
		}
		r.MetricNames = append(r.MetricNames, "time")
		r.fitIterStart = len(r.Losses)
	case BeforeEpoch:
		r.epochStart = time.Now()
		r.trainDone, r.validDone, r.trainCancel, r.validCancel = false, false, false, false
		r.trainBatches, r.validBatches, r.trainLen, r.validLen = 0, 0, 0, 0
		r.validSum, r.validCnt = 0, 0
	case BeforeTrain:
		r.trainLen = l.NIter
	case AfterCancelTrain:
		r.trainCancel = true // fastai logs nothing for a cancelled phase
	case AfterTrain:
		r.trainDone = !r.trainCancel
	case AfterCancelValidate:
		r.validCancel = true
	case AfterValidate:
		r.validDone = !r.validCancel
	case BeforeValidate:
		r.validSum, r.validCnt, r.validLen = 0, 0, l.NIter
		for _, m := range l.Metrics {
			m.Reset()
		}
	case AfterBatch:
		if l.LossV == nil || len(l.YB) == 0 {
			return nil
		}
		loss := float64(l.LossV.Data().Item())
		if l.Training {
			r.trainBatches++
			b := r.beta()
			r.smoothCount++
			r.smoothAvg = b*r.smoothAvg + (1-b)*loss
			r.SmoothLoss = r.smoothAvg / (1 - math.Pow(b, float64(r.smoothCount)))
			r.Losses = append(r.Losses, r.SmoothLoss)
			r.RawLosses = append(r.RawLosses, loss)
			if lrs := l.Hyper("lr"); len(lrs) > 0 {
				r.LRs = append(r.LRs, lrs[len(lrs)-1])
			}
			if moms, ok := l.hyperIfAny("mom"); ok {
				r.Moms = append(r.Moms, moms[len(moms)-1])
			}
			return nil
		}
		r.validBatches++
		n := float64(len(l.YB))
		r.validSum += loss * n
		r.validCnt += n
		for _, m := range l.Metrics {
			m.Accumulate(l.Pred.Data(), l.YB)
		}
	case AfterEpoch:
		vals := []float64{math.NaN(), math.NaN()}
		if r.trainBatches > 0 {
			vals[0] = r.SmoothLoss
		}
		valid := r.validCnt > 0
		if valid {
			vals[1] = div(r.validSum, r.validCnt)
		}
		for _, m := range l.Metrics {
			if valid {
				vals = append(vals, m.Value())
			} else {
				vals = append(vals, math.NaN())
			}
		}
		r.Values = append(r.Values, vals)
		r.EpochTimes = append(r.EpochTimes, time.Since(r.epochStart))
		r.EpochIters = append(r.EpochIters, len(r.Losses))
		r.EpochNotes = append(r.EpochNotes, r.note())
	case AfterFit:
		r.Iters = append(r.Iters, len(r.Losses)-r.fitIterStart)
	}
	return nil
}

// note says what the epoch's figures do not cover.
func (r *Recorder) note() string {
	phase := func(name string, done, cancelled bool, ran, n int) string {
		switch {
		case done && !cancelled && ran == n:
			return ""
		case ran == 0 && cancelled:
			return name + " cancelled before any batch was recorded"
		case ran == 0 && n == 0:
			return name + " has no batch"
		case ran == 0:
			return name + " not run"
		case ran < n:
			return fmt.Sprintf("%s cut after %d of %d batches", name, ran, n)
		}
		return ""
	}
	var parts []string
	for _, p := range []string{
		phase("train", r.trainDone, r.trainCancel, r.trainBatches, r.trainLen),
		phase("validation", r.validDone, r.validCancel, r.validBatches, r.validLen),
	} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "; ")
}

func div(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// Last returns the last epoch's value of a column (train_loss, valid_loss,
// a metric's name), and false if there is no such column or no epoch yet.
func (r *Recorder) Last(name string) (float64, bool) {
	if len(r.Values) == 0 || len(r.MetricNames) < 3 {
		return 0, false
	}
	for i, n := range r.MetricNames[1 : len(r.MetricNames)-1] {
		if n == name && i < len(r.Values[len(r.Values)-1]) {
			return r.Values[len(r.Values)-1][i], true
		}
	}
	return 0, false
}

// Column returns every epoch's value of a column, or nil if there is no such
// column.
func (r *Recorder) Column(name string) []float64 {
	if len(r.MetricNames) < 3 {
		return nil
	}
	for i, n := range r.MetricNames[1 : len(r.MetricNames)-1] {
		if n == name {
			out := make([]float64, len(r.Values))
			for e, row := range r.Values {
				out[e] = math.NaN()
				if i < len(row) {
					out[e] = row[i]
				}
			}
			return out
		}
	}
	return nil
}
