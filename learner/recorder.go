package learner

import (
	"math"
	"time"
)

// Recorder keeps the history of a Learner's fits, as fastai's Recorder: the
// smoothed training loss and the hyper-parameters of every training batch,
// and per epoch the train loss, valid loss and metrics. It is always the
// Learner's first callback (order 50 among the others, as in fastai).
type Recorder struct {
	// Beta is the smoothing of the training loss (0.98).
	Beta float64
	// Losses holds the smoothed training loss after each batch; RawLosses
	// the unsmoothed ones.
	Losses, RawLosses []float64
	// LRs and Moms hold the last layer group's lr and mom at each batch.
	LRs, Moms []float64
	// Iters counts the batches in each fit (for plots).
	Iters []int
	// MetricNames are the column names: epoch, train_loss, valid_loss, the
	// metrics, time.
	MetricNames []string
	// Values holds, per epoch, train_loss, valid_loss and the metrics.
	Values [][]float64
	// EpochTimes holds each epoch's duration.
	EpochTimes []time.Duration
	// SmoothLoss is the current smoothed training loss.
	SmoothLoss float64

	smoothCount  int
	smoothAvg    float64
	trainSum     float64
	trainCnt     float64
	validSum     float64
	validCnt     float64
	epochStart   time.Time
	validRan     bool
	fitIterStart int
}

// Order is the Recorder's place among callbacks (fastai's 50).
func (r *Recorder) Order() int { return 50 }

// Name names the callback.
func (r *Recorder) Name() string { return "Recorder" }

// Handle records the loop's values.
func (r *Recorder) Handle(l *Learner, e Event) error {
	switch e {
	case BeforeFit:
		if r.Beta == 0 {
			r.Beta = 0.98
		}
		r.smoothCount, r.smoothAvg = 0, 0
		r.MetricNames = []string{"epoch", "train_loss", "valid_loss"}
		for _, m := range l.Metrics {
			r.MetricNames = append(r.MetricNames, m.Name())
		}
		r.MetricNames = append(r.MetricNames, "time")
		r.fitIterStart = len(r.Losses)
	case BeforeEpoch:
		r.trainSum, r.trainCnt, r.validSum, r.validCnt = 0, 0, 0, 0
		r.epochStart = time.Now()
		r.validRan = false
	case BeforeValidate:
		for _, m := range l.Metrics {
			m.Reset()
		}
		r.validRan = true
	case AfterBatch:
		if l.LossV == nil {
			return nil
		}
		loss := float64(l.LossV.Data().Item())
		n := float64(len(l.YB))
		if l.Training {
			r.smoothCount++
			r.smoothAvg = r.Beta*r.smoothAvg + (1-r.Beta)*loss
			r.SmoothLoss = r.smoothAvg / (1 - math.Pow(r.Beta, float64(r.smoothCount)))
			r.Losses = append(r.Losses, r.SmoothLoss)
			r.RawLosses = append(r.RawLosses, loss)
			if lrs := l.Hyper("lr"); len(lrs) > 0 {
				r.LRs = append(r.LRs, lrs[len(lrs)-1])
			}
			if moms := l.Hyper("mom"); len(moms) > 0 {
				r.Moms = append(r.Moms, moms[len(moms)-1])
			}
			r.trainSum += loss * n
			r.trainCnt += n
		} else {
			r.validSum += loss * n
			r.validCnt += n
			for _, m := range l.Metrics {
				m.Accumulate(l.Pred.Data(), l.YB)
			}
		}
	case AfterEpoch:
		vals := []float64{div(r.trainSum, r.trainCnt), math.NaN()}
		if r.validRan {
			vals[1] = div(r.validSum, r.validCnt)
		}
		for _, m := range l.Metrics {
			if r.validRan {
				vals = append(vals, m.Value())
			} else {
				vals = append(vals, math.NaN())
			}
		}
		r.Values = append(r.Values, vals)
		r.EpochTimes = append(r.EpochTimes, time.Since(r.epochStart))
	case AfterFit:
		r.Iters = append(r.Iters, len(r.Losses)-r.fitIterStart)
	}
	return nil
}

func div(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// Last returns the last epoch's values by column name (train_loss,
// valid_loss, a metric's name), and false if there is none.
func (r *Recorder) Last(name string) (float64, bool) {
	if len(r.Values) == 0 {
		return 0, false
	}
	for i, n := range r.MetricNames[1 : len(r.MetricNames)-1] {
		if n == name {
			return r.Values[len(r.Values)-1][i], true
		}
	}
	return 0, false
}
