package learner

import (
	"context"

	"github.com/fastgo-ml/fastgo/autograd"
)

// FreezeTo freezes the layer groups before n (n < 0 counts from the end) and
// unfreezes the others, as fastai's freeze_to. With TrainBN (the default),
// norm-layer parameters stay trainable in frozen groups. Frozen parameters
// get no gradient and cost no gradient work. As in fastai, the optimizer's
// state (Adam's moments, step counts) is cleared, its hyper-parameters kept.
func (l *Learner) FreezeTo(n int) {
	groups := l.LayerGroups()
	if n < 0 {
		n += len(groups)
	}
	n = max(0, min(n, len(groups)))
	l.frozenTo = n
	norm := normParams(l.Model)
	for i, g := range groups {
		for _, np := range g {
			np.Param.SetRequiresGrad(i >= n || (l.TrainBN && norm[np.Param]))
		}
	}
	l.clearOptState()
}

// Freeze freezes every layer group but the last (fastai's freeze).
func (l *Learner) Freeze() { l.FreezeTo(-1) }

// Unfreeze makes every layer group trainable.
func (l *Learner) Unfreeze() { l.FreezeTo(0) }

// FrozenTo returns the number of leading layer groups that are frozen.
func (l *Learner) FrozenTo() int { return l.frozenTo }

// FineTuneOptions are FineTune's settings; the zero value means fastai's
// defaults: base lr 2e-3, 1 frozen epoch, lr_mult 100, pct_start 0.3, div 5.
type FineTuneOptions struct {
	// BaseLR is the head's learning rate in the frozen phase (2e-3); the
	// unfrozen phase uses half of it.
	BaseLR float64
	// FreezeEpochs is the length of the frozen phase (1).
	FreezeEpochs int
	// LRMult is the ratio of the last group's rate to the first's in the
	// unfrozen phase (100).
	LRMult float64
	// PctStart is the unfrozen one-cycle's warm-up fraction (0.3).
	PctStart float64
	// Div is the unfrozen one-cycle's initial division of the rates (5).
	Div float64
	// NoFreezeEpochs skips the frozen phase (FreezeEpochs is then ignored).
	NoFreezeEpochs bool
}

// FineTune is fastai's fine_tune for transfer learning: freeze, one-cycle
// for FreezeEpochs at pct_start 0.99 and slice(base_lr), halve base_lr,
// unfreeze, then one-cycle for epochs with discriminative learning rates
// slice(base_lr/lr_mult, base_lr), PctStart and Div. opts (callbacks,
// DivFinal, Moms, FitWD...) are passed to both fits, as fastai passes its
// kwargs to both fit_one_cycle calls; PctStart and Div in opts are
// overridden by FineTune's own (the frozen phase uses 0.99 and 25).
func (l *Learner) FineTune(ctx context.Context, epochs int, o *FineTuneOptions, opts ...FitOption) error {
	var c FineTuneOptions
	if o != nil {
		c = *o
	}
	if c.BaseLR == 0 {
		c.BaseLR = 2e-3
	}
	if c.FreezeEpochs == 0 && !c.NoFreezeEpochs {
		c.FreezeEpochs = 1
	}
	if c.LRMult == 0 {
		c.LRMult = 100
	}
	if c.PctStart == 0 {
		c.PctStart = 0.3
	}
	if c.Div == 0 {
		c.Div = 5
	}
	with := func(extra ...FitOption) []FitOption {
		return append(append([]FitOption(nil), opts...), extra...)
	}
	if c.FreezeEpochs > 0 && !c.NoFreezeEpochs {
		l.Freeze()
		if err := l.FitOneCycle(ctx, c.FreezeEpochs, Slice(0, c.BaseLR), with(PctStart(0.99), Div(25))...); err != nil {
			return err
		}
	}
	base := c.BaseLR / 2
	l.Unfreeze()
	return l.FitOneCycle(ctx, epochs, Slice(base/c.LRMult, base), with(PctStart(c.PctStart), Div(c.Div))...)
}

// Parameters returns the model's parameters that are trainable now.
func (l *Learner) Parameters() []*autograd.Value {
	var out []*autograd.Value
	for _, g := range l.LayerGroups() {
		for _, np := range g {
			if np.Param.RequiresGrad() {
				out = append(out, np.Param)
			}
		}
	}
	return out
}
