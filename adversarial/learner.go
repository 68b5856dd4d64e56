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
// Save...) through the embedded *Learner, plus GenerateAdvExample,
// AttackBatch, PredictBatch and EvaluateRobustness. It is fastai's
// learn.to_learner(AdversarialLearner).
type AdversarialLearner struct {
	*learner.Learner
	opts []attacks.Option
}

// NewLearner wraps l (which stays usable and shares its state). The
// options, package attacks' (attacks.Using for the attack, attacks.Within
// and attacks.Eps for the threat model...), are the defaults of every
// GenerateAdvExample and AttackBatch, before the call's own; without them
// the learner attacks with attacks.DefaultAttack within
// attacks.DefaultThreat.
func NewLearner(l *learner.Learner, opts ...attacks.Option) *AdversarialLearner {
	return &AdversarialLearner{Learner: l, opts: slices.Clone(opts)}
}

// threat returns the threat model of the learner's default options.
func (a *AdversarialLearner) threat() attacks.ThreatModel {
	_, tm := attacks.Configured(a.opts...)
	return tm
}

// GenerateAdvExample returns an adversarial version of img, one image
// [C, H, W] or a batch [N, C, H, W] in [0,1] pixels, of the same shape, made
// by attacks.Generate with the learner's options and then opts: untargeted
// by default (away from the true labels given by attacks.TrueLabels, else
// from the model's predictions); a Targets option (attacks.TargetLabel(c),
// attacks.TargetRandom(seed)...) makes it targeted. The result of one image
// can go straight to Predict. It stops soon after ctx is cancelled,
// returning its error.
func (a *AdversarialLearner) GenerateAdvExample(ctx context.Context, img *tensor.Tensor, opts ...attacks.Option) (*tensor.Tensor, error) {
	r, err := a.AttackBatch(ctx, img, opts...)
	if err != nil {
		return nil, err
	}
	if img.Rank() == 3 {
		return r.Adv.Reshape(img.Shape()...), nil
	}
	return r.Adv, nil
}

// AttackBatch is GenerateAdvExample returning the whole attacks.Result
// (success, predictions and norms per image). A single image [C, H, W] is
// attacked as a batch of one, and the Result's tensors are [1, C, H, W].
func (a *AdversarialLearner) AttackBatch(ctx context.Context, img *tensor.Tensor, opts ...attacks.Option) (*attacks.Result, error) {
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
	all := append(slices.Clone(a.opts), opts...)
	r, err := attacks.Generate(ctx, a.Model, x, all...)
	if err != nil {
		return nil, fmt.Errorf("adversarial: GenerateAdvExample: %w", err)
	}
	return r, nil
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
