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
// The examples are made in attack mode (see attacks.Model): the model in
// eval mode, so BatchNorm statistics do not move and Dropout is off while
// the attack runs, and parameters frozen; the model's training mode and
// flags are restored before the batch's forward pass, which then updates
// BatchNorm on the adversarial batch as in Madry's training. Each batch's
// attack gets its own seed (see attacks.Reseeder) and runs with the fit's
// context, so cancelling the fit stops it mid-batch.
//
// NewTrainer is Madry's PGD adversarial training; NewFastAT is the fast
// adversarial training of Wong et al. with its overfitting guard. Their
// options set the configuration; AdvAccuracy is the record of the last fit.
type AdversarialTrainer struct {
	// AdvAccuracy records, per epoch of the fit, the accuracy of the
	// training-mode model on the adversarial rows of its training batches
	// (read from the batch's own forward pass; a sharp rise with single-
	// step attacks is a symptom of catastrophic overfitting).
	AdvAccuracy []float64

	attack        attacks.Attack
	threat        attacks.ThreatModel
	cleanFraction float64
	seed          uint64
	guard         *OverfitGuard

	advRows        []int
	correct, total int
}

// TrainerOption configures NewTrainer and NewFastAT.
type TrainerOption func(*trainerConfig)

type trainerConfig struct {
	attack        attacks.Attack
	threat        attacks.ThreatModel
	eps           *float64
	cleanFraction float64
	seed          uint64
	guard         *OverfitGuard
}

// Attack sets the attack that makes the training examples (NewTrainer's
// default: PGD with 10 steps of 2.5 eps/10 from a random start, keeping the
// last iterate, Madry's training attack; NewFastAT's: FGSM from a random
// start with step 1.25 eps).
func Attack(a attacks.Attack) TrainerOption { return func(c *trainerConfig) { c.attack = a } }

// Threat sets the threat model the examples are made in (default:
// attacks.DefaultThreat(), Linf 0.1).
func Threat(tm attacks.ThreatModel) TrainerOption { return func(c *trainerConfig) { c.threat = tm } }

// Eps sets the threat model's eps, whichever threat model applies.
func Eps(e float64) TrainerOption { return func(c *trainerConfig) { c.eps = &e } }

// CleanFraction leaves the share f of each training batch clean, its rows
// drawn at random per batch (default 0: every input adversarial, Madry's
// training; 0.5: half and half, the mix of Goodfellow et al. and Kurakin et
// al.). The loss is the batch mean over both kinds. f must be in [0, 1].
func CleanFraction(f float64) TrainerOption { return func(c *trainerConfig) { c.cleanFraction = f } }

// Seed seeds the per-batch attack seeds and the choice of clean rows
// (default 0).
func Seed(s uint64) TrainerOption { return func(c *trainerConfig) { c.seed = s } }

// Guard watches the training for catastrophic overfitting with g (see
// OverfitGuard; NewFastAT carries one with its defaults).
func Guard(g *OverfitGuard) TrainerOption { return func(c *trainerConfig) { c.guard = g } }

// newTrainer applies opts to the defaults c and returns the trainer they
// configure.
func newTrainer(c trainerConfig, opts []TrainerOption) *AdversarialTrainer {
	for _, o := range opts {
		o(&c)
	}
	c.threat = orDefaultThreat(c.threat)
	if c.eps != nil {
		c.threat.Eps = *c.eps
	}
	return &AdversarialTrainer{attack: c.attack, threat: c.threat, cleanFraction: c.cleanFraction, seed: c.seed, guard: c.guard}
}

// NewTrainer returns Madry et al.'s PGD adversarial training: with no
// options, every training input replaced by its PGD-10 example within
// attacks.DefaultThreat() (Linf 0.1). Attack, Threat, Eps, CleanFraction,
// Seed and Guard change it.
func NewTrainer(opts ...TrainerOption) *AdversarialTrainer {
	return newTrainer(trainerConfig{}, opts)
}

// madry is NewTrainer's default attack: PGD with 10 steps of 2.5 eps/10
// from a random start, keeping the last iterate.
func madry() attacks.Attack { return attacks.PGD{Steps: 10, RandomStart: true, LastIterate: true} }

// NewFastAT returns fast adversarial training (Wong, Rice and Kolter, "Fast
// is better than free: revisiting adversarial training", 2020): FGSM from
// a uniform random start in the Linf ball, with step Alpha = 1.25 eps
// (PGD{Steps: 1, Alpha: 1.25 eps, RandomStart: true, LastIterate: true}),
// about the cost of two training steps per batch. Single-step training can
// overfit catastrophically (robustness to PGD collapses within an epoch
// while robustness to FGSM rises), so the trainer carries an OverfitGuard
// with its defaults: a PGD check on held-out data after every epoch that
// restores the last good weights and stops the fit on a collapse. The
// options are NewTrainer's.
func NewFastAT(opts ...TrainerOption) *AdversarialTrainer {
	t := newTrainer(trainerConfig{guard: &OverfitGuard{}}, opts)
	if t.attack == nil {
		t.attack = attacks.PGD{Steps: 1, Alpha: 1.25 * t.threat.Eps, RandomStart: true, LastIterate: true}
	}
	return t
}

// Guard returns the trainer's overfitting guard (nil without one), whose
// Checks record its checks of the last fit.
func (t *AdversarialTrainer) Guard() *OverfitGuard { return t.guard }

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

// Handle implements learner.Callback.
func (t *AdversarialTrainer) Handle(l *learner.Learner, e learner.Event) error {
	if t.guard != nil {
		if err := t.guard.handle(l, e, t.threat); err != nil {
			return err
		}
	}
	switch e {
	case learner.BeforeFit:
		if t.cleanFraction < 0 || t.cleanFraction > 1 || math.IsNaN(t.cleanFraction) {
			return fmt.Errorf("adversarial.AdversarialTrainer: CleanFraction %v must be in [0, 1]", t.cleanFraction)
		}
		t.threat = orDefaultThreat(t.threat)
		if t.attack == nil {
			t.attack = madry()
		}
		if err := t.threat.Validate(); err != nil {
			return fmt.Errorf("adversarial.AdversarialTrainer: %w", err)
		}
		t.AdvAccuracy = nil
	case learner.BeforeTrain:
		t.correct, t.total = 0, 0
	case learner.BeforeBatch:
		if !l.Training {
			return nil
		}
		x := l.XB.Data()
		rows := advRows(len(l.YB), t.cleanFraction, attacks.IndexSeed(t.seed^0x5bd1e995, l.TrainIter))
		t.advRows = rows
		if len(rows) == 0 {
			return nil
		}
		xs, ys := x, l.YB
		if len(rows) < len(l.YB) {
			xs, ys = batch.Select(x, rows), batch.SelectInts(l.YB, rows)
		}
		a := attacks.Reseed(t.attack, attacks.IndexSeed(t.seed, l.TrainIter))
		adv, err := attacks.Craft(l.Context(), a, l.Model, xs, attacks.Untargeted(ys), t.threat)
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
