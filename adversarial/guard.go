package adversarial

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/optim"
	"github.com/fastgo-ml/fastgo/tensor"
)

// GuardAction is what an OverfitGuard does when it detects catastrophic
// overfitting, after restoring the last good weights.
type GuardAction int

const (
	// GuardStop stops the fit (learner.CancelFit, so Fit returns nil with
	// the restored model), as Wong et al.'s early stopping does.
	GuardStop GuardAction = iota
	// GuardLowerLR multiplies the learning rate by LRFactor for the rest of
	// the fit (on top of any schedule) and goes on training.
	GuardLowerLR
)

// String returns "stop" or "lower-lr".
func (a GuardAction) String() string {
	switch a {
	case GuardStop:
		return "stop"
	case GuardLowerLR:
		return "lower-lr"
	}
	return fmt.Sprintf("GuardAction(%d)", int(a))
}

// OverfitGuard detects catastrophic overfitting during adversarial
// training: the sudden collapse of robustness to multi-step attacks that
// single-step (FGSM) training is prone to, within a few batches, while the
// training accuracy on FGSM examples keeps rising (Wong et al., 2020). At
// every check (after each training epoch, or every Every training batches)
// it attacks a held-out batch with PGD and compares the robust accuracy
// with that of the last good check; a drop of more than MaxDrop trips it:
// the model's weights and buffers and the optimizer's state are restored to
// the last good check's, and it stops the fit or lowers the learning rate
// (Action). A check that does not trip becomes the new good one.
//
// A trainer carries a guard given with the Guard option (NewFastAT carries
// one with the defaults); Checks records every check, so that a collapse
// never goes unnoticed. The checks run with the fit's context. The first
// check has nothing to compare with, and only records.
//
// The held-out items must not be those a robustness evaluation then reports
// on: the guard chooses its checkpoints by them, so a figure measured on
// them would be biased upward. Give the guard its own split (X and Y, or
// Data: items kept out of both the training and the evaluation), or leave
// the default, the last items of the validation set, at most half of it:
// fastgo's evaluations (AdversarialLearner.EvaluateRobustness, fastgo
// robustness) report on the first items, so up to half the validation set
// they never see the guard's. HeldOutFrom says which items the guard took.
type OverfitGuard struct {
	// X is the held-out batch, [0,1] pixels (nil: Data's, or the last
	// items of the validation set).
	X *tensor.Tensor
	// Y holds X's labels.
	Y []int
	// Data, when X is nil, serves the held-out items: the guard takes the
	// first HeldOut of its first epoch when the fit starts.
	Data data.Loader
	// HeldOut is the number of items taken when X is nil (0: 512; from the
	// validation set, at most half of it).
	HeldOut int
	// HeldOutFrom says, after the fit started, where the held-out items
	// came from ("the last 60 of the 120 validation items").
	HeldOutFrom string
	// Attack is the check's attack (nil: PGD with 10 steps from a random
	// start, seed 1: the same starts at every check).
	Attack attacks.Attack
	// Threat is the check's threat model (the zero value: the trainer's).
	Threat attacks.ThreatModel
	// Every checks every Every training batches instead of after each
	// epoch (0: after each epoch).
	Every int
	// MaxDrop is the fall in robust accuracy from the last good check that
	// trips the guard (0: 0.2, Wong et al.'s threshold).
	MaxDrop float64
	// Action is what a trip does after restoring the weights (default
	// GuardStop).
	Action GuardAction
	// LRFactor multiplies the learning rate at each trip under GuardLowerLR
	// (0: 0.5).
	LRFactor float64

	// Checks records every check of the last fit, in order.
	Checks []GuardCheck
	// Trips counts the checks that tripped in the last fit.
	Trips int

	snap    *snapshot
	good    float64
	lrScale float64
	lastSet []float64
	base    []float64
	x       *tensor.Tensor
	y       []int
}

// GuardCheck is one check of an OverfitGuard.
type GuardCheck struct {
	// Epoch and TrainIter locate the check (TrainIter: training batches
	// since the start of the fit).
	Epoch, TrainIter int
	// Clean and Robust are the accuracies on the held-out batch, clean and
	// under the check's attack, before any restore.
	Clean, Robust float64
	// Tripped says whether the check detected catastrophic overfitting
	// (and restored the weights of the last good check).
	Tripped bool
}

// Tripped reports whether any check of the last fit tripped.
func (g *OverfitGuard) Tripped() bool { return g.Trips > 0 }

// snapshot is a copy of a model's state and its optimizer's.
type snapshot struct {
	model *layers.StateDict
	opt   *optim.State
}

func takeSnapshot(l *learner.Learner) *snapshot {
	s := &snapshot{model: layers.GetStateDict(l.Model).Clone()}
	if l.Opt != nil {
		s.opt = l.Opt.StateDict()
	}
	return s
}

func (s *snapshot) restore(l *learner.Learner) error {
	if _, err := layers.LoadStateDict(l.Model, s.model); err != nil {
		return err
	}
	if s.opt != nil && l.Opt != nil {
		return l.Opt.LoadStateDict(s.opt)
	}
	return nil
}

// handle runs the guard's part of the trainer's events; tm is the trainer's
// threat model.
func (g *OverfitGuard) handle(l *learner.Learner, e learner.Event, tm attacks.ThreatModel) error {
	switch e {
	case learner.BeforeFit:
		g.Checks, g.Trips, g.snap, g.good, g.lrScale, g.lastSet, g.base = nil, 0, nil, math.Inf(-1), 1, nil, nil
		if g.MaxDrop < 0 || math.IsNaN(g.MaxDrop) || g.LRFactor < 0 || g.LRFactor > 1 || math.IsNaN(g.LRFactor) {
			return fmt.Errorf("adversarial.OverfitGuard: MaxDrop %v must be >= 0 and LRFactor %v in [0, 1]", g.MaxDrop, g.LRFactor)
		}
		return g.heldOut(l)
	case learner.BeforeBatch:
		if l.Training && g.lrScale != 1 {
			g.scaleLR(l)
		}
	case learner.AfterBatch:
		if l.Training && g.Every > 0 && l.TrainIter%g.Every == 0 {
			return g.check(l, tm)
		}
	case learner.AfterTrain:
		if g.Every <= 0 {
			return g.check(l, tm)
		}
	}
	return nil
}

// heldOut sets the held-out batch: X and Y, the first HeldOut items of
// Data, or the last HeldOut validation items (at most half of them).
func (g *OverfitGuard) heldOut(l *learner.Learner) error {
	if g.X != nil {
		if len(g.Y) != g.X.Dim(0) {
			return fmt.Errorf("adversarial.OverfitGuard: %d labels for a held-out batch of shape %v", len(g.Y), g.X.Shape())
		}
		g.x, g.y = g.X, g.Y
		g.HeldOutFrom = fmt.Sprintf("the %d items of X", len(g.Y))
		return nil
	}
	want := batch.OrDefault(g.HeldOut, 512)
	if g.Data != nil {
		b, err := data.First(l.Context(), g.Data, want)
		if errors.Is(err, data.ErrEmpty) {
			return fmt.Errorf("adversarial.OverfitGuard: the held-out Data is empty")
		}
		if err != nil {
			return fmt.Errorf("adversarial.OverfitGuard: reading the held-out batch: %w", err)
		}
		g.x, g.y = b.X.Clone(), b.Y
		g.HeldOutFrom = fmt.Sprintf("the first %d items of Data", len(g.y))
		return nil
	}
	x, y, total, err := lastItems(l, l.Data.ValidLoader(), want)
	if err != nil {
		return err
	}
	g.x, g.y = x, y
	g.HeldOutFrom = fmt.Sprintf("the last %d of the %d validation items", len(y), total)
	return nil
}

// lastItems returns the last min(n, total/2) items of l's first epoch (in
// order) and the number of items, total.
func lastItems(l *learner.Learner, ld data.Loader, n int) (*tensor.Tensor, []int, int, error) {
	var kept []data.Batch
	total, held := 0, 0
	for b, err := range ld.Epoch(l.Context(), 0) {
		if err != nil {
			return nil, nil, 0, fmt.Errorf("adversarial.OverfitGuard: reading the held-out batch: %w", err)
		}
		kept = append(kept, data.Batch{X: b.X.Clone(), Y: slices.Clone(b.Y)})
		total += b.Len()
		held += b.Len()
		for len(kept) > 1 && held-kept[0].Len() >= n {
			held -= kept[0].Len()
			kept = kept[1:]
		}
	}
	n = min(n, total/2)
	if n == 0 {
		return nil, nil, 0, fmt.Errorf("adversarial.OverfitGuard: the validation set has %d items, too few to hold some out (give X and Y, or Data)", total)
	}
	xs := make([]*tensor.Tensor, len(kept))
	var ys []int
	for k, b := range kept {
		xs[k] = b.X
		ys = append(ys, b.Y...)
	}
	x := tensor.Concat(0, xs...)
	skip := len(ys) - n
	return x.Narrow0(skip, n).Clone(), ys[skip:], total, nil
}

// check attacks the held-out batch and trips on a collapse.
func (g *OverfitGuard) check(l *learner.Learner, tm attacks.ThreatModel) error {
	if g.Threat != (attacks.ThreatModel{}) {
		tm = g.Threat
	}
	a := g.Attack
	if a == nil {
		a = attacks.PGD{Steps: 10, RandomStart: true, Seed: 1}
	}
	r, err := attacks.Run(l.Context(), a, l.Model, g.x, attacks.Untargeted(g.y), tm)
	if err != nil {
		return fmt.Errorf("adversarial.OverfitGuard: %w", err)
	}
	clean, err := attacks.Outputs(l.Model, g.x)
	if err != nil {
		return err
	}
	c := GuardCheck{Epoch: l.Epoch, TrainIter: l.TrainIter, Clean: accuracyOf(attacks.Predictions(clean), g.y), Robust: r.Accuracy(g.y)}
	drop := g.MaxDrop
	if drop == 0 {
		drop = 0.2
	}
	if c.Robust < g.good-drop && g.snap != nil {
		c.Tripped = true
		g.Trips++
		g.Checks = append(g.Checks, c)
		if g.Action == GuardLowerLR && l.Opt != nil {
			g.observeLR(l) // the rates in force, before the restore resets them
		}
		if err := g.snap.restore(l); err != nil {
			return fmt.Errorf("adversarial.OverfitGuard: restoring the last good weights: %w", err)
		}
		if g.Action == GuardLowerLR {
			f := g.LRFactor
			if f == 0 {
				f = 0.5
			}
			g.lrScale *= f
			if l.Opt != nil {
				g.applyLR(l)
			}
			return nil
		}
		return learner.CancelFit
	}
	g.Checks = append(g.Checks, c)
	g.good = c.Robust
	g.snap = takeSnapshot(l)
	return nil
}

// scaleLR multiplies each layer group's learning rate by the guard's
// scale: the rate a schedule (or the fit) set, observed once per value.
func (g *OverfitGuard) scaleLR(l *learner.Learner) {
	g.observeLR(l)
	g.applyLR(l)
}

// observeLR records as each layer group's base rate its current rate
// (learner.Hyper), unless that is the value the guard itself set last (no
// schedule reset it).
func (g *OverfitGuard) observeLR(l *learner.Learner) {
	lrs := l.Hyper("lr")
	if len(g.lastSet) != len(lrs) {
		g.lastSet = make([]float64, len(lrs))
		g.base = make([]float64, len(lrs))
		for i := range g.lastSet {
			g.lastSet[i] = math.NaN()
		}
	}
	for i, v := range lrs {
		if v != g.lastSet[i] {
			g.base[i] = v
		}
	}
}

// applyLR sets each layer group's rate to its base rate times the scale,
// through learner.SetHyper.
func (g *OverfitGuard) applyLR(l *learner.Learner) {
	for i := range g.lastSet {
		g.lastSet[i] = g.base[i] * g.lrScale
	}
	l.SetHyper("lr", g.lastSet...)
}

func accuracyOf(pred, labels []int) float64 {
	n := 0
	for i, p := range pred {
		if p == labels[i] {
			n++
		}
	}
	return float64(n) / float64(max(len(labels), 1))
}
