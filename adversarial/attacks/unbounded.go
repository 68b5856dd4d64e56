package attacks

import (
	"context"
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/tensor"
)

// UnboundedPGD is the attack of the unbounded check: PGD from the input
// itself (no random start, which at eps = +Inf would be a uniform image
// and could fool a model whose gradients are useless), with the margin
// loss, Steps steps (0: 50) of size (Hi-Lo)/10 in the norm's units (times
// sqrt(d) for L2 and d for L1, d the number of pixels), so the steps can
// cross the whole box several times. At a finite eps it is PGD with
// Madry's step 2.5 eps/Steps.
type UnboundedPGD struct {
	// Steps is the number of steps (0: 50).
	Steps int
}

// Name returns "PGD-<steps>-unbounded".
func (a UnboundedPGD) Name() string {
	return fmt.Sprintf("PGD-%d-unbounded", batch.OrDefault(a.Steps, 50))
}

// Perturb implements Attack.
func (a UnboundedPGD) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	steps := batch.OrDefault(a.Steps, 50)
	var alpha float64
	if math.IsInf(tm.Eps, 1) {
		lo, hi := tm.Bounds()
		d := float64(x.Len() / x.Dim(0))
		alpha = (hi - lo) / 10
		switch tm.Norm {
		case L2:
			alpha *= math.Sqrt(d)
		case L1:
			alpha *= d
		}
	}
	return PGD{Steps: steps, Alpha: alpha, Loss: MarginLoss}.Perturb(ctx, m, x, c, tm)
}
