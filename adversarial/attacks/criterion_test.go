package attacks

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/tensor"
)

func TestCriteria(t *testing.T) {
	nan := float32(math.NaN())
	out := tensor.FromSlice([]float32{
		3, 1, 0, // top 0
		0, 2, 2, // tie between 1 and 2: the first wins
		nan, 5, 0, // NaN: never adversarial
		-1, -2, -0.5, // top 2
	}, 4, 3)
	if got := Predictions(out); !slices.Equal(got, []int{0, 1, -1, 2}) {
		t.Fatalf("Predictions = %v", got)
	}
	cases := []struct {
		name string
		c    Criterion
		want []bool
	}{
		{"untargeted", Untargeted{0, 2, 1, 1}, []bool{false, true, false, true}},
		{"targeted", Targeted{1, 1, 1, 2}, []bool{false, true, false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.c.IsAdversarial(out); !slices.Equal(got, c.want) {
				t.Errorf("IsAdversarial = %v, want %v", got, c.want)
			}
			if got := c.c.IsAdversarialClass(Predictions(out)); !slices.Equal(got, c.want) {
				t.Errorf("IsAdversarialClass = %v, want %v", got, c.want)
			}
			// Margins are positive where adversarial (no ties here but row 1).
			mg := Margins(out, c.c)
			for i, v := range mg {
				if i == 1 {
					continue
				}
				if (v > 0) != c.want[i] {
					t.Errorf("row %d: margin %v but adversarial %v", i, v, c.want[i])
				}
			}
			if !math.IsInf(mg[2], -1) {
				t.Errorf("NaN row margin %v, want -Inf", mg[2])
			}
			sel := c.c.Select([]int{3, 1})
			if got := sel.Classes(); !slices.Equal(got, []int{c.c.Classes()[3], c.c.Classes()[1]}) {
				t.Errorf("Select = %v", got)
			}
		})
	}
	// Margin values.
	mg := Margins(tensor.FromSlice([]float32{3, 1, 0}, 1, 3), Untargeted{0})
	if mg[0] != -2 {
		t.Errorf("untargeted margin %v, want -2", mg[0])
	}
	mg = Margins(tensor.FromSlice([]float32{3, 1, 0}, 1, 3), Targeted{2})
	if mg[0] != -3 {
		t.Errorf("targeted margin %v, want -3", mg[0])
	}
}

func TestCriteriaPanicOnMisuse(t *testing.T) {
	out := tensor.Zeros(2, 3)
	for name, f := range map[string]func(){
		"unresolved":  func() { Untargeted(nil).IsAdversarial(out) },
		"length":      func() { Untargeted{0}.IsAdversarial(out) },
		"class range": func() { Targeted{0, 3}.IsAdversarial(out) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

func TestResolveCriterion(t *testing.T) {
	c, err := ResolveCriterion(Untargeted(nil), 3, []int{2, 0, 1})
	if err != nil || !slices.Equal(c.Classes(), []int{2, 0, 1}) {
		t.Fatalf("Untargeted(nil) resolved to %v, %v", c, err)
	}
	if _, ok := c.(Untargeted); !ok {
		t.Fatalf("resolved to %T", c)
	}
	for name, f := range map[string]func() (Criterion, error){
		"nil":          func() (Criterion, error) { return ResolveCriterion(nil, 1, nil) },
		"length":       func() (Criterion, error) { return ResolveCriterion(Targeted{1, 2}, 3, nil) },
		"no preds":     func() (Criterion, error) { return ResolveCriterion(Untargeted(nil), 3, nil) },
		"NaN pred":     func() (Criterion, error) { return ResolveCriterion(Untargeted(nil), 1, []int{-1}) },
		"negative":     func() (Criterion, error) { return ResolveCriterion(Untargeted{-3}, 1, nil) },
		"foreign type": func() (Criterion, error) { return ResolveCriterion(otherCriterion{Untargeted{1}}, 1, nil) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// otherCriterion is a Criterion of a type the attacks do not know.
type otherCriterion struct{ Untargeted }

// targetsFor returns rule's targets, failing t on an error.
func targetsFor(t testing.TB, rule Targets, labels []int, clean *tensor.Tensor, k int) Targeted {
	t.Helper()
	tg, err := rule.For(labels, clean, k)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestTargets(t *testing.T) {
	labels := make([]int, 3000)
	for i := range labels {
		labels[i] = i % 4
	}
	t.Run("random", func(t *testing.T) {
		a := targetsFor(t, TargetRandom(7), labels, nil, 4)
		b := targetsFor(t, TargetRandom(7), labels, nil, 4)
		c := targetsFor(t, TargetRandom(8), labels, nil, 4)
		if !slices.Equal(a, b) {
			t.Error("same seed, different targets")
		}
		if slices.Equal(a, c) {
			t.Error("different seeds, same targets")
		}
		hist := map[[2]int]int{}
		for i, y := range labels {
			if a[i] == y || a[i] < 0 || a[i] >= 4 {
				t.Fatalf("sample %d: target %d for label %d", i, a[i], y)
			}
			hist[[2]int{y, a[i]}]++
		}
		// Uniform over the 3 other classes: 250 each, give or take.
		for k, v := range hist {
			if v < 190 || v > 310 {
				t.Errorf("label %d -> target %d drawn %d times of 750", k[0], k[1], v)
			}
		}
	})
	t.Run("next", func(t *testing.T) {
		if got := targetsFor(t, TargetNextClass(), []int{0, 2, 3}, nil, 4); !slices.Equal(got, Targeted{1, 3, 0}) {
			t.Errorf("got %v", got)
		}
	})
	t.Run("class", func(t *testing.T) {
		if got := targetsFor(t, TargetLabel(3), []int{0, 1}, nil, 4); !slices.Equal(got, Targeted{3, 3}) {
			t.Errorf("got %v", got)
		}
		if got := targetsFor(t, TargetLabels(3, 0), []int{0, 1}, nil, 4); !slices.Equal(got, Targeted{3, 0}) {
			t.Errorf("got %v", got)
		}
	})
	t.Run("least likely", func(t *testing.T) {
		out := tensor.FromSlice([]float32{3, -1, 0, 2, 2, 5, -4, -4}, 2, 4)
		if got := targetsFor(t, TargetLeastLikely(), []int{0, 1}, out, 4); !slices.Equal(got, Targeted{1, 2}) {
			t.Errorf("got %v", got)
		}
	})
	t.Run("rejected", func(t *testing.T) {
		for name, f := range map[string]func() (Targeted, error){
			"random C=1":   func() (Targeted, error) { return TargetRandom(0).For([]int{0}, nil, 1) },
			"label range":  func() (Targeted, error) { return TargetNextClass().For([]int{4}, nil, 3) },
			"least likely": func() (Targeted, error) { return TargetLeastLikely().For([]int{0, 0}, tensor.Zeros(2, 1), 1) },
			"no scores":    func() (Targeted, error) { return TargetRunnerUp().For([]int{0}, nil, 3) },
			"scores shape": func() (Targeted, error) { return TargetLeastLikely().For([]int{0}, tensor.Zeros(2, 3), 3) },
			"labels count": func() (Targeted, error) { return TargetLabels(1, 2).For([]int{0, 0, 0}, nil, 3) },
			"target range": func() (Targeted, error) { return TargetLabel(3).For([]int{0}, nil, 3) },
			"negative":     func() (Targeted, error) { return TargetLabel(-1).For([]int{0}, nil, 3) },
			"nil rule":     func() (Targeted, error) { return Targets(nil).For([]int{0}, nil, 3) },
		} {
			if _, err := f(); err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})
}

func TestSampleSeed(t *testing.T) {
	a := []float32{0.1, 0.2, 0.3}
	b := []float32{0.1, 0.2, math.Nextafter32(0.3, 1)}
	if SampleSeed(1, a) == SampleSeed(1, b) {
		t.Error("nearby images share a seed")
	}
	if SampleSeed(1, a) == SampleSeed(2, a) {
		t.Error("seeds 1 and 2 give the same stream")
	}
	if SampleSeed(1, a) != SampleSeed(1, slices.Clone(a)) {
		t.Error("the same image gets different seeds")
	}
}

// TestRunnerUpTargets checks the runner-up targets of labels, of
// predictions and of NaN rows.
func TestRunnerUpTargets(t *testing.T) {
	out := tensor.FromSlice([]float32{
		0.1, 0.7, 0.2, // label 1: runner-up 2
		0.5, 0.5, 0.0, // label 0: tie with 1 -> 1
		0.3, 0.6, 0.1, // label 2 (misclassified): most likely other = 1
	}, 3, 3)
	if got := targetsFor(t, TargetRunnerUp(), []int{1, 0, 2}, out, 3); !slices.Equal(got, Targeted{2, 1, 1}) {
		t.Errorf("targets %v, want [2 1 1]", got)
	}
	// The predictions as labels (1, 0, 1): the runner-up of each prediction.
	if got := targetsFor(t, TargetRunnerUp(), Predictions(out), out, 3); !slices.Equal(got, Targeted{2, 1, 0}) {
		t.Errorf("targets of predictions %v, want [2 1 0]", got)
	}
	nan := float32(math.NaN())
	if got := targetsFor(t, TargetRunnerUp(), []int{1}, tensor.FromSlice([]float32{nan, 1, nan}, 1, 3), 3); !slices.Equal(got, Targeted{2}) {
		t.Errorf("NaN row targets %v, want [2]", got)
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
