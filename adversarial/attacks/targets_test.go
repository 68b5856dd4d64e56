package attacks

import (
	"math"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

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
