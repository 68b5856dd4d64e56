package learner

import (
	"context"
	"fmt"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
)

// FreezeTo freezes the layer groups before n (n < 0 counts from the end) and
// unfreezes the others, as fastai's freeze_to. Unless the learner was made with FreezeNorm,
// norm-layer parameters stay trainable in frozen groups. Frozen parameters
// get no gradient and cost no gradient work. As in fastai, the optimizer's
// state (Adam's moments, step counts) is cleared, its hyper-parameters kept.
func (l *Learner) FreezeTo(n int) {
	var opts []layers.Option
	if !l.trainBN {
		opts = append(opts, layers.FreezeNorm())
	}
	l.frozenTo = layers.FreezeGroups(l.Model, l.LayerGroups(), n, opts...)
	l.clearOptState()
}

// Freeze freezes every layer group but the last (fastai's freeze).
func (l *Learner) Freeze() { l.FreezeTo(-1) }

// Unfreeze makes every layer group trainable.
func (l *Learner) Unfreeze() { l.FreezeTo(0) }

// FrozenTo returns the number of leading layer groups that are frozen.
func (l *Learner) FrozenTo() int { return l.frozenTo }

// FineTune is fastai's fine_tune for transfer learning: freeze, one-cycle
// for FreezeEpochs (default 1; FreezeEpochs(0) skips this phase) at
// Slice(0, base) with PctStart 0.99, halve base, unfreeze, then one-cycle
// for epochs with discriminative rates Slice(base/LRMult, base) (LRMult
// 100), PctStart 0.3 and Div 5. The base rate is the LR option's (a single
// rate; default 2e-3, fastai's base_lr); PctStart and Div set the unfrozen
// phase's, as fastai's fine_tune arguments do. The other options of the
// fits (Callbacks, WD, DivFinal, Moms, NoProgress...) apply to both
// phases, as fastai passes its kwargs to both fit_one_cycle calls.
func (l *Learner) FineTune(ctx context.Context, epochs int, opts ...Option) error {
	s := resolve("FineTune", inFineTune, opts)
	base, freeze, mult := 2e-3, 1, 100.0
	if s.lr != nil {
		r, ok := s.lr.(oneRate)
		if !ok {
			return fmt.Errorf("learner.FineTune: the base rate is one value (fastai's base_lr), not %T", s.lr)
		}
		base = float64(r)
	}
	if s.freezeEpochs != nil {
		freeze = *s.freezeEpochs
	}
	if s.lrMult != nil {
		mult = *s.lrMult
	}
	if freeze < 0 || !(base > 0) || !(mult >= 1) {
		return fmt.Errorf("learner.FineTune: %d frozen epochs, base rate %g, rate multiplier %g", freeze, base, mult)
	}
	frozen := fitConfigOf(s, 0.99)
	frozen.div = 25
	if freeze > 0 {
		l.Freeze()
		frozen.lr = SliceRate{0, base}
		if err := l.fitOneCycle(ctx, freeze, frozen); err != nil {
			return err
		}
	}
	base /= 2
	l.Unfreeze()
	unfrozen := fitConfigOf(s, 0.3)
	if s.div == nil {
		unfrozen.div = 5
	}
	unfrozen.lr = SliceRate{base / mult, base}
	return l.fitOneCycle(ctx, epochs, unfrozen)
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
