package attacks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Access is what a black-box oracle reveals about the model's answer.
type Access int

const (
	// ScoreAccess reveals the score of every class (score-based attacks:
	// Square, SimBA, NES, SPSA).
	ScoreAccess Access = iota
	// LabelAccess reveals the top class only (decision-based attacks:
	// HopSkipJump).
	LabelAccess
)

// String returns "scores" or "labels".
func (a Access) String() string {
	switch a {
	case ScoreAccess:
		return "scores"
	case LabelAccess:
		return "labels"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// PredictFunc is a model reachable only through a function: it maps a batch
// x [N, ...] of pixels to N rows of C scores.
type PredictFunc func(x *tensor.Tensor) ([][]float32, error)

// ErrLabelsOnly is returned (wrapped) by Scores on a label-only oracle.
var ErrLabelsOnly = errors.New("attacks: the oracle reveals labels only")

// Oracle is a black-box attack's only access to the model: it answers
// queries with scores or labels, per its Access, counts every query against
// the sample it belongs to, and refuses queries past the per-sample budget.
// It never exposes the model, so a black-box attack cannot use gradients,
// parameters or internal state.
//
// An Oracle answers only during RunBlackBox (or RunBlackBoxEps), which
// resets its counts for the batch, and puts a module-backed oracle's model in
// attack mode (eval, frozen) for the run. Queries must stay in the threat
// model's box, as any image a deployed model receives does. One run at a
// time per Oracle.
type Oracle struct {
	predict PredictFunc
	module  layers.Module
	access  Access
	budget  int

	active  bool
	used    []int
	row     []int
	lo, hi  float64
	classes int
}

// NewScoreOracle returns an oracle over model that reveals scores, with a
// budget of queries per sample (0 or less: unlimited).
func NewScoreOracle(model layers.Module, budget int) *Oracle {
	return newModuleOracle(model, ScoreAccess, budget)
}

// NewLabelOracle returns an oracle over model that reveals the top class
// only, with a budget of queries per sample (0 or less: unlimited).
func NewLabelOracle(model layers.Module, budget int) *Oracle {
	return newModuleOracle(model, LabelAccess, budget)
}

func newModuleOracle(model layers.Module, access Access, budget int) *Oracle {
	o := &Oracle{module: model, access: access, budget: max(budget, 0)}
	o.predict = func(x *tensor.Tensor) ([][]float32, error) {
		var out *autograd.Value
		autograd.NoGrad(func() { out = layers.Call(model, autograd.Const(x)) })
		d := out.Data()
		if d.Rank() != 2 {
			return nil, fmt.Errorf("model output of shape %v for input %v, want [N, C]", d.Shape(), x.Shape())
		}
		rows := make([][]float32, d.Dim(0))
		c := d.Dim(1)
		for i := range rows {
			rows[i] = d.Data()[i*c : (i+1)*c]
		}
		return rows, nil
	}
	return o
}

// NewFuncOracle returns an oracle over a prediction function, revealing
// what access allows, with a budget of queries per sample (0 or less:
// unlimited). Use it to attack a model that is reachable only through a
// function (a remote service, another framework).
func NewFuncOracle(f PredictFunc, access Access, budget int) *Oracle {
	return &Oracle{predict: f, access: access, budget: max(budget, 0)}
}

// Access returns what the oracle reveals.
func (o *Oracle) Access() Access { return o.access }

// Budget returns the number of queries allowed per sample (0: unlimited).
func (o *Oracle) Budget() int { return o.budget }

// Len returns the number of samples of the current run.
func (o *Oracle) Len() int { return len(o.used) }

// NumClasses returns the number of classes, known after the first query.
func (o *Oracle) NumClasses() int { return o.classes }

// Used returns the number of queries spent on sample i in this run.
func (o *Oracle) Used(i int) int { return o.used[i] }

// Remaining returns how many more queries sample i may make (math.MaxInt
// when unlimited).
func (o *Oracle) Remaining(i int) int {
	if o.budget <= 0 {
		return math.MaxInt
	}
	return o.budget - o.used[i]
}

// Scores returns the scores [len(idx), C] of the batch x, whose row k is a
// query for sample idx[k] of the attacked batch (one query charged to it).
// It fails with ErrLabelsOnly on a label-only oracle and fastgo.ErrBudget when a
// sample would exceed its budget (then nothing is charged).
func (o *Oracle) Scores(idx []int, x *tensor.Tensor) (*tensor.Tensor, error) {
	if o.access != ScoreAccess {
		return nil, fmt.Errorf("oracle.Scores: %w", ErrLabelsOnly)
	}
	return o.query(idx, x, true)
}

// Labels returns the top class of each row of x (see Scores for idx and the
// budget). Every oracle answers it.
func (o *Oracle) Labels(idx []int, x *tensor.Tensor) ([]int, error) {
	s, err := o.query(idx, x, true)
	if err != nil {
		return nil, err
	}
	return Predictions(s), nil
}

// query checks and charges a query (when charge), runs the prediction
// function and returns its scores as [N, C].
func (o *Oracle) query(idx []int, x *tensor.Tensor, charge bool) (*tensor.Tensor, error) {
	if !o.active {
		return nil, fmt.Errorf("oracle: queried outside RunBlackBox")
	}
	if x == nil || x.Rank() < 2 || x.Dim(0) != len(idx) || !slices.Equal(x.Shape()[1:], o.row) {
		var s []int
		if x != nil {
			s = x.Shape()
		}
		return nil, fmt.Errorf("oracle: query of shape %v for %d samples, want [%d %v]", s, len(idx), len(idx), o.row)
	}
	d := x.Len() / max(x.Dim(0), 1)
	for k, v := range x.Data() {
		if f := float64(v); math.IsNaN(f) || f < o.lo || f > o.hi {
			return nil, fmt.Errorf("oracle: query row %d holds %v, outside the box [%g, %g]", k/d, v, o.lo, o.hi)
		}
	}
	if charge {
		need := map[int]int{}
		for _, i := range idx {
			if i < 0 || i >= len(o.used) {
				return nil, fmt.Errorf("oracle: query for sample %d of a batch of %d", i, len(o.used))
			}
			need[i]++
		}
		if o.budget > 0 {
			for i, k := range need {
				if o.used[i]+k > o.budget {
					return nil, fmt.Errorf("oracle: sample %d has used %d of %d queries and asks %d more: %w", i, o.used[i], o.budget, k, fastgo.ErrBudget)
				}
			}
		}
		for i, k := range need {
			o.used[i] += k
		}
	}
	rows, err := o.predict(x)
	if err != nil {
		return nil, fmt.Errorf("oracle: prediction function: %w", err)
	}
	if len(rows) != len(idx) {
		return nil, fmt.Errorf("oracle: prediction function returned %d rows for %d inputs", len(rows), len(idx))
	}
	c := 0
	if len(rows) > 0 {
		c = len(rows[0])
	}
	if c < 2 || (o.classes != 0 && c != o.classes) {
		return nil, fmt.Errorf("oracle: prediction function returned %d scores per row (want at least 2, the same for every query)", c)
	}
	o.classes = c
	out := tensor.New[float32](len(rows), c)
	for i, r := range rows {
		if len(r) != c {
			return nil, fmt.Errorf("oracle: prediction function returned rows of %d and %d scores", c, len(r))
		}
		copy(out.Data()[i*c:], r)
	}
	return out, nil
}

// begin starts a run over n samples of row shape row inside tm's box.
func (o *Oracle) begin(n int, row []int, tm ThreatModel) error {
	if o.active {
		return fmt.Errorf("attacks: the oracle is already serving a run")
	}
	o.active = true
	o.used = make([]int, n)
	o.row = slices.Clone(row)
	o.lo, o.hi = tm.Bounds()
	return nil
}

func (o *Oracle) end() { o.active = false }

// BlackBoxAttack is an attack that sees the model only through an Oracle.
//
// PerturbBlackBox has the contract of Attack.Perturb, with queries instead of
// gradients: row k of a query is charged to the sample idx[k] it serves, and
// the attack must stop querying a sample when its Remaining reaches zero
// (a query past the budget fails with fastgo.ErrBudget, which the attack should
// treat as the end of that sample's search, not as a failure of the run).
type BlackBoxAttack interface {
	// Name returns a short name for reports, such as "Square-5000".
	Name() string
	PerturbBlackBox(ctx context.Context, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error)
}

// RunBlackBox attacks the model behind o on x under c within tm, as Run does
// for white-box attacks. Resolving Untargeted(nil) costs one query per
// sample (the model's clean answer). Success is computed on the returned
// batch through the same prediction function, not charged to the attack.
// Result.Queries holds each sample's queries.
func RunBlackBox(ctx context.Context, a BlackBoxAttack, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel) (*Result, error) {
	rs, err := RunBlackBoxEps(ctx, a, o, x, c, tm, []float64{tm.Eps})
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// RunBlackBoxEps runs a at each eps of epsList, each run with the full
// budget, and returns one Result per eps.
func RunBlackBoxEps(ctx context.Context, a BlackBoxAttack, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel, epsList []float64) (res []*Result, err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if a == nil || o == nil {
		return nil, fmt.Errorf("attacks: nil attack or oracle")
	}
	if err := CheckRun(x, tm, epsList...); err != nil {
		return nil, fmt.Errorf("%w (attack %s)", err, a.Name())
	}
	n := x.Dim(0)
	if err := o.begin(n, x.Shape()[1:], tm); err != nil {
		return nil, err
	}
	defer o.end()
	if o.module != nil {
		defer enterAttackMode(o.module)()
	}
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("attacks: panic during the attack %s: %v", a.Name(), r)
		}
	}()
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	var pred []int
	if u, ok := c.(Untargeted); ok && u == nil {
		if pred, err = o.Labels(all, x); err != nil {
			return nil, fmt.Errorf("attacks: %s: clean query: %w", a.Name(), err)
		}
	}
	crit, err := ResolveCriterion(c, n, pred)
	if err != nil {
		return nil, err
	}
	base := slices.Clone(o.used)
	for _, e := range epsList {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("attacks: %s: %w", a.Name(), err)
		}
		copy(o.used, base)
		t := tm.WithEps(e)
		adv, err := a.PerturbBlackBox(ctx, o, x.Clone(), crit, t)
		if err != nil {
			return nil, fmt.Errorf("attacks: %s: %w", a.Name(), err)
		}
		if err := checkOutput(a.Name(), x, adv, t, false); err != nil {
			return nil, err
		}
		t.Project(x, adv)
		out, err := o.query(all, adv, false)
		if err != nil {
			return nil, fmt.Errorf("attacks: %s: final check: %w", a.Name(), err)
		}
		if err := checkClasses(crit, out.Dim(1)); err != nil {
			return nil, err
		}
		r := &Result{
			Attack: a.Name(), Adv: adv, Success: crit.IsAdversarial(out), Pred: Predictions(out),
			Norms: t.Norms(x, adv), Queries: slices.Clone(o.used), Eps: e, Threat: t, Criterion: crit,
		}
		if o.access == ScoreAccess {
			r.Outputs = out
		}
		res = append(res, r)
	}
	return res, nil
}
