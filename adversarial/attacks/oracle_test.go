package attacks

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// randomSearch is a minimal black-box attack for the tests: it queries
// random corners of the L-inf ball, all samples at once, keeping each
// sample's first adversarial, until every sample is fooled or out of
// queries. With greedy set, it then asks one query too many to check that
// the oracle refuses it.
type randomSearch struct {
	seed   uint64
	greedy bool
}

func (randomSearch) Name() string { return "random-search" }

func (a randomSearch) PerturbBlackBox(ctx context.Context, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	n := x.Dim(0)
	d := x.Len() / n
	best := x.Clone()
	done := make([]bool, n)
	rngs := SampleRNGs(a.seed, x)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var idx []int
		for i := 0; i < n; i++ {
			if !done[i] && o.Remaining(i) > 0 {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			break
		}
		q := batch.Select(x, idx)
		for k, i := range idx {
			row := q.Data()[k*d : (k+1)*d]
			for j := range row {
				if rngs[i].Float64() < 0.5 {
					row[j] += float32(tm.Eps)
				} else {
					row[j] -= float32(tm.Eps)
				}
			}
		}
		tm.Project(batch.Select(x, idx), q)
		var adv []bool
		if o.Access() == ScoreAccess {
			s, err := o.Scores(idx, q)
			if err != nil {
				return nil, err
			}
			adv = c.Select(idx).IsAdversarial(s)
		} else {
			p, err := o.Labels(idx, q)
			if err != nil {
				return nil, err
			}
			adv = c.Select(idx).IsAdversarialClass(p)
		}
		for k, i := range idx {
			if adv[k] {
				done[i] = true
				copy(best.Data()[i*d:(i+1)*d], q.Data()[k*d:(k+1)*d])
			}
		}
	}
	if a.greedy {
		for i := 0; i < n; i++ {
			if o.Remaining(i) == 0 {
				_, err := o.Labels([]int{i}, x.Narrow0(i, 1))
				if !errors.Is(err, fastgo.ErrBudget) {
					return nil, errors.New("the oracle answered past the budget")
				}
				break
			}
		}
	}
	return best, nil
}

func TestOracleBudget(t *testing.T) {
	m := testmodels.NewTinyCNN(4)
	x := testmodels.Images(12, 2)
	labels := testmodels.Predict(m, x)
	tm := ThreatModel{Norm: Linf, Eps: 0.3}
	for _, c := range []struct {
		name   string
		o      *Oracle
		crit   Criterion
		budget int
		clean  int // queries spent on the clean prediction
	}{
		{"scores", NewScoreOracle(m, 7), Untargeted(labels), 7, 0},
		{"labels", NewLabelOracle(m, 7), Untargeted(labels), 7, 0},
		{"scores/predictions", NewScoreOracle(m, 7), Untargeted(nil), 7, 1},
		{"labels/targeted", NewLabelOracle(m, 5), targetsFor(t, TargetNextClass(), labels, nil, 3), 5, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := RunBlackBox(context.Background(), randomSearch{seed: 1, greedy: true}, c.o, x, c.crit, tm)
			if err != nil {
				t.Fatal(err)
			}
			hit := false
			for i, q := range r.Queries {
				if q > c.budget {
					t.Errorf("sample %d used %d queries, budget %d", i, q, c.budget)
				}
				if q < 1+c.clean {
					t.Errorf("sample %d: %d queries counted", i, q)
				}
				if !r.Success[i] && q != c.budget {
					t.Errorf("sample %d failed after %d of %d queries", i, q, c.budget)
				}
				hit = hit || q == c.budget
			}
			if !hit {
				t.Error("no sample used its whole budget: the budget was not tested")
			}
			if got := testmodels.Predict(m, r.Adv); !slices.Equal(got, r.Pred) {
				t.Errorf("Pred %v, model on Adv %v", r.Pred, got)
			}
			if (r.Outputs == nil) != (c.o.Access() == LabelAccess) {
				t.Errorf("Outputs present = %v for %v access", r.Outputs != nil, c.o.Access())
			}
			for i, v := range r.Norms {
				if v > tm.Eps {
					t.Errorf("sample %d norm %v", i, v)
				}
			}
			if testmodels.Count(r.Success) == 0 {
				t.Error("random search fooled nothing")
			}
		})
	}
}

func TestOracleRefusals(t *testing.T) {
	m := testmodels.NewTinyCNN(4)
	x := testmodels.Images(2, 2)
	tm := DefaultThreat()
	try := func(name string, f func(o *Oracle, x *tensor.Tensor) error, o *Oracle) {
		t.Run(name, func(t *testing.T) {
			_, err := RunBlackBox(context.Background(), funcAttack(func(o *Oracle, x *tensor.Tensor) (*tensor.Tensor, error) {
				if err := f(o, x); err == nil {
					return nil, errors.New("the oracle accepted the query")
				} else {
					t.Log(err)
				}
				return x, nil
			}), o, x, Untargeted{0, 1}, tm)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	try("scores from a label oracle", func(o *Oracle, x *tensor.Tensor) error {
		_, err := o.Scores([]int{0, 1}, x)
		if !errors.Is(err, ErrLabelsOnly) {
			return nil
		}
		return err
	}, NewLabelOracle(m, 0))
	try("outside the box", func(o *Oracle, x *tensor.Tensor) error {
		q := x.Clone()
		q.Data()[0] = 1.5
		_, err := o.Scores([]int{0, 1}, q)
		return err
	}, NewScoreOracle(m, 0))
	try("wrong shape", func(o *Oracle, x *tensor.Tensor) error {
		_, err := o.Scores([]int{0}, x)
		return err
	}, NewScoreOracle(m, 0))
	try("bad sample index", func(o *Oracle, x *tensor.Tensor) error {
		_, err := o.Scores([]int{0, 2}, x)
		return err
	}, NewScoreOracle(m, 0))
	try("one batch over the budget", func(o *Oracle, x *tensor.Tensor) error {
		// Three rows for sample 0 with a budget of 2: refused, and nothing
		// charged.
		q := batch.Select(x, []int{0, 0, 0})
		_, err := o.Labels([]int{0, 0, 0}, q)
		if o.Used(0) != 0 {
			return nil
		}
		return err
	}, NewLabelOracle(m, 2))
	if _, err := NewScoreOracle(m, 0).Scores([]int{0}, x.Narrow0(0, 1)); err == nil {
		t.Error("an oracle answered outside a run")
	}
}

// funcAttack adapts a function to BlackBoxAttack.
type funcAttack func(o *Oracle, x *tensor.Tensor) (*tensor.Tensor, error)

func (funcAttack) Name() string { return "func" }
func (f funcAttack) PerturbBlackBox(_ context.Context, o *Oracle, x *tensor.Tensor, _ Criterion, _ ThreatModel) (*tensor.Tensor, error) {
	return f(o, x)
}

func TestFuncOracle(t *testing.T) {
	m := testmodels.NewTinyCNN(4)
	calls := 0
	f := func(x *tensor.Tensor) ([][]float32, error) {
		calls++
		var out *autograd.Value
		layers.Eval(m)
		autograd.NoGrad(func() { out = m.Forward(autograd.Const(x)) })
		c := out.Data().Dim(1)
		rows := make([][]float32, out.Data().Dim(0))
		for i := range rows {
			rows[i] = slices.Clone(out.Data().Data()[i*c : (i+1)*c])
		}
		return rows, nil
	}
	x := testmodels.Images(6, 3)
	labels := testmodels.Predict(m, x)
	r, err := RunBlackBox(context.Background(), randomSearch{seed: 2}, NewFuncOracle(f, ScoreAccess, 10), x, Untargeted(labels), ThreatModel{Norm: Linf, Eps: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || testmodels.Count(r.Success) == 0 {
		t.Errorf("%d calls, %d successes", calls, testmodels.Count(r.Success))
	}
	bad := func(x *tensor.Tensor) ([][]float32, error) { return [][]float32{{1, 2}}, nil }
	if _, err := RunBlackBox(context.Background(), randomSearch{}, NewFuncOracle(bad, ScoreAccess, 3), x, Untargeted(labels), DefaultThreat()); err == nil {
		t.Error("a prediction function with the wrong number of rows was accepted")
	}
}

func TestBlackBoxModelState(t *testing.T) {
	m := testmodels.NewTinyCNN(4)
	layers.Train(m)
	mean := m.BN.RunningMean.Clone()
	m.Probe = func() {
		if m.Training() || m.Conv.Weight.RequiresGrad() {
			t.Error("module not in attack mode during a black-box run")
		}
	}
	o := NewScoreOracle(m, 4)
	rs, err := RunBlackBoxEps(context.Background(), randomSearch{seed: 3}, o, testmodels.Images(5, 1), Untargeted(nil), ThreatModel{Norm: Linf}, []float64{0.1, 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Eps != 0.1 || rs[1].Eps != 0.3 {
		t.Fatalf("results %v", rs)
	}
	for _, r := range rs {
		for _, q := range r.Queries {
			if q > 4 {
				t.Errorf("queries %d > 4 (each eps gets the full budget, no more)", q)
			}
		}
	}
	if !m.Training() || !m.Conv.Weight.RequiresGrad() || !slices.Equal(mean.Data(), m.BN.RunningMean.Data()) {
		t.Error("model state not restored, or BatchNorm statistics moved")
	}
	// The oracle can serve another run afterwards.
	if _, err := RunBlackBox(context.Background(), randomSearch{seed: 3}, o, testmodels.Images(2, 1), Untargeted(nil), DefaultThreat()); err != nil {
		t.Fatal(err)
	}
}

func TestBlackBoxBatchEqualsRows(t *testing.T) {
	m := testmodels.NewTinyCNN(4)
	x := testmodels.Images(6, 9)
	labels := testmodels.Predict(m, x)
	tm := ThreatModel{Norm: Linf, Eps: 0.3}
	r, err := RunBlackBox(context.Background(), randomSearch{seed: 5}, NewScoreOracle(m, 6), x, Untargeted(labels), tm)
	if err != nil {
		t.Fatal(err)
	}
	d := x.Len() / x.Dim(0)
	for i := 0; i < 6; i++ {
		ri, err := RunBlackBox(context.Background(), randomSearch{seed: 5}, NewScoreOracle(m, 6), x.Narrow0(i, 1), Untargeted(labels[i:i+1]), tm)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ri.Adv.Data(), r.Adv.Data()[i*d:(i+1)*d]) || ri.Queries[0] != r.Queries[i] {
			t.Fatalf("row %d alone differs from its row in the batch", i)
		}
	}
}
