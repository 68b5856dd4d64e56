package adversarial

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/data"
)

// EvaluateRobustness evaluates the learner's model on the first s.Samples
// (0: 500) samples of its validation set with the suite s, and names the
// classes in the report (fastai's evaluate_robustness).
func (a *AdversarialLearner) EvaluateRobustness(ctx context.Context, s robustness.Suite) (*robustness.Report, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	want := s.Samples
	if want == 0 {
		want = 500
	}
	if a.Data == nil {
		return nil, fmt.Errorf("adversarial: EvaluateRobustness: the learner has no data")
	}
	b, err := data.First(ctx, a.Data.ValidLoader(), want)
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
