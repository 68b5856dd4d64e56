package attacks

import (
	"context"
	"fmt"
	"slices"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Option configures Generate, and the AdversarialLearner's
// GenerateAdvExample and AttackBatch, which call it. The options are
// Targets (TargetLabel, TargetRandom...: a targeted attack), TrueLabels,
// Using (the attack), Within (the threat model) and Eps (its budget).
// Later options override earlier ones.
type Option interface {
	apply(*genConfig)
}

// genConfig is what the options of one Generate call set.
type genConfig struct {
	attack  Attack
	threat  *ThreatModel
	eps     *float64
	labels  []int
	targets Targets
}

type optionFunc func(*genConfig)

func (f optionFunc) apply(g *genConfig) { f(g) }

// TrueLabels gives the images' true labels: an untargeted attack moves
// away from them (without them, from the model's predictions), and the
// Targets rules choose targets from them.
func TrueLabels(ys ...int) Option {
	ys = slices.Clone(ys)
	return optionFunc(func(g *genConfig) { g.labels = ys })
}

// Using sets the attack (default: DefaultAttack(), PGD-20 from a random
// start).
func Using(a Attack) Option { return optionFunc(func(g *genConfig) { g.attack = a }) }

// Within sets the threat model (default: DefaultThreat(), Linf 0.1 in the
// box [0,1]).
func Within(tm ThreatModel) Option { return optionFunc(func(g *genConfig) { g.threat = &tm }) }

// Eps sets the threat model's budget, whichever threat model applies.
func Eps(e float64) Option { return optionFunc(func(g *genConfig) { g.eps = &e }) }

// configure applies opts to the defaults and returns the attack and the
// threat model they set.
func configure(opts []Option) (genConfig, Attack, ThreatModel) {
	var g genConfig
	for _, o := range opts {
		if o != nil {
			o.apply(&g)
		}
	}
	a, tm := g.attack, DefaultThreat()
	if a == nil {
		a = DefaultAttack()
	}
	if g.threat != nil {
		tm = *g.threat
	}
	if g.eps != nil {
		tm.Eps = *g.eps
	}
	return g, a, tm
}

// Generate attacks model on the batch x [N, ...] of [0,1] pixels as the
// options say (by default DefaultAttack within DefaultThreat, untargeted,
// away from the model's predictions) and returns the Result of Run:
// the adversarial batch with success, predictions and norms per image. A
// Targets option makes the attack targeted; its targets are chosen from
// the true labels (TrueLabels) or else the model's clean predictions.
func Generate(ctx context.Context, model layers.Module, x *tensor.Tensor, opts ...Option) (*Result, error) {
	g, a, tm := configure(opts)
	if err := tm.CheckInput(x); err != nil {
		return nil, fmt.Errorf("attacks.Generate: %w", err)
	}
	n := x.Dim(0)
	if g.labels != nil && len(g.labels) != n {
		return nil, fmt.Errorf("attacks.Generate: %d true labels for %d images", len(g.labels), n)
	}
	var crit Criterion = Untargeted(g.labels)
	if g.targets != nil {
		t, err := targetsOf(model, x, g.labels, g.targets)
		if err != nil {
			return nil, fmt.Errorf("attacks.Generate: %w", err)
		}
		crit = t
	}
	return Run(ctx, a, model, x, crit, tm)
}

// targetsOf returns the targets of rule for x, from the model's clean
// outputs and the labels (true, else predicted).
func targetsOf(model layers.Module, x *tensor.Tensor, labels []int, rule Targets) (Targeted, error) {
	out, err := Outputs(model, x)
	if err != nil {
		return nil, err
	}
	if labels == nil {
		labels = Predictions(out)
		for i, p := range labels {
			if p < 0 {
				return nil, fmt.Errorf("the model's output for image %d holds a NaN", i)
			}
		}
	}
	return rule.For(labels, out, out.Dim(1))
}

// Outputs returns the model's scores on the batch x, computed in attack
// mode (see Model) without a graph; the model is restored afterwards.
func Outputs(model layers.Module, x *tensor.Tensor) (*tensor.Tensor, error) {
	var out *tensor.Tensor
	err := WithAttackMode(model, func(m *Model) error {
		var err error
		out, err = m.Outputs(x)
		return err
	})
	return out, err
}

// Configured returns the attack and the threat model that opts set, with
// DefaultAttack and DefaultThreat for what they leave unset: what Generate
// runs with these options.
func Configured(opts ...Option) (Attack, ThreatModel) {
	_, a, tm := configure(opts)
	return a, tm
}
