package adversarial

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
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
	Threat attacks.ThreatModel
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
		if tm.Norm == attacks.L1 {
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
		a := attacks.KLPGD{Steps: t.Steps, Alpha: t.Alpha, Seed: attacks.IndexSeed(t.Seed, l.TrainIter)}
		xadv, err := attacks.Craft(l.Context(), a, l.Model, l.XB.Data(), attacks.Untargeted(l.YB), tm)
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
