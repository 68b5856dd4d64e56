package attacks

import (
	"errors"
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/tensor"
)

// ScoreLoss is the objective a score-based black-box attack (Square, SimBA,
// NES, SPSA) optimises from the oracle's scores, which it treats as logits.
// Each is written as "how adversarial", larger being better for the
// attacker: for Untargeted(labels) with y the label and for Targeted with t
// the target,
//
//	MarginScore:       max_{j != y} z_j - z_y            z_t - max_{j != t} z_j
//	CrossEntropyScore: CE(z, y)                          -CE(z, t)
//	ProbabilityScore:  -softmax(z)_y                     softmax(z)_t
//
// A row holding a NaN scores -Inf (never an improvement). The margin is
// positive exactly when the row is adversarial (ties aside), so an attack
// optimising it knows when to stop; cross-entropy and the probability are
// smooth in the scores, which helps a targeted search far from the target.
type ScoreLoss int

const (
	// DefaultScoreLoss is each attack's own default (see each type).
	DefaultScoreLoss ScoreLoss = iota
	// MarginScore is the logit margin (Carlini and Wagner's loss).
	MarginScore
	// CrossEntropyScore is the cross-entropy of the softmax of the scores.
	CrossEntropyScore
	// ProbabilityScore is the softmax probability of the class (SimBA's).
	ProbabilityScore
)

// String returns "margin", "ce", "prob" or "default".
func (l ScoreLoss) String() string {
	switch l {
	case DefaultScoreLoss:
		return "default"
	case MarginScore:
		return "margin"
	case CrossEntropyScore:
		return "ce"
	case ProbabilityScore:
		return "prob"
	}
	return fmt.Sprintf("ScoreLoss(%d)", int(l))
}

func (l ScoreLoss) valid() bool { return l >= DefaultScoreLoss && l <= ProbabilityScore }

// objective returns the value of loss on one row of scores for class
// (the label under Untargeted, the target under Targeted): larger is more
// adversarial. NaN rows give -Inf.
func (l ScoreLoss) objective(row []float32, class int, targeted bool) float64 {
	zc := float64(row[class])
	other, top := math.Inf(-1), math.Inf(-1)
	for j, v := range row {
		f := float64(v)
		if math.IsNaN(f) {
			return math.Inf(-1)
		}
		top = math.Max(top, f)
		if j != class && f > other {
			other = f
		}
	}
	sign := 1.0
	if targeted {
		sign = -1
	}
	if l == MarginScore || l == DefaultScoreLoss {
		return sign * (other - zc)
	}
	var sum float64
	for _, v := range row {
		sum += math.Exp(float64(v) - top)
	}
	lse := top + math.Log(sum)
	if l == CrossEntropyScore {
		return sign * (lse - zc)
	}
	return -sign * math.Exp(zc-lse) // ProbabilityScore
}

// objectives returns the objective of each row of scores [N, C] for the
// classes of c (Untargeted or Targeted, already resolved).
func (l ScoreLoss) objectives(scores *tensor.Tensor, c Criterion) []float64 {
	_, targeted := c.(Targeted)
	classes := c.Classes()
	k := scores.Dim(1)
	out := make([]float64, scores.Dim(0))
	for i := range out {
		out[i] = l.objective(scores.Data()[i*k:(i+1)*k], classes[i], targeted)
	}
	return out
}

// checkCriterion returns an error unless c is an Untargeted (resolved) or a
// Targeted criterion, which is all the attacks of this package support.
func checkCriterion(c Criterion) (targeted bool, err error) {
	switch v := c.(type) {
	case Untargeted:
		if v == nil {
			return false, fmt.Errorf("unresolved Untargeted(nil) criterion")
		}
		return false, nil
	case Targeted:
		return true, nil
	}
	return false, fmt.Errorf("unsupported criterion %T", c)
}

// imageDims returns the channels, height and width of the samples of a
// batch [N, ...]: [N, C, H, W] as is, [N, H, W] as one channel and [N, D]
// as one channel of one row.
func imageDims(x *tensor.Tensor) (c, h, w int) {
	s := x.Shape()
	switch len(s) {
	case 2:
		return 1, 1, s[1]
	case 3:
		return 1, s[1], s[2]
	case 4:
		return s[1], s[2], s[3]
	}
	d := x.Len() / x.Dim(0)
	return 1, 1, d
}

// maxQueryRows bounds the rows of one oracle call, so that an attack with
// many samples in flight (NES's estimates, HSJ's gradient probes) does not
// build one huge batch.
const maxQueryRows = 1024

// queryScores asks o for the scores of the rows of q, row k serving sample
// idx[k], in calls of at most maxQueryRows rows. The caller has checked the
// budget (Remaining) of every sample.
func queryScores(o *Oracle, idx []int, q *tensor.Tensor) (*tensor.Tensor, error) {
	if len(idx) <= maxQueryRows {
		return o.Scores(idx, q)
	}
	var parts []*tensor.Tensor
	for s := 0; s < len(idx); s += maxQueryRows {
		e := min(s+maxQueryRows, len(idx))
		p, err := o.Scores(idx[s:e], q.Narrow0(s, e-s))
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	return tensor.Concat(0, parts...), nil
}

// queryLabels is queryScores for top classes (any oracle answers it).
func queryLabels(o *Oracle, idx []int, q *tensor.Tensor) ([]int, error) {
	out := make([]int, 0, len(idx))
	for s := 0; s < len(idx); s += maxQueryRows {
		e := min(s+maxQueryRows, len(idx))
		p, err := o.Labels(idx[s:e], q.Narrow0(s, e-s))
		if err != nil {
			return nil, err
		}
		out = append(out, p...)
	}
	return out, nil
}

// budgetError wraps a fastgo.ErrBudget met by an attack that checked Remaining
// before asking: it means the budget moved under the attack, a bug.
func budgetError(name string, err error) error {
	if errors.Is(err, fastgo.ErrBudget) {
		return fmt.Errorf("%s: a query past the budget although Remaining allowed it: %w", name, err)
	}
	return err
}
