package attacks

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Criterion says when a model's output on a perturbed input counts as
// adversarial. The two criteria are distinct types, so an attack knows
// which one it serves by a type switch, never by a flag:
//
//   - Untargeted(labels): sample i is adversarial when the model's top class
//     is not labels[i]. Untargeted(nil) means "the model's own predictions on
//     the clean input": the attack runner resolves it before the attack sees
//     it (see ResolveCriterion).
//   - Targeted(targets): sample i is adversarial when the top class is
//     targets[i].
//
// The top class is the first largest score (torch.argmax's rule); a row of
// outputs holding a NaN is never adversarial, so a model that breaks down
// numerically does not count as fooled (evaluators flag NaNs separately).
//
// Attacks in this package support exactly these two types and return an
// error for any other Criterion.
type Criterion interface {
	// IsAdversarial reports, for each row of outputs [N, C], whether it
	// meets the criterion. It panics if the rows and the criterion's
	// length differ or a class is out of range.
	IsAdversarial(outputs *tensor.Tensor) []bool
	// IsAdversarialClass is IsAdversarial for predicted classes alone (a
	// label-only oracle's answers).
	IsAdversarialClass(pred []int) []bool
	// Classes returns the labels (Untargeted) or targets (Targeted), nil for
	// an unresolved Untargeted(nil). The slice must not be modified.
	Classes() []int
	// Len returns the number of samples the criterion covers (0 for
	// Untargeted(nil), which covers any batch once resolved).
	Len() int
	// Select returns the criterion restricted to the samples idx, in that
	// order (for attacks that continue on a subset, such as restarts on the
	// samples not yet fooled).
	Select(idx []int) Criterion
}

// Untargeted is the misclassification criterion over the true labels:
// sample i is adversarial when the model does not predict Untargeted[i].
// Untargeted(nil) uses the model's clean predictions as the labels.
type Untargeted []int

// Targeted is the targeted criterion: sample i is adversarial when the model
// predicts Targeted[i].
type Targeted []int

// IsAdversarial implements Criterion.
func (u Untargeted) IsAdversarial(outputs *tensor.Tensor) []bool {
	if u == nil {
		panic(fastgo.Errorf("attacks.Untargeted: labels not resolved (Untargeted(nil) must go through ResolveCriterion)"))
	}
	return u.IsAdversarialClass(topClasses("Untargeted", outputs, u))
}

// IsAdversarialClass implements Criterion. A negative prediction (a NaN row)
// is never adversarial.
func (u Untargeted) IsAdversarialClass(pred []int) []bool {
	if u == nil {
		panic(fastgo.Errorf("attacks.Untargeted: labels not resolved (Untargeted(nil) must go through ResolveCriterion)"))
	}
	checkLen("Untargeted", len(pred), len(u))
	out := make([]bool, len(pred))
	for i, p := range pred {
		out[i] = p >= 0 && p != u[i]
	}
	return out
}

// Classes implements Criterion.
func (u Untargeted) Classes() []int { return u }

// Len implements Criterion.
func (u Untargeted) Len() int { return len(u) }

// Select implements Criterion.
func (u Untargeted) Select(idx []int) Criterion {
	if u == nil {
		return u
	}
	return Untargeted(batch.SelectInts(u, idx))
}

// String returns "Untargeted(n samples)" or "Untargeted(predictions)".
func (u Untargeted) String() string {
	if u == nil {
		return "Untargeted(predictions)"
	}
	return fmt.Sprintf("Untargeted(%d samples)", len(u))
}

// IsAdversarial implements Criterion.
func (t Targeted) IsAdversarial(outputs *tensor.Tensor) []bool {
	return t.IsAdversarialClass(topClasses("Targeted", outputs, t))
}

// IsAdversarialClass implements Criterion.
func (t Targeted) IsAdversarialClass(pred []int) []bool {
	checkLen("Targeted", len(pred), len(t))
	out := make([]bool, len(pred))
	for i, p := range pred {
		out[i] = p >= 0 && p == t[i]
	}
	return out
}

// Classes implements Criterion.
func (t Targeted) Classes() []int { return t }

// Len implements Criterion.
func (t Targeted) Len() int { return len(t) }

// Select implements Criterion.
func (t Targeted) Select(idx []int) Criterion { return Targeted(batch.SelectInts(t, idx)) }

// String returns "Targeted(n samples)".
func (t Targeted) String() string { return fmt.Sprintf("Targeted(%d samples)", len(t)) }

func checkLen(op string, got, want int) {
	if got != want {
		panic(fastgo.Errorf("attacks.%s: %d predictions for a criterion of %d samples", op, got, want))
	}
}

// topClasses returns the first-largest class of each row of outputs [N, C],
// -1 for a row holding a NaN, after checking the classes of c fit C.
func topClasses(op string, outputs *tensor.Tensor, classes []int) []int {
	if outputs.Rank() != 2 {
		panic(fastgo.Errorf("attacks.%s.IsAdversarial: outputs of shape %v, want [N, C]", op, outputs.Shape()))
	}
	n, c := outputs.Dim(0), outputs.Dim(1)
	checkLen(op, n, len(classes))
	for i, k := range classes {
		if k < 0 || k >= c {
			panic(fastgo.Errorf("attacks.%s: class %d of sample %d out of range for %d classes", op, k, i, c))
		}
	}
	return Predictions(outputs)
}

// Predictions returns the first-largest class of each row of outputs
// [N, C], or -1 for a row that holds a NaN.
func Predictions(outputs *tensor.Tensor) []int {
	n, c := outputs.Dim(0), outputs.Dim(1)
	out := make([]int, n)
	for i := range out {
		row := outputs.Data()[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if math.IsNaN(float64(v)) {
				best = -1
				break
			}
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// Margins returns, for each row of outputs [N, C], how far it is into the
// adversarial region of c: for Untargeted, max over j != y of z_j minus z_y;
// for Targeted, z_t minus max over j != t of z_j. A positive margin means
// adversarial (a zero margin is a tie, decided by IsAdversarial's first-max
// rule); NaN rows get -Inf. Iterative attacks keep, per sample, the iterate
// that is adversarial with the largest margin, else the one with the
// largest margin.
func Margins(outputs *tensor.Tensor, c Criterion) []float64 {
	classes := c.Classes()
	n, k := outputs.Dim(0), outputs.Dim(1)
	checkLen("Margins", n, len(classes))
	sign := 1.0
	if _, ok := c.(Targeted); ok {
		sign = -1
	}
	out := make([]float64, n)
	for i := range out {
		row := outputs.Data()[i*k : (i+1)*k]
		y := classes[i]
		other := math.Inf(-1)
		bad := false
		for j, v := range row {
			if math.IsNaN(float64(v)) {
				bad = true
			}
			if j != y && float64(v) > other {
				other = float64(v)
			}
		}
		if bad {
			out[i] = math.Inf(-1)
			continue
		}
		out[i] = sign * (other - float64(row[y]))
	}
	return out
}

// ResolveCriterion returns c ready for an attack on n samples: an
// Untargeted(nil) becomes Untargeted(pred) (pred being the model's clean
// predictions, which must then be given), and the length is checked. It
// returns an error for a criterion of the wrong length or an unknown type.
func ResolveCriterion(c Criterion, n int, pred []int) (Criterion, error) {
	switch v := c.(type) {
	case nil:
		return nil, fmt.Errorf("attacks: nil criterion (use Untargeted(labels), Untargeted(nil) or Targeted(targets))")
	case Untargeted:
		if v == nil {
			if len(pred) != n {
				return nil, fmt.Errorf("attacks: Untargeted(nil) needs the %d clean predictions, got %d", n, len(pred))
			}
			for i, p := range pred {
				if p < 0 {
					return nil, fmt.Errorf("attacks: Untargeted(nil): the model's clean output for sample %d holds a NaN", i)
				}
			}
			return Untargeted(append([]int(nil), pred...)), nil
		}
	case Targeted:
	default:
		return nil, fmt.Errorf("attacks: unsupported criterion %T (attacks take Untargeted or Targeted)", c)
	}
	if c.Len() != n {
		return nil, fmt.Errorf("attacks: criterion %v has %d classes for a batch of %d samples", c, c.Len(), n)
	}
	for i, k := range c.Classes() {
		if k < 0 {
			return nil, fmt.Errorf("attacks: criterion %v: class %d of sample %d is negative", c, k, i)
		}
	}
	return c, nil
}

// checkClasses returns an error if a class of c is not below numClasses.
func checkClasses(c Criterion, numClasses int) error {
	for i, k := range c.Classes() {
		if k < 0 || k >= numClasses {
			return fmt.Errorf("attacks: criterion %v: class %d of sample %d out of range for a model with %d outputs", c, k, i, numClasses)
		}
	}
	return nil
}
