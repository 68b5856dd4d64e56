package attacks

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Transfer is a transfer attack (Papernot et al., 2016; Liu et al., 2017):
// adversarial examples crafted by white-box attacks on a Surrogate model the
// attacker owns, then sent to the target through its oracle. The target's
// gradients are never used.
//
// Each attack of Attacks is run on the surrogate (with Run, so under the
// same rules as any white-box attack) on the samples that no earlier
// candidate has fooled, and each candidate costs one query to the target,
// to check it; a sample keeps the first candidate that fools the target,
// else the one with the best margin on the target (score oracles) or the
// last one (label oracles). The queries are the honest price of a
// transfer attack: it does not know which examples transfer until it asks.
type Transfer struct {
	// Surrogate is the attacker's own model, of the target's input and
	// output shapes.
	Surrogate layers.Module
	// Attacks are the white-box attacks run on the surrogate, in order (nil:
	// PGD-20 with a random start, the default attack).
	Attacks []Attack
}

// Name returns "Transfer(<attacks>)".
func (a Transfer) Name() string {
	var names []string
	for _, at := range a.attacks() {
		names = append(names, at.Name())
	}
	return "Transfer(" + strings.Join(names, "+") + ")"
}

func (a Transfer) attacks() []Attack {
	if len(a.Attacks) == 0 {
		return []Attack{DefaultAttack()}
	}
	return a.Attacks
}

// PerturbBlackBox implements BlackBoxAttack.
func (a Transfer) PerturbBlackBox(ctx context.Context, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if a.Surrogate == nil {
		return nil, fmt.Errorf("Transfer: nil surrogate model")
	}
	if _, err := checkCriterion(c); err != nil {
		return nil, err
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	n := x.Dim(0)
	d := x.Len() / n
	out := x.Clone()
	fooled := make([]bool, n)
	margin := make([]float64, n)
	for i := range margin {
		margin[i] = math.Inf(-1)
	}
	for _, at := range a.attacks() {
		if at == nil {
			return nil, fmt.Errorf("Transfer: nil attack")
		}
		var rows []int
		for i := 0; i < n; i++ {
			if !fooled[i] && o.Remaining(i) > 0 {
				rows = append(rows, i)
			}
		}
		if len(rows) == 0 {
			break
		}
		xs := batch.Select(x, rows)
		cs := c.Select(rows)
		r, err := Run(ctx, at, a.Surrogate, xs, cs, tm)
		if err != nil {
			return nil, fmt.Errorf("Transfer: on the surrogate: %w", err)
		}
		var adv []bool
		var mg []float64
		if o.Access() == ScoreAccess {
			s, err := queryScores(o, rows, r.Adv)
			if err != nil {
				return nil, budgetError("Transfer", err)
			}
			adv, mg = cs.IsAdversarial(s), Margins(s, cs)
		} else {
			p, err := queryLabels(o, rows, r.Adv)
			if err != nil {
				return nil, budgetError("Transfer", err)
			}
			adv = cs.IsAdversarialClass(p)
			mg = make([]float64, len(rows))
		}
		for k, i := range rows {
			if adv[k] || o.Access() == LabelAccess || mg[k] > margin[i] {
				fooled[i], margin[i] = adv[k], mg[k]
				copy(batch.Row(out.Data(), i, d), batch.Row(r.Adv.Data(), k, d))
			}
		}
	}
	return out, nil
}
