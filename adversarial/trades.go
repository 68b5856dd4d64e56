package adversarial

import (
	"context"
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// TRADES is the adversarial training of Zhang et al. ("Theoretically
// Principled Trade-off between Robustness and Accuracy", 2019) as a learner
// callback. Each training batch's loss becomes
//
//	L(f(x), y) + Beta * KL(softmax(f(x)) || softmax(f(x'))),
//
// the learner's loss on the clean batch plus Beta times the KL divergence
// (per sample, averaged over the batch) between the model's clean and
// adversarial output distributions, where x' maximises that KL within the
// threat model: from x + 0.001 N(0, 1), Steps steps of PGD of size Alpha on
// KL(softmax(f(x)) || softmax(f(x'))) with f(x) fixed, keeping the last
// iterate, as TRADES's code does. Beta trades clean accuracy (small Beta)
// for robustness (large Beta).
//
// The examples are made in attack mode (eval: BatchNorm statistics do not
// move), the clean distribution for them included; the loss then runs both
// forward passes in training mode, and its gradient flows through both
// (TRADES's code, which updates BatchNorm on both batches). Each batch's
// random start has its own seed. Validation batches keep the plain loss.
type TRADES struct {
	// Threat is the threat model, Linf or L2 (the zero value:
	// DefaultThreat()).
	Threat ThreatModel
	// Beta weighs the robust term (0: 6, the paper's CIFAR-10 choice; it
	// used 1 for MNIST).
	Beta float64
	// Steps is the number of PGD steps on the KL (0: 10).
	Steps int
	// Alpha is the step size (0: eps/4).
	Alpha float64
	// Seed seeds the random starts, per batch.
	Seed uint64

	// KL records, per epoch, the mean over training batches of the KL term
	// (before the factor Beta).
	KL []float64

	klSum float64
	klN   int
}

// Order implements learner.Ordered (TrainerOrder).
func (t *TRADES) Order() int { return TrainerOrder }

// Name implements learner.Named.
func (t *TRADES) Name() string { return "TRADES" }

// Handle implements learner.Callback.
func (t *TRADES) Handle(l *learner.Learner, e learner.Event) error {
	tm := orDefaultThreat(t.Threat)
	switch e {
	case learner.BeforeFit:
		if err := tm.Validate(); err != nil {
			return fmt.Errorf("adversarial.TRADES: %w", err)
		}
		if tm.Norm == L1 {
			return fmt.Errorf("adversarial.TRADES: threat model %v: Linf or L2 only", tm)
		}
		if t.Beta < 0 || math.IsNaN(t.Beta) || math.IsInf(t.Beta, 0) {
			return fmt.Errorf("adversarial.TRADES: Beta %v must be finite and >= 0", t.Beta)
		}
		t.KL = nil
	case learner.BeforeTrain:
		t.klSum, t.klN = 0, 0
	case learner.BeforeBatch:
		if !l.Training {
			return nil
		}
		alpha := t.Alpha
		if alpha == 0 {
			alpha = tm.Eps / 4
		}
		a := klAttack{steps: orDefault(t.Steps, 10), alpha: alpha, seed: IndexSeed(t.Seed, l.TrainIter)}
		xadv, err := attackBatch(a, l.Model, l.XB.Data(), l.YB, tm)
		if err != nil {
			return fmt.Errorf("adversarial.TRADES: %w", err)
		}
		beta := t.Beta
		if beta == 0 {
			beta = 6
		}
		natural := l.Loss
		model := l.Model
		l.LossFuncOverride = func(pred *autograd.Value, y []int) *autograd.Value {
			advOut := layers.Call(model, autograd.Const(xadv))
			kl := autograd.KLDiv(autograd.LogSoftmax(advOut, 1), autograd.Softmax(pred, 1), autograd.ReductionBatchMean)
			t.klSum += float64(kl.Data().Item())
			t.klN++
			return autograd.Add(natural(pred, y), autograd.MulScalar(kl, float32(beta)))
		}
	case learner.AfterTrain:
		v := math.NaN()
		if t.klN > 0 {
			v = t.klSum / float64(t.klN)
		}
		t.KL = append(t.KL, v)
	}
	return nil
}

// klAttack is TRADES's inner maximisation: PGD on KL(p(x) || p(x')) from
// x + 0.001 N(0,1), returning the last iterate. The criterion is ignored
// (the KL needs no label).
type klAttack struct {
	steps int
	alpha float64
	seed  uint64
}

// Name implements Attack.
func (a klAttack) Name() string { return fmt.Sprintf("TRADES-KL-PGD-%d", a.steps) }

// Perturb implements Attack.
func (a klAttack) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, _ Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	clean, err := m.Outputs(x)
	if err != nil {
		return nil, err
	}
	p := autograd.Const(tensor.Softmax(clean, 1))
	rngs := SampleRNGs(a.seed, x)
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
	for s := 0; s < a.steps; s++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		g, _, err := m.InputGradient(xa, func(o *autograd.Value) *autograd.Value {
			return autograd.KLDiv(autograd.LogSoftmax(o, 1), p, autograd.ReductionSum)
		})
		if err != nil {
			return nil, err
		}
		st.step(x, xa, g, a.alpha)
	}
	return xa, nil
}
