package attacks

import (
	"context"
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Craft makes adversarial examples of the batch x under criterion c within
// tm, as Run does (the same argument checks, attack mode, output checks and
// exact projection), but returns the adversarial batch alone, without
// running the model on it: what adversarial training needs for each of its
// batches. A MinimumNormAttack runs without a bound and its result is
// projected onto tm, as RunEps does.
func Craft(ctx context.Context, a Attack, model layers.Module, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if err := CheckRun(x, tm, tm.Eps); err != nil {
		return nil, fmt.Errorf("%w (attack %s; training inputs must be [0,1] pixels, with normalisation inside the model)", err, a.Name())
	}
	var adv *tensor.Tensor
	err := WithAttackMode(model, func(m *Model) error {
		crit, err := resolveWith(m, x, c)
		if err != nil {
			return err
		}
		run, minNorm := tm, false
		if mn, ok := a.(MinimumNormAttack); ok && mn.MinimumNorm() {
			run, minNorm = tm.WithEps(math.Inf(1)), true
		}
		adv, err = a.Perturb(ctx, m, x.Clone(), crit, run)
		if err != nil {
			return fmt.Errorf("attacks: %s: %w", a.Name(), err)
		}
		if err := checkOutput(a.Name(), x, adv, tm, minNorm); err != nil {
			return err
		}
		tm.Project(x, adv)
		return nil
	})
	return adv, err
}
