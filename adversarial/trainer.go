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

// TrainerOrder is the callback order of the adversarial trainers and of
// GaussianNoise: after learner.ParamScheduler (60), so that a guard that
// lowers the learning rate scales the scheduled value, and after the
// callbacks that build the batch (MixUp and CutMix, order 0).
const TrainerOrder = 70

// Reseeder is implemented by attacks with random choices: WithSeed returns
// the attack with its seed replaced. The trainers give every training batch
// its own seed, IndexSeed(trainer seed, batch number), so that random
// starts differ between batches and between epochs (an attack's random
// stream otherwise depends only on its seed and the image's pixels, and an
// image would get the same start in every epoch).
type Reseeder interface {
	Attack
	WithSeed(seed uint64) Attack
}

// WithSeed implements Reseeder.
func (a PGD) WithSeed(seed uint64) Attack { a.Seed = seed; return a }

// WithSeed implements Reseeder.
func (a APGD) WithSeed(seed uint64) Attack { a.Seed = seed; return a }

// WithSeed implements Reseeder.
func (a APGDT) WithSeed(seed uint64) Attack { a.Seed = seed; return a }

// WithSeed implements Reseeder, reseeding the wrapped attack if it has a
// seed.
func (e EOT) WithSeed(seed uint64) Attack {
	if r, ok := e.Attack.(Reseeder); ok {
		e.Attack = r.WithSeed(seed)
	}
	return e
}

// reseed returns a with seed when it is a Reseeder, else a.
func reseed(a Attack, seed uint64) Attack {
	if r, ok := a.(Reseeder); ok {
		return r.WithSeed(seed)
	}
	return a
}

// AdversarialTrainer is adversarial training as a learner callback, for
// Fit, FitOneCycle and the other fits: before each training batch it
// replaces the inputs (all of them, or the share 1 - CleanFraction) by
// adversarial examples of the current model, so that the step minimises the
// loss at the worst point of each input's eps-ball that the attack finds
// (Madry et al., "Towards Deep Learning Models Resistant to Adversarial
// Attacks", 2018). Validation batches are left clean.
//
// The examples are made in attack mode (see Model): the model in eval mode,
// so BatchNorm statistics do not move and Dropout is off while the attack
// runs, and parameters frozen; the model's training mode and flags are
// restored before the batch's forward pass, which then updates BatchNorm on
// the adversarial batch as in Madry's training. Each batch's attack gets
// its own seed (see Reseeder).
//
// NewTrainer(PGD{...}, tm) is Madry's PGD adversarial training; NewFastAT is
// the fast adversarial training of Wong et al. with its overfitting guard.
type AdversarialTrainer struct {
	// Attack makes the adversarial examples (nil: PGD with 10 steps of 2.5
	// eps/10 from a random start, keeping the last iterate, Madry's
	// training attack).
	Attack Attack
	// Threat is the threat model (the zero value: DefaultThreat()).
	Threat ThreatModel
	// CleanFraction is the share of each training batch left clean, its
	// rows drawn at random per batch (0: every input adversarial, Madry's
	// training; 0.5: half and half, the mix of Goodfellow et al. and
	// Kurakin et al.). The loss is the batch mean over both kinds.
	CleanFraction float64
	// Seed seeds the per-batch attack seeds and the choice of clean rows.
	Seed uint64
	// Guard, when set, watches for catastrophic overfitting (see
	// OverfitGuard).
	Guard *OverfitGuard

	// AdvAccuracy records, per epoch of the fit, the accuracy of the
	// training-mode model on the adversarial rows of its training batches
	// (read from the batch's own forward pass; a sharp rise with single-
	// step attacks is a symptom of catastrophic overfitting).
	AdvAccuracy []float64

	advRows        []int
	correct, total int
}

// NewTrainer returns Madry-style adversarial training with attack a (nil:
// the default PGD) within tm.
func NewTrainer(a Attack, tm ThreatModel) *AdversarialTrainer {
	return &AdversarialTrainer{Attack: a, Threat: tm}
}

// NewFastAT returns fast adversarial training (Wong, Rice and Kolter, "Fast
// is better than free: revisiting adversarial training", 2020): FGSM from
// a uniform random start in the Linf ball, with step Alpha = 1.25 eps
// (PGD{Steps: 1, Alpha: 1.25 eps, RandomStart: true, LastIterate: true}),
// about the cost of two training steps per batch. Single-step training can
// overfit catastrophically (robustness to PGD collapses within an epoch
// while robustness to FGSM rises), so the trainer carries an OverfitGuard
// with its defaults: a PGD check on held-out data after every epoch that
// restores the last good weights and stops the fit on a collapse.
func NewFastAT(tm ThreatModel) *AdversarialTrainer {
	tm = orDefaultThreat(tm)
	return &AdversarialTrainer{
		Attack: PGD{Steps: 1, Alpha: 1.25 * tm.Eps, RandomStart: true, LastIterate: true},
		Threat: tm,
		Guard:  &OverfitGuard{},
	}
}

// Order implements learner.Ordered (TrainerOrder).
func (t *AdversarialTrainer) Order() int { return TrainerOrder }

// Name implements learner.Named.
func (t *AdversarialTrainer) Name() string { return "AdversarialTrainer" }

func orDefaultThreat(tm ThreatModel) ThreatModel {
	if tm == (ThreatModel{}) {
		return DefaultThreat()
	}
	return tm
}

func (t *AdversarialTrainer) attack() Attack {
	if t.Attack != nil {
		return t.Attack
	}
	return PGD{Steps: 10, RandomStart: true, LastIterate: true}
}

// Handle implements learner.Callback.
func (t *AdversarialTrainer) Handle(l *learner.Learner, e learner.Event) error {
	if t.Guard != nil {
		if err := t.Guard.handle(l, e, orDefaultThreat(t.Threat)); err != nil {
			return err
		}
	}
	switch e {
	case learner.BeforeFit:
		if t.CleanFraction < 0 || t.CleanFraction > 1 || math.IsNaN(t.CleanFraction) {
			return fmt.Errorf("adversarial.AdversarialTrainer: CleanFraction %v must be in [0, 1]", t.CleanFraction)
		}
		if err := orDefaultThreat(t.Threat).Validate(); err != nil {
			return fmt.Errorf("adversarial.AdversarialTrainer: %w", err)
		}
		t.AdvAccuracy = nil
	case learner.BeforeTrain:
		t.correct, t.total = 0, 0
	case learner.BeforeBatch:
		if !l.Training {
			return nil
		}
		tm := orDefaultThreat(t.Threat)
		x := l.XB.Data()
		rows := advRows(len(l.YB), t.CleanFraction, IndexSeed(t.Seed^0x5bd1e995, l.TrainIter))
		t.advRows = rows
		if len(rows) == 0 {
			return nil
		}
		xs, ys := x, l.YB
		if len(rows) < len(l.YB) {
			xs, ys = selectRows(x, rows), selectInts(l.YB, rows)
		}
		adv, err := attackBatch(reseed(t.attack(), IndexSeed(t.Seed, l.TrainIter)), l.Model, xs, ys, tm)
		if err != nil {
			return err
		}
		if len(rows) < len(l.YB) {
			out := x.Clone()
			d := x.Len() / x.Dim(0)
			for k, i := range rows {
				copy(out.Data()[i*d:(i+1)*d], adv.Data()[k*d:(k+1)*d])
			}
			adv = out
		}
		l.XB = autograd.Const(adv)
	case learner.AfterPred:
		if !l.Training || len(t.advRows) == 0 {
			return nil
		}
		pred := Predictions(l.Pred.Data())
		for _, i := range t.advRows {
			if pred[i] == l.YB[i] {
				t.correct++
			}
		}
		t.total += len(t.advRows)
	case learner.AfterTrain:
		acc := math.NaN()
		if t.total > 0 {
			acc = float64(t.correct) / float64(t.total)
		}
		t.AdvAccuracy = append(t.AdvAccuracy, acc)
	}
	return nil
}

// advRows returns the rows of a batch of n to make adversarial: all of them
// for clean 0, else a random choice of n - round(clean*n) rows, in order.
func advRows(n int, clean float64, seed uint64) []int {
	k := n - int(math.Round(clean*float64(n)))
	if k >= n {
		return allRows(n)
	}
	if k <= 0 {
		return nil
	}
	perm := tensor.NewRNG(seed).Perm(n)[:k]
	mark := make([]bool, n)
	for _, i := range perm {
		mark[i] = true
	}
	rows := make([]int, 0, k)
	for i, m := range mark {
		if m {
			rows = append(rows, i)
		}
	}
	return rows
}

// attackBatch makes adversarial examples of the batch x with labels y for
// training: attack a in attack mode on a copy of x under Untargeted(y),
// with the honesty checks of Run (inputs in the box, the result of x's
// shape within tm), but without Run's evaluation of the result. A
// MinimumNormAttack runs without a bound and its result is projected onto
// tm, as RunEps does.
func attackBatch(a Attack, model layers.Module, x *tensor.Tensor, y []int, tm ThreatModel) (*tensor.Tensor, error) {
	if err := tm.CheckInput(x); err != nil {
		return nil, fmt.Errorf("%w (attack %s; training inputs must be [0,1] pixels, with normalisation inside the model)", err, a.Name())
	}
	if len(y) != x.Dim(0) {
		return nil, fmt.Errorf("adversarial: %d labels for a batch of %d", len(y), x.Dim(0))
	}
	var adv *tensor.Tensor
	err := WithAttackMode(model, func(m *Model) error {
		run, minNorm := tm, false
		if mn, ok := a.(MinimumNormAttack); ok && mn.MinimumNorm() {
			run, minNorm = tm.WithEps(math.Inf(1)), true
		}
		var err error
		adv, err = a.Perturb(context.Background(), m, x.Clone(), Untargeted(y), run)
		if err != nil {
			return fmt.Errorf("adversarial: %s: %w", a.Name(), err)
		}
		if err := checkOutput(a.Name(), x, adv, tm, minNorm); err != nil {
			return err
		}
		tm.Project(x, adv)
		return nil
	})
	return adv, err
}
