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
	ctx := context.Background()
	adv, x := tinyLearner(3)
	img := x.Narrow0(0, 1).Reshape(1, 6, 6)
	orig := img.Clone()
	clean, err := adv.Predict(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("untargeted single image", func(t *testing.T) {
		a, err := adv.GenerateAdvExample(ctx, img, attacks.Eps(0.5))
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
		a, err := adv.GenerateAdvExample(ctx, img, attacks.TargetLabel(target), attacks.Eps(0.6))
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
		for _, o := range []attacks.Option{attacks.TargetLabel(2), attacks.TargetLabels(make([]int, 16)...), attacks.TargetLeastLikely(), attacks.TargetRandom(4), attacks.TargetNextClass(), attacks.TrueLabels(make([]int, 16)...)} {
			r, err := adv.AttackBatch(ctx, x, o, attacks.Eps(0.6))
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
		r, err := adv.AttackBatch(ctx, x, attacks.Using(attacks.FGM{}), attacks.Within(attacks.ThreatModel{Norm: attacks.L2, Eps: 0.7}))
		if err != nil {
			t.Fatal(err)
		}
		if r.Attack != "FGM" || r.Threat.Norm != attacks.L2 || r.Eps != 0.7 {
			t.Errorf("ran %s with %v", r.Attack, r.Threat)
		}
		own := NewLearner(adv.Learner, attacks.Using(attacks.BIM{Steps: 3}), attacks.Within(attacks.ThreatModel{Norm: attacks.Linf, Eps: 0.2}))
		r, err = own.AttackBatch(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		if r.Attack != "BIM-3" || r.Eps != 0.2 {
			t.Errorf("ran %s with %v", r.Attack, r.Threat)
		}
		r, err = own.AttackBatch(ctx, x, attacks.Eps(0.3))
		if err != nil {
			t.Fatal(err)
		}
		if r.Attack != "BIM-3" || r.Eps != 0.3 {
			t.Errorf("the call's eps: ran %s with %v", r.Attack, r.Threat)
		}
	})
}

// TestGenerateAdvExampleRejects: bad images, labels and targets are errors,
// and a cancelled context stops the attack.
func TestGenerateAdvExampleRejects(t *testing.T) {
	ctx := context.Background()
	adv, x := tinyLearner(3)
	img := x.Narrow0(0, 1).Reshape(1, 6, 6)
	for name, f := range map[string]func() error{
		"rank 2":        func() error { _, err := adv.GenerateAdvExample(ctx, tensor.Zeros(6, 6)); return err },
		"out of range":  func() error { _, err := adv.GenerateAdvExample(ctx, tensor.Full[float32](2, 1, 6, 6)); return err },
		"target range":  func() error { _, err := adv.GenerateAdvExample(ctx, img, attacks.TargetLabel(9)); return err },
		"labels length": func() error { _, err := adv.GenerateAdvExample(ctx, img, attacks.TrueLabels(1, 2)); return err },
		"targets len":   func() error { _, err := adv.GenerateAdvExample(ctx, x, attacks.TargetLabels(1, 2)); return err },
		"nil":           func() error { _, err := adv.GenerateAdvExample(ctx, nil); return err },
		"predict rank":  func() error { _, err := adv.PredictBatch(img); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := adv.GenerateAdvExample(cctx, img); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
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
	rep, err := adv.EvaluateRobustness(context.Background(), WithSuite(s), Samples(20))
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
	// The default: StandardSuiteFor at the learner's threat model.
	for _, c := range []struct {
		adv   *AdversarialLearner
		eps   float64
		first string
	}{
		{adv, attacks.DefaultEps, "FGSM"},
		{NewLearner(adv.Learner, attacks.Within(attacks.ThreatModel{Norm: attacks.L2, Eps: 0.5})), 0.5, "FGM"},
	} {
		rep, err := c.adv.EvaluateRobustness(context.Background(), Samples(8))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Samples != 8 || !slices.Equal(rep.Eps, []float64{c.eps}) || rep.Attacks[0].Name != c.first || rep.Attacks[1].Name != "PGD-20" || len(rep.AutoAttack) != 1 {
			t.Errorf("default suite: %d samples, eps %v, attacks %v", rep.Samples, rep.Eps, rep.Attacks)
		}
	}
	if _, err := adv.EvaluateRobustness(context.Background(), Samples(0)); err == nil {
		t.Error("Samples(0) accepted")
	}
}
