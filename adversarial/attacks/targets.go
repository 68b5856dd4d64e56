package attacks

import (
	"fmt"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo/tensor"
)

// Targets chooses the target class of each image of a targeted attack,
// from the images' labels (the true labels when known, else the model's
// predictions), the model's clean scores [N, C] and the number of classes
// C. It is an Option of Generate (and of the AdversarialLearner's
// GenerateAdvExample and AttackBatch), and the rule of a targeted entry of
// a robustness suite (robustness.SuiteAttack.Targeted), so one set of names
// serves both:
//
//   - TargetLabel(c): class c for every image;
//   - TargetLabels(ts...): one class per image;
//   - TargetRandom(seed): a uniform class other than the label, per
//     position (the standard, hard benchmark);
//   - TargetNextClass(): the label plus one, modulo C;
//   - TargetLeastLikely(): the class the model finds least likely (the
//     hardest, Kurakin et al.'s);
//   - TargetRunnerUp(): the most likely class other than the label (the
//     easiest, the one a targeted attack should reach most often).
//
// Any function of this type is a rule too. A nil Targets is no rule: the
// attack is untargeted. Call For rather than the function, which checks
// its arguments and its result.
type Targets func(labels []int, clean *tensor.Tensor, numClasses int) (Targeted, error)

func (t Targets) apply(g *genConfig) { g.targets = t }

// For returns the targets of the images with the given labels, checked:
// every label and target a class below numClasses (at least 2), one target
// per label, and clean, when given, of shape [len(labels), numClasses].
func (t Targets) For(labels []int, clean *tensor.Tensor, numClasses int) (Targeted, error) {
	if t == nil {
		return nil, fmt.Errorf("attacks: nil Targets")
	}
	if numClasses < 2 {
		return nil, fmt.Errorf("attacks: targets among %d classes (need at least 2)", numClasses)
	}
	if clean != nil && (clean.Rank() != 2 || clean.Dim(0) != len(labels) || clean.Dim(1) != numClasses) {
		return nil, fmt.Errorf("attacks: clean scores of shape %v for %d labels of %d classes", clean.Shape(), len(labels), numClasses)
	}
	for i, y := range labels {
		if y < 0 || y >= numClasses {
			return nil, fmt.Errorf("attacks: label %d of image %d out of range for %d classes", y, i, numClasses)
		}
	}
	tg, err := t(labels, clean, numClasses)
	if err != nil {
		return nil, err
	}
	if len(tg) != len(labels) {
		return nil, fmt.Errorf("attacks: %d targets for %d images", len(tg), len(labels))
	}
	for i, c := range tg {
		if c < 0 || c >= numClasses {
			return nil, fmt.Errorf("attacks: target %d of image %d out of range for %d classes", c, i, numClasses)
		}
	}
	return tg, nil
}

// TargetLabel targets class c for every image (fastai's
// generate_adv_example(img, target_label=c)).
func TargetLabel(c int) Targets { return TargetLabels(c) }

// TargetLabels targets one class per image, in order; a single class
// applies to every image.
func TargetLabels(ts ...int) Targets {
	ts = slices.Clone(ts)
	return func(labels []int, _ *tensor.Tensor, _ int) (Targeted, error) {
		n := len(labels)
		if len(ts) == 1 {
			t := make(Targeted, n)
			for i := range t {
				t[i] = ts[0]
			}
			return t, nil
		}
		if len(ts) != n {
			return nil, fmt.Errorf("attacks: %d target labels for %d images", len(ts), n)
		}
		return Targeted(slices.Clone(ts)), nil
	}
}

// TargetRandom targets, for each image, a class drawn uniformly from the
// classes other than its label, from a stream seeded by the seed and the
// image's position: the same seed gives the same targets.
func TargetRandom(seed uint64) Targets {
	return func(labels []int, _ *tensor.Tensor, k int) (Targeted, error) {
		t := make(Targeted, len(labels))
		for i, y := range labels {
			g := tensor.NewRNG(IndexSeed(seed, i))
			t[i] = (y + 1 + g.IntN(k-1)) % k
		}
		return t, nil
	}
}

// TargetNextClass targets, for each image, the class after its label,
// modulo the number of classes.
func TargetNextClass() Targets {
	return func(labels []int, _ *tensor.Tensor, k int) (Targeted, error) {
		t := make(Targeted, len(labels))
		for i, y := range labels {
			t[i] = (y + 1) % k
		}
		return t, nil
	}
}

// TargetLeastLikely targets, for each image, the class with the smallest
// clean score (the first, on ties): the least-likely-class target of
// Kurakin et al. NaN scores are skipped (a row of NaNs targets class 0).
// It needs the clean scores.
func TargetLeastLikely() Targets {
	return func(_ []int, clean *tensor.Tensor, _ int) (Targeted, error) {
		if clean == nil {
			return nil, fmt.Errorf("attacks: TargetLeastLikely needs the model's clean scores")
		}
		return extremeOther(clean, nil, true), nil
	}
}

// TargetRunnerUp targets, for each image, the most likely class other than
// its label: the runner-up when the model predicts the label, the nearest
// class in score. It is the easiest target of an image and the one
// minimum-norm attacks usually reach first. Ties go to the lower class; NaN
// scores are skipped (a row of NaNs targets the first class other than its
// label). It needs the clean scores.
func TargetRunnerUp() Targets {
	return func(labels []int, clean *tensor.Tensor, k int) (Targeted, error) {
		if clean == nil {
			return nil, fmt.Errorf("attacks: TargetRunnerUp needs the model's clean scores")
		}
		t := extremeOther(clean, labels, false)
		for i, c := range t {
			if c < 0 {
				t[i] = (labels[i] + 1) % k
			}
		}
		return t, nil
	}
}

// extremeOther returns, for each row of scores [N, C], the class of the
// smallest (least) or largest score other than skip[i] (no class skipped
// when skip is nil), the first on ties, NaN scores skipped; a row with no
// candidate gets -1, or 0 when least.
func extremeOther(scores *tensor.Tensor, skip []int, least bool) Targeted {
	n, c := scores.Dim(0), scores.Dim(1)
	t := make(Targeted, n)
	for i := range t {
		row := scores.Data()[i*c : (i+1)*c]
		best := -1
		for j, v := range row {
			if (skip != nil && j == skip[i]) || math.IsNaN(float64(v)) {
				continue
			}
			if best < 0 || (least && v < row[best]) || (!least && v > row[best]) {
				best = j
			}
		}
		if least {
			best = max(best, 0)
		}
		t[i] = best
	}
	return t
}
