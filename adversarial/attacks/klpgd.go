package attacks

import (
	"context"
	"fmt"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// KLPGD is the inner maximisation of TRADES (Zhang et al., 2019): PGD
// that moves each input away from the model's own clean output
// distribution, ascending KL(softmax(f(x)) || softmax(f(x'))) with f(x)
// fixed, from x + 0.001 N(0, 1), and returns the last iterate (as TRADES's
// code does). It needs no label: the criterion is ignored. Linf and L2.
type KLPGD struct {
	// Steps is the number of steps (0: 10).
	Steps int
	// Alpha is the step size (0: eps/4).
	Alpha float64
	// Seed seeds the random start (per sample, see SampleRNGs).
	Seed uint64
}

// Name returns "TRADES-KL-PGD-<steps>".
func (a KLPGD) Name() string { return fmt.Sprintf("TRADES-KL-PGD-%d", batch.OrDefault(a.Steps, 10)) }

// WithSeed implements Reseeder.
func (a KLPGD) WithSeed(seed uint64) Attack { a.Seed = seed; return a }

// Perturb implements Attack.
func (a KLPGD) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, _ Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	clean, err := m.Outputs(x)
	if err != nil {
		return nil, err
	}
	p := autograd.Const(tensor.Softmax(clean, 1))
	rngs := SampleRNGs(a.Seed, x)
	n := x.Dim(0)
	d := x.Len() / n
	xa := x.Clone()
	for i := 0; i < n; i++ {
		row := xa.Data()[i*d : (i+1)*d]
		for j := range row {
			row[j] += float32(0.001 * rngs[i].NormFloat64())
		}
	}
	tm.ProjectThenClip(x, xa)
	st := newStepper(tm, 0, false, 0)
	alpha := a.Alpha
	if alpha == 0 {
		alpha = tm.Eps / 4
	}
	for s := 0; s < batch.OrDefault(a.Steps, 10); s++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		g, _, err := m.InputGradient(xa, func(o *autograd.Value) *autograd.Value {
			return autograd.KLDiv(autograd.LogSoftmax(o, 1), p, autograd.ReductionSum)
		})
		if err != nil {
			return nil, err
		}
		st.step(x, xa, g, alpha)
	}
	return xa, nil
}
