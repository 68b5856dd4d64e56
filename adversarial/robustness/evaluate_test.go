package robustness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/tensor"
)

// quickSuite is StandardSuite with smaller budgets, for the tests.
func quickSuite(eps ...float64) Suite {
	s := StandardSuite(eps...)
	s.Attacks = []SuiteAttack{WhiteBox(attacks.FGSM{}), WhiteBox(attacks.PGD{Steps: 20, RandomStart: true})}
	at := WhiteBox(attacks.APGDT{Steps: 50})
	at.MinClasses = 4
	return s.WithAutoAttack(WhiteBox(attacks.APGD{Steps: 50}), at, BlackBox(attacks.Square{Queries: 500}, attacks.ScoreAccess, 500))
}

func TestEvaluateLinearKnownOutcome(t *testing.T) {
	m := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(m, 60, 2)
	eps := []float64{0.02, 0.05, 0.1}
	rep, err := Evaluate(context.Background(), m, x, y, quickSuite(eps...))
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Table())
	dist := m.Distances(x, y)
	clean := 0
	for _, v := range dist {
		if v > 0 {
			clean++
		}
	}
	if rep.Correct != clean || math.Abs(rep.CleanAccuracy-float64(clean)/60) > 1e-12 {
		t.Fatalf("clean: %d correct (%.4f), closed form %d", rep.Correct, rep.CleanAccuracy, clean)
	}
	for k, e := range eps {
		wc := rep.WorstCase[k]
		if wc.Eps != e {
			t.Fatalf("worst case %d at eps %v, want %v", k, wc.Eps, e)
		}
		checked := 0
		for i, d := range dist {
			if math.Abs(d-e) < 0.05*e {
				continue // too close to the threshold to call
			}
			checked++
			if want := d > e; wc.Robust[i] != want {
				t.Errorf("eps %v, sample %d at distance %.4f: worst case robust = %v", e, i, d, wc.Robust[i])
			}
		}
		if checked < 40 {
			t.Fatalf("only %d samples away from the threshold at eps %v", checked, e)
		}
	}
	// The weaker attacks are never below the worst case, per sample, and
	// robust accuracy never above the clean one.
	for _, a := range rep.Attacks {
		for _, res := range a.Results {
			if res.RobustAccuracy > rep.CleanAccuracy {
				t.Errorf("%s eps %v: robust %.4f > clean %.4f", a.Name, res.Eps, res.RobustAccuracy, rep.CleanAccuracy)
			}
			w, ok := rep.WorstAccuracy(res.Eps)
			if !ok {
				t.Fatalf("no worst case at eps %v", res.Eps)
			}
			if w > res.RobustAccuracy {
				t.Errorf("%s eps %v: worst case %.4f above the attack's %.4f", a.Name, res.Eps, w, res.RobustAccuracy)
			}
			for k, wc := range rep.WorstCase {
				if wc.Eps >= res.Eps {
					for i := range wc.Robust {
						if wc.Robust[i] && !res.Robust[i] {
							t.Errorf("worst case at eps %v keeps sample %d that %s at eps %v fooled", rep.WorstCase[k].Eps, i, a.Name, res.Eps)
						}
					}
				}
			}
		}
	}
	for _, c := range rep.AutoAttack {
		if w, _ := rep.WorstAccuracy(c.Eps); w > c.RobustAccuracy {
			t.Errorf("worst case %.4f above the cascade's %.4f at eps %v", w, c.RobustAccuracy, c.Eps)
		}
		for j := 1; j < len(c.Stages); j++ {
			if c.Stages[j].RobustAccuracy > c.Stages[j-1].RobustAccuracy {
				t.Errorf("the cascade's accuracy rose from %s to %s", c.Stages[j-1].Name, c.Stages[j].Name)
			}
		}
	}
	for k := 1; k < len(rep.WorstCase); k++ {
		if rep.WorstCase[k].RobustAccuracy > rep.WorstCase[k-1].RobustAccuracy {
			t.Error("the worst case rose with eps")
		}
	}
	if f := rep.Flags(); len(f) != 0 {
		t.Errorf("a linear model was flagged: %v", f)
	}
	if len(rep.Checks) != 6 {
		t.Errorf("%d checks ran, want all 6: %v", len(rep.Checks), rep.Checks)
	}
	if rep.Unbounded == nil || rep.Unbounded.SuccessRate != 1 || rep.Gradients == nil || rep.Gradients.Zero != 0 {
		t.Errorf("unbounded %+v, gradients %+v", rep.Unbounded, rep.Gradients)
	}
	if len(rep.Examples) == 0 {
		t.Error("no examples kept")
	}
	for _, ex := range rep.Examples {
		if ex.AdvPred == ex.Label || ex.CleanPred != ex.Label {
			t.Errorf("example %+v is not a correct sample turned adversarial", ex)
		}
		if d := attacks.Linf.Distance(ex.Clean.Data(), ex.Adv.Data()); d > ex.Eps+1e-6 {
			t.Errorf("example %d at distance %v > eps %v", ex.Index, d, ex.Eps)
		}
	}
}

// TestEvaluateMaskedModel evaluates a model that rounds its input to {0,1}
// (zero gradients everywhere): white-box attacks cannot move, so the
// zero-gradient and unbounded checks must be flagged, and Square, which
// needs no gradient, must beat the white-box attacks.
func TestEvaluateMaskedModel(t *testing.T) {
	m := testmodels.NewLinear4(3, true)
	x, y := testmodels.EvalData(m, 60, 4)
	rep, err := Evaluate(context.Background(), m, x, y, quickSuite(0.1, 0.25))
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Table())
	for _, name := range []string{CheckGradients, CheckUnbounded, CheckBlackBox} {
		if !rep.Flagged(name) {
			t.Errorf("check %q not flagged on a step-function model", name)
		}
	}
	if rep.Gradients.Zero != rep.Correct {
		t.Errorf("%d of %d gradients zero", rep.Gradients.Zero, rep.Correct)
	}
	if rep.Unbounded.Succeeded != 0 {
		t.Errorf("the unbounded attack fooled %d samples of a zero-gradient model", rep.Unbounded.Succeeded)
	}
	// FGSM starts from the input: it cannot move. (PGD's random start
	// lands in other cells of the step function and fools some samples by
	// luck: random search, not gradients.)
	for _, res := range rep.Attacks[0].Results {
		if res.RobustAccuracy != rep.CleanAccuracy {
			t.Errorf("FGSM at eps %v moved a zero-gradient model: %.4f", res.Eps, res.RobustAccuracy)
		}
	}
	if w, _ := rep.WorstAccuracy(0.25); w >= rep.CleanAccuracy {
		t.Errorf("Square did not lower the worst case (%.4f, clean %.4f)", w, rep.CleanAccuracy)
	}
	if !strings.Contains(rep.Table(), "FLAGGED") || !strings.Contains(rep.Markdown(), "**FLAGGED**") {
		t.Error("the flags are not in the table and the Markdown")
	}
}

// idleAttack is a fake iterative attack that returns its input.
type idleAttack struct{}

func (idleAttack) Name() string { return "idle" }
func (idleAttack) Perturb(_ context.Context, _ *attacks.Model, x *tensor.Tensor, _ attacks.Criterion, _ attacks.ThreatModel) (*tensor.Tensor, error) {
	return x.Clone(), nil
}

// fadingAttack is FGSM below eps 0.15 and nothing above: its accuracy
// rises with eps.
type fadingAttack struct{}

func (fadingAttack) Name() string { return "fading" }
func (fadingAttack) Perturb(ctx context.Context, m *attacks.Model, x *tensor.Tensor, c attacks.Criterion, tm attacks.ThreatModel) (*tensor.Tensor, error) {
	if tm.Eps < 0.15 {
		return attacks.FGSM{}.Perturb(ctx, m, x, c, tm)
	}
	return x.Clone(), nil
}

func TestEvaluateChecksFire(t *testing.T) {
	m := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(m, 40, 5)
	s := NewSuite(attacks.ThreatModel{Norm: attacks.Linf}, 0.1, 0.2).With(WhiteBox(attacks.FGSM{}), WhiteBox(idleAttack{}), WhiteBox(fadingAttack{}))
	rep, err := Evaluate(context.Background(), m, x, y, s)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Flagged(CheckOneStep) {
		t.Errorf("FGSM beating an idle iterative attack not flagged: %v", rep.Checks)
	}
	if !rep.Flagged(CheckEpsMonotone) {
		t.Errorf("an attack whose accuracy rises with eps not flagged: %v", rep.Checks)
	}
	for _, c := range rep.Checks {
		if c.Name == CheckBlackBox || c.Name == CheckUnbounded || c.Name == CheckGradients {
			t.Errorf("check %q ran without its attacks", c.Name)
		}
	}
	t.Log("\n" + rep.Table())
}

func TestEvaluateBatchSizeDoesNotMatter(t *testing.T) {
	m := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(m, 30, 6)
	var js [][]byte
	for _, bs := range []int{0, 7} {
		s := quickSuite(0.05, 0.1)
		s.BatchSize = bs
		rep, err := Evaluate(context.Background(), m, x, y, s)
		if err != nil {
			t.Fatal(err)
		}
		zeroTimes(rep)
		b, _ := json.Marshal(rep)
		js = append(js, b)
	}
	if !bytes.Equal(js[0], js[1]) {
		t.Error("the report depends on the batch size")
	}
}

// zeroTimes clears the wall times of a report.
func zeroTimes(r *Report) {
	r.Seconds = 0
	for k := range r.Attacks {
		r.Attacks[k].Seconds = 0
	}
	for k := range r.AutoAttack {
		for j := range r.AutoAttack[k].Stages {
			r.AutoAttack[k].Stages[j].Seconds = 0
		}
	}
	if oc := r.Outcomes; oc != nil {
		for _, g := range [][]EntryOutcomes{oc.Attacks, oc.Cascade} {
			for k := range g {
				g[k].Seconds = 0
				for j := range g[k].Eps {
					g[k].Eps[j].Seconds = 0
				}
			}
		}
		if oc.Unbounded != nil {
			oc.Unbounded.Seconds, oc.Unbounded.Eps[0].Seconds = 0, 0
		}
	}
}

func TestEvaluateBlackBoxOnly(t *testing.T) {
	m := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(m, 20, 7)
	predictFn := func(x *tensor.Tensor) ([][]float32, error) {
		var out [][]float32
		err := attacks.WithAttackMode(m, func(mm *attacks.Model) error {
			s, err := mm.Outputs(x)
			for i := 0; err == nil && i < s.Dim(0); i++ {
				out = append(out, slices.Clone(batch.Row(s.Data(), i, s.Dim(1))))
			}
			return err
		})
		return out, err
	}
	if _, err := EvaluateBlackBox(context.Background(), predictFn, x, y, quickSuite(0.1)); err == nil {
		t.Fatal("white-box attacks accepted without the model")
	}
	s := quickSuite(0.1).BlackBoxOnly().With(BlackBox(attacks.HopSkipJump{Queries: 300}, attacks.LabelAccess, 300))
	rep, err := EvaluateBlackBox(context.Background(), predictFn, x, y, s)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Evaluate(context.Background(), m, x, y, s)
	if err != nil {
		t.Fatal(err)
	}
	zeroTimes(rep)
	zeroTimes(ref)
	if rep.Manifest.Weights != "" || ref.Manifest.Weights != HashWeights(m) {
		t.Errorf("weights hashes %q (prediction function) and %q (module)", rep.Manifest.Weights, ref.Manifest.Weights)
	}
	rep.Manifest.Weights, ref.Manifest.Weights = "", ""
	a, _ := json.Marshal(rep)
	b, _ := json.Marshal(ref)
	if !bytes.Equal(a, b) {
		t.Error("a prediction function and the module give different reports")
	}
	if len(rep.AutoAttack) != 1 || len(rep.AutoAttack[0].Stages) != 1 || rep.AutoAttack[0].Stages[0].TotalQueries == 0 {
		t.Errorf("cascade %+v", rep.AutoAttack)
	}
	if rep.Attacks[0].Results[0].TotalQueries == 0 || rep.Attacks[0].Results[0].TotalQueries > 300*rep.Correct {
		t.Errorf("HSJ queries %d for %d samples", rep.Attacks[0].Results[0].TotalQueries, rep.Correct)
	}
}

func TestEvaluateCancelled(t *testing.T) {
	m := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(m, 10, 8)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Evaluate(ctx, m, x, y, quickSuite(0.1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestEvaluateRejects(t *testing.T) {
	m := testmodels.NewLinear4(1, false)
	x, y := testmodels.EvalData(m, 4, 9)
	good := quickSuite(0.1)
	for _, c := range []struct {
		name   string
		s      Suite
		x      *tensor.Tensor
		labels []int
	}{
		{"infinite eps", NewSuite(attacks.ThreatModel{}, math.Inf(1)).With(WhiteBox(attacks.FGSM{})), x, y},
		{"negative eps", NewSuite(attacks.ThreatModel{}, -0.1).With(WhiteBox(attacks.FGSM{})), x, y},
		{"no eps", NewSuite(attacks.ThreatModel{}).With(WhiteBox(attacks.FGSM{})), x, y},
		{"both attacks", NewSuite(attacks.ThreatModel{}, 0.1).With(SuiteAttack{Attack: attacks.FGSM{}, BlackBox: attacks.Square{}}), x, y},
		{"no attack", NewSuite(attacks.ThreatModel{}, 0.1).With(SuiteAttack{}), x, y},
		{"same name", NewSuite(attacks.ThreatModel{}, 0.1).With(WhiteBox(attacks.FGSM{}), WhiteBox(attacks.FGSM{})), x, y},
		{"labels", good, x, y[:3]},
		{"label range", good, x, []int{0, 1, 2, 9}},
		{"outside the box", good, tensor.Full[float32](2, 4, 1, 4, 4), y},
		{"bad norm", NewSuite(attacks.ThreatModel{Norm: attacks.Norm(7)}, 0.1), x, y},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Evaluate(context.Background(), m, c.x, c.labels, c.s)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
		})
	}
}

func TestEvaluateSkipsAPGDTBelowFourClasses(t *testing.T) {
	m := testmodels.NewTinyCNN(2) // 3 classes
	x := testmodels.Images(8, 1)
	rep, err := Evaluate(context.Background(), m, x, testmodels.Predict(m, x), quickSuite(0.1))
	if err != nil {
		t.Fatal(err)
	}
	st := rep.AutoAttack[0].Stages[1]
	if st.Name != "APGD-T" || st.Skipped == "" || st.Attacked != 0 {
		t.Errorf("stage %+v", st)
	}
	if !strings.Contains(rep.Table(), "skipped") {
		t.Error("the skip is not in the table")
	}
}

func TestStandardSuites(t *testing.T) {
	names := func(as []SuiteAttack) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.DisplayName())
		}
		return out
	}
	for _, c := range []struct {
		name          string
		s             Suite
		attacks, auto []string
		unbounded     string
	}{
		{"standard", StandardSuite(), []string{"FGSM", "PGD-20"}, []string{"APGD-CE", "APGD-T", "FAB-T", "Square-5000"}, "PGD-50-unbounded"},
		{"standard/L2", StandardSuiteFor(attacks.ThreatModel{Norm: attacks.L2}, 1), []string{"FGM", "PGD-20"}, []string{"APGD-CE", "APGD-T", "FAB-T", "Square-5000"}, "PGD-50-unbounded"},
		{"standard/L1", StandardSuiteFor(attacks.ThreatModel{Norm: attacks.L1}, 5), []string{"PGD-20"}, []string{"APGD-CE", "APGD-T", "FAB-T"}, "PGD-50-unbounded"},
		{"fast", FastSuite(0.1), []string{"FGSM", "PGD-10"}, []string{"APGD-CE", "APGD-T", "Square-1000"}, "PGD-25-unbounded"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := names(c.s.Attacks); !slices.Equal(got, c.attacks) {
				t.Errorf("attacks %v, want %v", got, c.attacks)
			}
			if got := names(c.s.AutoAttack); !slices.Equal(got, c.auto) {
				t.Errorf("cascade %v, want %v", got, c.auto)
			}
			if c.s.Unbounded == nil || c.s.Unbounded.Name() != c.unbounded || !c.s.GradientCheck {
				t.Errorf("checks: unbounded %v, gradients %v", c.s.Unbounded, c.s.GradientCheck)
			}
			if _, err := c.s.validate(); err != nil {
				t.Error(err)
			}
		})
	}
	if s := StandardSuite(); !slices.Equal(s.Eps, []float64{attacks.DefaultEps}) {
		t.Errorf("StandardSuite() at eps %v", s.Eps)
	}
	if s := StandardSuite().BlackBoxOnly(); len(s.Attacks) != 0 || len(s.AutoAttack) != 1 || s.Unbounded != nil || s.GradientCheck {
		t.Errorf("BlackBoxOnly: %+v", s)
	}
}
