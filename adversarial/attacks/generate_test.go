package attacks

import (
	"context"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
)

// TestGenerateOptions: without options Generate runs DefaultAttack within
// DefaultThreat, untargeted, away from the model's predictions; the
// options replace each setting, later ones winning, and Eps applies to
// whichever threat model is in force.
func TestGenerateOptions(t *testing.T) {
	ctx := context.Background()
	m := testmodels.NewTinyCNN(2)
	x := testmodels.Images(6, 1)
	r, err := Generate(ctx, m, x)
	if err != nil {
		t.Fatal(err)
	}
	if r.Attack != DefaultAttack().Name() || r.Threat != DefaultThreat() {
		t.Errorf("defaults: ran %s within %v", r.Attack, r.Threat)
	}
	if u, ok := r.Criterion.(Untargeted); !ok || !slices.Equal(u, testmodels.Predict(m, x)) {
		t.Errorf("default criterion %v, want the predictions", r.Criterion)
	}
	l2 := ThreatModel{Norm: L2, Eps: 1}
	for _, c := range []struct {
		opts   []Option
		attack string
		threat ThreatModel
	}{
		{[]Option{Using(FGM{}), Within(l2)}, "FGM", l2},
		{[]Option{Eps(0.3), Within(l2), Using(FGSM{}), Using(FGM{})}, "FGM", l2.WithEps(0.3)},
		{[]Option{Within(l2), Eps(0.2), Eps(0.4)}, "PGD-20", l2.WithEps(0.4)},
	} {
		a, tm := Configured(c.opts...)
		if a.Name() != c.attack || tm != c.threat {
			t.Errorf("%v: configured %s within %v, want %s within %v", c.opts, a.Name(), tm, c.attack, c.threat)
		}
		r, err := Generate(ctx, m, x, c.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if r.Attack != c.attack || r.Threat != c.threat {
			t.Errorf("%v: ran %s within %v", c.opts, r.Attack, r.Threat)
		}
	}
	labels := []int{0, 1, 2, 0, 1, 2}
	r, err = Generate(ctx, m, x, TrueLabels(labels...), TargetNextClass())
	if err != nil {
		t.Fatal(err)
	}
	if tg, ok := r.Criterion.(Targeted); !ok || !slices.Equal(tg, Targeted{1, 2, 0, 1, 2, 0}) {
		t.Errorf("targets of the true labels: %v", r.Criterion)
	}
}

// TestGenerateTargetRunnerUp: Generate with TargetRunnerUp targets the
// runner-up of the true labels (or of the predictions without them).
func TestGenerateTargetRunnerUp(t *testing.T) {
	m := testmodels.NewSmallNet(1, testmodels.SynthClasses)
	x, y := testmodels.SynthData(8, 5)
	out, err := Outputs(m, x)
	if err != nil {
		t.Fatal(err)
	}
	for _, labels := range [][]int{y, nil} {
		opts := []Option{TargetRunnerUp(), Using(PGD{Steps: 2})}
		if labels != nil {
			opts = append(opts, TrueLabels(labels...))
		}
		r, err := Generate(context.Background(), m, x, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ys := labels
		if ys == nil {
			ys = Predictions(out)
		}
		if want := targetsFor(t, TargetRunnerUp(), ys, out, testmodels.SynthClasses); !slices.Equal(r.Criterion.Classes(), want) {
			t.Errorf("labels %v: targets %v, want %v", labels, r.Criterion.Classes(), want)
		}
	}
}
