package adversarial

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// tinyLearner returns an AdversarialLearner over the tiny CNN with a few
// images as data.
func tinyLearner(seed uint64) (*AdversarialLearner, *tensor.Tensor) {
	x := testmodels.Images(16, seed)
	m := testmodels.NewTinyCNN(seed)
	labels := testmodels.Predict(m, x)
	data := &data.SliceData{
		Train: &data.SliceLoader{X: x, Y: labels, BatchSize: 8},
		Valid: &data.SliceLoader{X: x, Y: labels, BatchSize: 8},
		Vocab: []string{"a", "b", "c"},
	}
	return NewLearner(learner.New(data, m)), x
}

func TestGenerateAdvExample(t *testing.T) {
	adv, x := tinyLearner(3)
	img := x.Narrow0(0, 1).Reshape(1, 6, 6)
	orig := img.Clone()
	clean, err := adv.Predict(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("untargeted single image", func(t *testing.T) {
		a, err := adv.GenerateAdvExample(img, WithEps(0.5))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.Shape(), img.Shape()) {
			t.Fatalf("shape %v for an image of shape %v", a.Shape(), img.Shape())
		}
		if !slices.Equal(img.Data(), orig.Data()) {
			t.Fatal("the image was modified")
		}
		p, err := adv.Predict(a)
		if err != nil {
			t.Fatal(err)
		}
		if p.Index == clean.Index {
			t.Errorf("prediction still %s after the attack", p.Class)
		}
		if d := attacks.Linf.Distance(img.Data(), a.Data()); d > 0.5 {
			t.Errorf("perturbation %v > 0.5", d)
		}
	})
	t.Run("targeted", func(t *testing.T) {
		target := (clean.Index + 1) % 3
		a, err := adv.GenerateAdvExample(img, TargetLabel(target), WithEps(0.6))
		if err != nil {
			t.Fatal(err)
		}
		p, err := adv.Predict(a)
		if err != nil {
			t.Fatal(err)
		}
		if p.Index != target {
			t.Errorf("predicted %d, target %d", p.Index, target)
		}
	})
	t.Run("batch with every target option", func(t *testing.T) {
		for _, o := range []GenOption{TargetLabel(2), TargetLabels(make([]int, 16)...), TargetLeastLikely(), TargetRandom(4), TargetNextClass(), TrueLabels(make([]int, 16)...)} {
			r, err := adv.AttackBatch(x, o, WithEps(0.6))
			if err != nil {
				t.Fatal(err)
			}
			if r.Len() != 16 || testmodels.Count(r.Success) == 0 {
				t.Errorf("%v: %d of %d successes", r.Criterion, testmodels.Count(r.Success), r.Len())
			}
			if _, ok := r.Criterion.(attacks.Untargeted); ok {
				if !slices.Equal(r.Criterion.Classes(), make([]int, 16)) {
					t.Error("TrueLabels ignored")
				}
				continue
			}
			for i, tg := range r.Criterion.Classes() {
				if tg == testmodels.Predict(adv.Model, x.Narrow0(i, 1))[0] && r.Criterion.(attacks.Targeted)[i] != 0 && tg != 2 {
					t.Errorf("sample %d targets its own prediction %d", i, tg)
				}
			}
		}
		preds, err := adv.PredictBatch(x)
		if err != nil || len(preds) != 16 {
			t.Fatalf("PredictBatch: %v, %d predictions", err, len(preds))
		}
	})
	t.Run("options replace the attack and threat", func(t *testing.T) {
		r, err := adv.AttackBatch(x, WithAttack(attacks.FGM{}), WithThreat(attacks.ThreatModel{Norm: attacks.L2, Eps: 0.7}))
		if err != nil {
			t.Fatal(err)
		}
		if r.Attack != "FGM" || r.Threat.Norm != attacks.L2 || r.Eps != 0.7 {
			t.Errorf("ran %s with %v", r.Attack, r.Threat)
		}
		adv.Attack = attacks.BIM{Steps: 3}
		adv.Threat = attacks.ThreatModel{Norm: attacks.Linf, Eps: 0.2}
		r, err = adv.AttackBatch(x)
		if err != nil {
			t.Fatal(err)
		}
		if r.Attack != "BIM-3" || r.Eps != 0.2 {
			t.Errorf("ran %s with %v", r.Attack, r.Threat)
		}
		adv.Attack, adv.Threat = attacks.DefaultAttack(), attacks.DefaultThreat()
	})
	t.Run("bad input", func(t *testing.T) {
		for name, f := range map[string]func() error{
			"rank 2":        func() error { _, err := adv.GenerateAdvExample(tensor.Zeros(6, 6)); return err },
			"out of range":  func() error { _, err := adv.GenerateAdvExample(tensor.Full[float32](2, 1, 6, 6)); return err },
			"target range":  func() error { _, err := adv.GenerateAdvExample(img, TargetLabel(9)); return err },
			"labels length": func() error { _, err := adv.GenerateAdvExample(img, TrueLabels(1, 2)); return err },
			"targets len":   func() error { _, err := adv.GenerateAdvExample(x, TargetLabels(1, 2)); return err },
			"nil":           func() error { _, err := adv.GenerateAdvExample(nil); return err },
			"predict rank":  func() error { _, err := adv.PredictBatch(img); return err },
		} {
			if err := f(); err == nil {
				t.Errorf("%s: no error", name)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := adv.GenerateAdvExample(img, WithContext(ctx)); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled context: %v", err)
		}
	})
}

// TestLearnerStillLearns checks that the embedded Learner works as before
// through the AdversarialLearner.
func TestLearnerStillLearns(t *testing.T) {
	adv, _ := tinyLearner(5)
	before, err := adv.Validate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := adv.Fit(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	after, err := adv.Validate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if after[0] >= before[0] {
		t.Errorf("loss %v -> %v", before[0], after[0])
	}
}

// TestTargetRunnerUpOption: the learner option targets the runner-up of
// the true labels (or of the predictions without them).
func TestTargetRunnerUpOption(t *testing.T) {
	adv := NewLearner(testmodels.SynthLearner(1))
	x, y := testmodels.SynthData(8, 5)
	var out *tensor.Tensor
	if err := attacks.WithAttackMode(adv.Model, func(m *attacks.Model) error {
		var err error
		out, err = m.Outputs(x)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, labels := range [][]int{y, nil} {
		opts := []GenOption{TargetRunnerUp(), WithAttack(attacks.PGD{Steps: 2})}
		if labels != nil {
			opts = append(opts, TrueLabels(labels...))
		}
		r, err := adv.AttackBatch(x, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if want := attacks.RunnerUpTargets(out, labels); !slices.Equal(r.Criterion.Classes(), want) {
			t.Errorf("labels %v: targets %v, want %v", labels, r.Criterion.Classes(), want)
		}
	}
}

func TestLearnerEvaluateRobustness(t *testing.T) {
	m := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(m, 50, 10)
	data := &data.SliceData{
		Train: &data.SliceLoader{X: x, Y: y, BatchSize: 16},
		Valid: &data.SliceLoader{X: x, Y: y, BatchSize: 16},
		Vocab: []string{"a", "b", "c", "d"},
	}
	adv := NewLearner(learner.New(data, m))
	s := robustness.FastSuite(0.1)
	s.Samples = 20
	rep, err := adv.EvaluateRobustness(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Samples != 20 || !slices.Equal(rep.Classes, data.Vocab) || !slices.Equal(rep.Labels, y[:20]) {
		t.Errorf("samples %d, classes %v, labels %v", rep.Samples, rep.Classes, rep.Labels)
	}
	direct, err := robustness.Evaluate(context.Background(), m, x.Narrow0(0, 20), y[:20], s)
	if err != nil {
		t.Fatal(err)
	}
	if direct.WorstCase[0].RobustAccuracy != rep.WorstCase[0].RobustAccuracy {
		t.Error("the learner's evaluation differs from the direct one")
	}
}
