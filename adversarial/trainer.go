package adversarial

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// TrainerOrder is the callback order of the adversarial trainers and of
// GaussianNoise: after learner.ParamScheduler (60), so that a guard that
// lowers the learning rate scales the scheduled value, and after the
// callbacks that build the batch (MixUp and CutMix, order 0).
const TrainerOrder = 70

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
	Attack attacks.Attack
	// Threat is the threat model (the zero value: DefaultThreat()).
	Threat attacks.ThreatModel
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
func NewTrainer(a attacks.Attack, tm attacks.ThreatModel) *AdversarialTrainer {
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
func NewFastAT(tm attacks.ThreatModel) *AdversarialTrainer {
	tm = orDefaultThreat(tm)
	return &AdversarialTrainer{
		Attack: attacks.PGD{Steps: 1, Alpha: 1.25 * tm.Eps, RandomStart: true, LastIterate: true},
		Threat: tm,
		Guard:  &OverfitGuard{},
	}
}

// Order implements learner.Ordered (TrainerOrder).
func (t *AdversarialTrainer) Order() int { return TrainerOrder }

// Name implements learner.Named.
func (t *AdversarialTrainer) Name() string { return "AdversarialTrainer" }

func orDefaultThreat(tm attacks.ThreatModel) attacks.ThreatModel {
	if tm == (attacks.ThreatModel{}) {
		return attacks.DefaultThreat()
	}
	return tm
}

func (t *AdversarialTrainer) attack() attacks.Attack {
	if t.Attack != nil {
		return t.Attack
	}
	return attacks.PGD{Steps: 10, RandomStart: true, LastIterate: true}
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
		rows := advRows(len(l.YB), t.CleanFraction, attacks.IndexSeed(t.Seed^0x5bd1e995, l.TrainIter))
		t.advRows = rows
		if len(rows) == 0 {
			return nil
		}
		xs, ys := x, l.YB
		if len(rows) < len(l.YB) {
			xs, ys = batch.Select(x, rows), batch.SelectInts(l.YB, rows)
		}
		a := attacks.Reseed(t.attack(), attacks.IndexSeed(t.Seed, l.TrainIter))
		adv, err := attacks.Craft(l.Context(), a, l.Model, xs, attacks.Untargeted(ys), tm)
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
		pred := attacks.Predictions(l.Pred.Data())
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
		return batch.All(n)
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
