package adversarial

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/data"
)

// EvalOption configures AdversarialLearner.EvaluateRobustness.
type EvalOption func(*evalConfig)

type evalConfig struct {
	suite   *robustness.Suite
	samples int
}

// WithSuite evaluates with the suite s instead of the default,
// robustness.StandardSuiteFor at the learner's threat model and eps.
func WithSuite(s robustness.Suite) EvalOption {
	return func(c *evalConfig) { c.suite = &s }
}

// Samples evaluates on the first n samples of the validation set (default
// 500; fewer when the set is smaller).
func Samples(n int) EvalOption { return func(c *evalConfig) { c.samples = n } }

// EvaluateRobustness evaluates the learner's model with robustness.Evaluate
// on the first 500 samples of its validation set, with the standard suite
// (robustness.StandardSuiteFor: FGSM or FGM and PGD-20, AutoAttack's
// cascade, the masking checks) at the learner's threat model and eps, and
// names the classes in the report (fastai's evaluate_robustness). WithSuite
// and Samples replace the suite and the number of samples.
func (a *AdversarialLearner) EvaluateRobustness(ctx context.Context, opts ...EvalOption) (*robustness.Report, error) {
	c := evalConfig{samples: 500}
	for _, o := range opts {
		o(&c)
	}
	if c.samples <= 0 {
		return nil, fmt.Errorf("adversarial: EvaluateRobustness: %d samples", c.samples)
	}
	s := robustness.StandardSuiteFor(a.threat(), a.threat().Eps)
	if c.suite != nil {
		s = *c.suite
	}
	if a.Data == nil {
		return nil, fmt.Errorf("adversarial: EvaluateRobustness: the learner has no data")
	}
	b, err := data.First(ctx, a.Data.ValidLoader(), c.samples)
	if errors.Is(err, data.ErrEmpty) {
		return nil, fmt.Errorf("adversarial: EvaluateRobustness: empty validation set")
	}
	if err != nil {
		return nil, fmt.Errorf("adversarial: EvaluateRobustness: validation data: %w", err)
	}
	r, err := robustness.Evaluate(ctx, a.Model, b.X, b.Y, s)
	if err != nil {
		return nil, err
	}
	r.Classes = slices.Clone(a.Data.Classes())
	return r, nil
}
