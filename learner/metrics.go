package learner

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/tensor"
)

// Metric is computed over the validation set after each epoch. The Learner
// calls Reset before validation, Accumulate after every validation batch and
// Value at the end. Accuracy, ErrorRate and TopKAccuracy are batch-size
// weighted averages (fastai's AvgMetric); Precision, Recall, F1 and
// BalancedAccuracy accumulate a confusion matrix over the whole set and
// compute the score at the end (fastai's AccumMetric over scikit-learn), as
// a per-batch average of these scores would be wrong.
type Metric interface {
	Name() string
	Reset()
	// Accumulate adds a batch: pred [N, C] scores (logits or probabilities)
	// and the N integer targets.
	Accumulate(pred *tensor.Tensor, targets []int)
	Value() float64
}

// argmaxRows returns the index of each row's largest score (first on ties).
func argmaxRows(pred *tensor.Tensor) []int {
	n, c := pred.Dim(0), pred.Dim(1)
	d := pred.Data()
	out := make([]int, n)
	for i := 0; i < n; i++ {
		row := d[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// avgMetric is a batch-size-weighted average of a per-batch value, as
// fastai's AvgMetric.
type avgMetric struct {
	name       string
	f          func(pred *tensor.Tensor, y []int) float64
	total, cnt float64
}

func (m *avgMetric) Name() string { return m.name }
func (m *avgMetric) Reset()       { m.total, m.cnt = 0, 0 }
func (m *avgMetric) Accumulate(pred *tensor.Tensor, y []int) {
	m.total += m.f(pred, y) * float64(len(y))
	m.cnt += float64(len(y))
}
func (m *avgMetric) Value() float64 {
	if m.cnt == 0 {
		return math.NaN()
	}
	return m.total / m.cnt
}

// AvgMetric turns a per-batch function into a Metric: the mean of its
// per-batch values weighted by the batches' sizes, as fastai's AvgMetric
// (exact for per-item averages such as accuracy). Its Value is NaN before
// any batch.
func AvgMetric(name string, f func(pred *tensor.Tensor, targets []int) float64) Metric {
	return &avgMetric{name: name, f: f}
}

func accuracy(pred *tensor.Tensor, y []int) float64 {
	if len(y) == 0 {
		return 0
	}
	hit := 0
	for i, p := range argmaxRows(pred) {
		if p == y[i] {
			hit++
		}
	}
	return float64(hit) / float64(len(y))
}

// Accuracy is the fraction of items whose top score is the target.
func Accuracy() Metric { return AvgMetric("accuracy", accuracy) }

// ErrorRate is 1 - accuracy.
func ErrorRate() Metric {
	return AvgMetric("error_rate", func(p *tensor.Tensor, y []int) float64 { return 1 - accuracy(p, y) })
}

// TopKAccuracy is the fraction of items whose target is among the k highest
// scores.
func TopKAccuracy(k int) Metric {
	return AvgMetric(fmt.Sprintf("top_%d_accuracy", k), func(pred *tensor.Tensor, y []int) float64 {
		n, c := pred.Dim(0), pred.Dim(1)
		hit := 0
		for i := 0; i < n; i++ {
			row := pred.Data()[i*c : (i+1)*c]
			above := 0
			for j, v := range row {
				if v > row[y[i]] || (v == row[y[i]] && j < y[i]) {
					above++
				}
			}
			if above < k {
				hit++
			}
		}
		return float64(hit) / float64(max(n, 1))
	})
}

// confusion accumulates a confusion matrix for the class metrics.
type confusion struct {
	name string
	f    func(cm [][]float64) float64
	cm   [][]float64
}

func (m *confusion) Name() string { return m.name }
func (m *confusion) Reset()       { m.cm = nil }
func (m *confusion) Accumulate(pred *tensor.Tensor, y []int) {
	c := pred.Dim(1)
	if m.cm == nil {
		m.cm = make([][]float64, c)
		for i := range m.cm {
			m.cm[i] = make([]float64, c)
		}
	}
	for i, p := range argmaxRows(pred) {
		if y[i] >= 0 && y[i] < c {
			m.cm[y[i]][p]++
		}
	}
}
func (m *confusion) Value() float64 {
	if m.cm == nil {
		return math.NaN()
	}
	return m.f(m.cm)
}

// perClass returns per-class precision, recall and support (true count),
// and whether each class occurs in targets or predictions.
func perClass(cm [][]float64) (prec, rec []float64, present []bool) {
	c := len(cm)
	prec, rec, present = make([]float64, c), make([]float64, c), make([]bool, c)
	for k := 0; k < c; k++ {
		tp, predK, trueK := cm[k][k], 0.0, 0.0
		for j := 0; j < c; j++ {
			predK += cm[j][k]
			trueK += cm[k][j]
		}
		if predK > 0 {
			prec[k] = tp / predK
		}
		if trueK > 0 {
			rec[k] = tp / trueK
		}
		present[k] = predK > 0 || trueK > 0
	}
	return
}

// macro averages v over the classes present (scikit-learn's labels default).
func macro(v []float64, present []bool) float64 {
	s, n := 0.0, 0
	for k, x := range v {
		if present[k] {
			s += x
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// Precision is the macro-averaged precision over the classes seen
// (scikit-learn's precision_score(average="macro"), as fastai's Precision).
func Precision() Metric {
	return &confusion{name: "precision_score", f: func(cm [][]float64) float64 {
		p, _, present := perClass(cm)
		return macro(p, present)
	}}
}

// Recall is the macro-averaged recall.
func Recall() Metric {
	return &confusion{name: "recall_score", f: func(cm [][]float64) float64 {
		_, r, present := perClass(cm)
		return macro(r, present)
	}}
}

// F1 is the macro-averaged F1 score.
func F1() Metric {
	return &confusion{name: "f1_score", f: func(cm [][]float64) float64 {
		p, r, present := perClass(cm)
		f := make([]float64, len(p))
		for k := range f {
			if p[k]+r[k] > 0 {
				f[k] = 2 * p[k] * r[k] / (p[k] + r[k])
			}
		}
		return macro(f, present)
	}}
}

// BalancedAccuracy is the mean recall over the classes that occur in the
// targets (scikit-learn's balanced_accuracy_score).
func BalancedAccuracy() Metric {
	return &confusion{name: "balanced_accuracy_score", f: func(cm [][]float64) float64 {
		s, n := 0.0, 0
		for k, row := range cm {
			t := 0.0
			for _, v := range row {
				t += v
			}
			if t > 0 {
				s += cm[k][k] / t
				n++
			}
		}
		if n == 0 {
			return 0
		}
		return s / float64(n)
	}}
}
