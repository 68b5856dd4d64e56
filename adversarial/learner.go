package adversarial

import (
	"context"
	"fmt"
	"slices"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// AdversarialLearner is a learner.Learner with attacks: everything the
// Learner does (Fit, FitOneCycle, FineTune, Predict, GetPreds, Validate,
// Save...) through the embedded *Learner, plus GenerateAdvExample and
// Attack. It is fastai's learn.to_learner(AdversarialLearner).
type AdversarialLearner struct {
	*learner.Learner
	// Attack is the attack GenerateAdvExample uses unless told otherwise
	// (DefaultAttack at creation).
	Attack attacks.Attack
	// Threat is the threat model GenerateAdvExample uses unless told
	// otherwise (DefaultThreat at creation).
	Threat attacks.ThreatModel
}

// NewLearner wraps l (which stays usable and shares its state) with the
// default attack and threat model.
func NewLearner(l *learner.Learner) *AdversarialLearner {
	return &AdversarialLearner{Learner: l, Attack: attacks.DefaultAttack(), Threat: attacks.DefaultThreat()}
}

// GenOption configures one call of GenerateAdvExample or Attack.
type GenOption func(*genConfig)

type genConfig struct {
	ctx      context.Context
	attack   attacks.Attack
	threat   *attacks.ThreatModel
	eps      *float64
	labels   []int
	target   func(out *tensor.Tensor, labels []int, n int) (attacks.Targeted, error)
	criteria attacks.Criterion
}

// TargetLabel makes the attack targeted: every image is pushed toward class
// c (fastai's generate_adv_example(img, target_label=c)).
func TargetLabel(c int) GenOption {
	return TargetLabels(c)
}

// TargetLabels makes the attack targeted with one target per image (a
// single target applies to every image).
func TargetLabels(ts ...int) GenOption {
	ts = slices.Clone(ts)
	return func(g *genConfig) {
		g.target = func(out *tensor.Tensor, _ []int, n int) (attacks.Targeted, error) {
			if len(ts) == 1 {
				return attacks.TargetClass(ts[0], n), nil
			}
			if len(ts) != n {
				return nil, fmt.Errorf("adversarial: %d target labels for %d images", len(ts), n)
			}
			return attacks.Targeted(slices.Clone(ts)), nil
		}
	}
}

// TargetLeastLikely targets each image's least likely class under the model.
func TargetLeastLikely() GenOption {
	return func(g *genConfig) {
		g.target = func(out *tensor.Tensor, _ []int, _ int) (attacks.Targeted, error) {
			return attacks.LeastLikelyTargets(out), nil
		}
	}
}

// TargetRandom targets, for each image, a random class other than its label
// (the true label when given, else the model's prediction), drawn with seed.
func TargetRandom(seed uint64) GenOption {
	return func(g *genConfig) {
		g.target = func(out *tensor.Tensor, labels []int, _ int) (attacks.Targeted, error) {
			return attacks.RandomTargets(labels, out.Dim(1), seed), nil
		}
	}
}

// TargetNextClass targets, for each image, the class after its label (the
// true label when given, else the model's prediction), modulo the classes.
func TargetNextClass() GenOption {
	return func(g *genConfig) {
		g.target = func(out *tensor.Tensor, labels []int, _ int) (attacks.Targeted, error) {
			return attacks.NextClassTargets(labels, out.Dim(1)), nil
		}
	}
}

// TrueLabels gives the images' true labels, for an untargeted attack (which
// otherwise uses the model's predictions) and for the target helpers.
func TrueLabels(ys ...int) GenOption {
	ys = slices.Clone(ys)
	return func(g *genConfig) { g.labels = ys }
}

// WithCriterion sets the criterion directly (an Untargeted or a Targeted),
// replacing the label and target options.
func WithCriterion(c attacks.Criterion) GenOption { return func(g *genConfig) { g.criteria = c } }

// WithAttack replaces the learner's attack for this call.
func WithAttack(a attacks.Attack) GenOption { return func(g *genConfig) { g.attack = a } }

// WithThreat replaces the learner's threat model for this call.
func WithThreat(tm attacks.ThreatModel) GenOption { return func(g *genConfig) { g.threat = &tm } }

// WithEps replaces the threat model's eps for this call.
func WithEps(eps float64) GenOption { return func(g *genConfig) { g.eps = &eps } }

// WithContext sets the context that cancels the attack (default:
// context.Background()).
func WithContext(ctx context.Context) GenOption { return func(g *genConfig) { g.ctx = ctx } }

// GenerateAdvExample returns an adversarial version of img, one image
// [C, H, W] or a batch [N, C, H, W] in [0,1] pixels, of the same shape, made
// by the learner's attack within its threat model (or those of the options).
// Untargeted by default (away from the true labels given by TrueLabels, else
// from the model's predictions); TargetLabel(c) and the other Target options
// make it targeted. The result of one image can go straight to Predict.
func (a *AdversarialLearner) GenerateAdvExample(img *tensor.Tensor, opts ...GenOption) (*tensor.Tensor, error) {
	r, err := a.AttackBatch(img, opts...)
	if err != nil {
		return nil, err
	}
	if img.Rank() == 3 {
		return r.Adv.Reshape(img.Shape()...), nil
	}
	return r.Adv, nil
}

// AttackBatch is GenerateAdvExample returning the whole Result (success,
// predictions and norms per image). A single image [C, H, W] is attacked as
// a batch of one, and the Result's tensors are [1, C, H, W].
func (a *AdversarialLearner) AttackBatch(img *tensor.Tensor, opts ...GenOption) (*attacks.Result, error) {
	g := genConfig{ctx: context.Background(), attack: a.Attack}
	for _, o := range opts {
		o(&g)
	}
	if g.attack == nil {
		g.attack = attacks.DefaultAttack()
	}
	tm := a.Threat
	if g.threat != nil {
		tm = *g.threat
	}
	if g.eps != nil {
		tm.Eps = *g.eps
	}
	if img == nil {
		return nil, fmt.Errorf("adversarial: GenerateAdvExample: nil image")
	}
	x := img
	switch img.Rank() {
	case 3:
		x = img.Reshape(append([]int{1}, img.Shape()...)...)
	case 4:
	default:
		return nil, fmt.Errorf("adversarial: GenerateAdvExample: image of shape %v, want [C, H, W] or [N, C, H, W]", img.Shape())
	}
	n := x.Dim(0)
	if g.labels != nil && len(g.labels) != n {
		return nil, fmt.Errorf("adversarial: GenerateAdvExample: %d true labels for %d images", len(g.labels), n)
	}
	if err := tm.CheckInput(x); err != nil {
		return nil, fmt.Errorf("adversarial: GenerateAdvExample: %w", err)
	}
	crit := g.criteria
	if crit == nil {
		if g.target == nil {
			crit = attacks.Untargeted(g.labels)
		} else {
			var err error
			if crit, err = a.targets(x, g); err != nil {
				return nil, err
			}
		}
	}
	return attacks.Run(g.ctx, g.attack, a.Model, x, crit, tm)
}

// targets builds the targeted criterion of g for x from the model's clean
// outputs and the labels (true, else predicted).
func (a *AdversarialLearner) targets(x *tensor.Tensor, g genConfig) (attacks.Criterion, error) {
	var out *tensor.Tensor
	err := attacks.WithAttackMode(a.Model, func(m *attacks.Model) error {
		var err error
		out, err = m.Outputs(x)
		return err
	})
	if err != nil {
		return nil, err
	}
	labels := g.labels
	if labels == nil {
		labels = attacks.Predictions(out)
		for i, p := range labels {
			if p < 0 {
				return nil, fmt.Errorf("adversarial: GenerateAdvExample: the model's output for image %d holds a NaN", i)
			}
		}
	}
	for i, y := range labels {
		if y < 0 || y >= out.Dim(1) {
			return nil, fmt.Errorf("adversarial: GenerateAdvExample: label %d of image %d out of range for %d classes", y, i, out.Dim(1))
		}
	}
	t, err := g.target(out, labels, x.Dim(0))
	if err != nil {
		return nil, err
	}
	for i, c := range t {
		if c < 0 || c >= out.Dim(1) {
			return nil, fmt.Errorf("adversarial: GenerateAdvExample: target %d of image %d out of range for %d classes", c, i, out.Dim(1))
		}
	}
	return t, nil
}

// PredictBatch predicts each image of a batch [N, C, H, W] (an adversarial
// batch from GenerateAdvExample, say) with the Learner's Predict.
func (a *AdversarialLearner) PredictBatch(x *tensor.Tensor) ([]learner.Prediction, error) {
	if x == nil || x.Rank() != 4 {
		var s []int
		if x != nil {
			s = x.Shape()
		}
		return nil, fmt.Errorf("adversarial: PredictBatch: input of shape %v, want [N, C, H, W]", s)
	}
	out := make([]learner.Prediction, x.Dim(0))
	for i := range out {
		p, err := a.Predict(x.Narrow0(i, 1))
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// TargetRunnerUp targets, for each image, the most likely class other than
// its label (the true label when given by TrueLabels, else the model's
// prediction): see RunnerUpTargets.
func TargetRunnerUp() GenOption {
	return func(g *genConfig) {
		g.target = func(out *tensor.Tensor, labels []int, _ int) (attacks.Targeted, error) {
			return attacks.RunnerUpTargets(out, labels), nil
		}
	}
}
