package attacks

import (
	"math"
	"slices"
	"testing"

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
