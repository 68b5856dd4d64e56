package robustness

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Evaluate measures how robust model is on the batch x [N, ...]
// ([0,1] pixels, inside the suite's box) with true labels, by running the
// suite s (see StandardSuite), and returns the report:
//
//   - the clean accuracy;
//   - for each attack of s.Attacks and each of its eps: the robust accuracy
//     (the share of all N samples still classified correctly), the success
//     rate over the initially correct samples (the only ones attacked: a
//     misclassified sample is not robust already), the median and mean
//     norms of the successful perturbations, and for black-box attacks the
//     queries (mean and median over the successes, total over all);
//   - the AutoAttack-style cascade at each eps, each attack run only on the
//     samples every earlier one left robust (and the cascade at the
//     previous eps left robust: an adversarial within a smaller ball is in
//     the larger one), with the robust accuracy after each;
//   - the worst case per sample at each eps: robust only if no attack of
//     the suite, at that eps or a smaller one, fooled it;
//   - the gradient-masking checks (see Report.Checks), each flagged or not.
//
// The run is repeatable (the attacks' seeds and per-sample streams; the
// batch size does not matter) and stops soon after ctx is cancelled,
// returning its error. The model's modes and frozen flags are restored.
func Evaluate(ctx context.Context, model layers.Module, x *tensor.Tensor, labels []int, s Suite) (*Report, error) {
	if model == nil {
		return nil, fmt.Errorf("robustness.Evaluate: nil model")
	}
	return evaluate(ctx, evalTarget{module: model}, x, labels, s)
}

// EvaluateBlackBox is EvaluateRobustness for a model reachable only through
// a prediction function: the suite may hold black-box attacks only (see
// Suite.BlackBoxOnly), each run through an oracle over predict, and the
// white-box checks (unbounded attack, gradients) are not available.
func EvaluateBlackBox(ctx context.Context, predict attacks.PredictFunc, x *tensor.Tensor, labels []int, s Suite) (*Report, error) {
	if predict == nil {
		return nil, fmt.Errorf("robustness.EvaluateBlackBox: nil prediction function")
	}
	for _, group := range [][]SuiteAttack{s.Attacks, s.AutoAttack} {
		for _, a := range group {
			if a.Attack != nil {
				return nil, fmt.Errorf("robustness.EvaluateBlackBox: %s is a white-box attack, which needs the model (use Suite.BlackBoxOnly)", a.DisplayName())
			}
		}
	}
	if s.Unbounded != nil || s.GradientCheck {
		return nil, fmt.Errorf("robustness.EvaluateBlackBox: the unbounded and gradient checks need the model (use Suite.BlackBoxOnly)")
	}
	return evaluate(ctx, evalTarget{predict: predict}, x, labels, s)
}

// evalTarget is what is evaluated: a module, or a prediction function.
type evalTarget struct {
	module  layers.Module
	predict attacks.PredictFunc
}

// outputs returns the clean scores of x [N, C], in batches.
func (t evalTarget) outputs(x *tensor.Tensor, bs int) (*tensor.Tensor, error) {
	var parts []*tensor.Tensor
	n := x.Dim(0)
	if t.module != nil {
		err := attacks.WithAttackMode(t.module, func(m *attacks.Model) error {
			for s := 0; s < n; s += bs {
				o, err := m.Outputs(x.Narrow0(s, min(bs, n-s)))
				if err != nil {
					return err
				}
				parts = append(parts, o.Clone())
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return tensor.Concat(0, parts...), nil
	}
	for s := 0; s < n; s += bs {
		rows, err := t.predict(x.Narrow0(s, min(bs, n-s)))
		if err != nil {
			return nil, fmt.Errorf("robustness: prediction function: %w", err)
		}
		if len(rows) != min(bs, n-s) || len(rows) == 0 || len(rows[0]) < 2 {
			return nil, fmt.Errorf("robustness: prediction function returned %d rows for %d inputs", len(rows), min(bs, n-s))
		}
		c := len(rows[0])
		o := tensor.New[float32](len(rows), c)
		for i, r := range rows {
			if len(r) != c {
				return nil, fmt.Errorf("robustness: prediction function returned rows of %d and %d scores", c, len(r))
			}
			copy(o.Data()[i*c:], r)
		}
		parts = append(parts, o)
	}
	return tensor.Concat(0, parts...), nil
}

// oracle returns a fresh oracle for a black-box entry.
func (t evalTarget) oracle(e SuiteAttack) *attacks.Oracle {
	if t.module == nil {
		return attacks.NewFuncOracle(t.predict, e.Access, e.Budget)
	}
	if e.Access == attacks.LabelAccess {
		return attacks.NewLabelOracle(t.module, e.Budget)
	}
	return attacks.NewScoreOracle(t.module, e.Budget)
}

// evaluator holds one evaluation's data.
type evaluator struct {
	ctx    context.Context
	tgt    evalTarget
	s      Suite
	x      *tensor.Tensor
	labels []int
	clean  *tensor.Tensor
	pred   []int
	n, d   int
	nc     int
	bs     int
	tol    float64
	// examples: per sample, the first adversarial found at the largest eps.
	maxEps   float64
	examples map[int]*Example
}

// entryEps is one entry's outcome at one eps, per sample (over all N;
// samples not attacked keep their zero values).
type entryEps struct {
	eps      float64
	attacked []bool
	robust   []bool // prediction on the adversarial equals the label
	success  []bool // the entry's criterion met
	norms    []float64
	queries  []int
}

func evaluate(ctx context.Context, tgt evalTarget, x *tensor.Tensor, labels []int, s Suite) (*Report, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	start := time.Now()
	eps, err := s.validate()
	if err != nil {
		return nil, err
	}
	if err := attacks.CheckRun(x, s.Threat, eps...); err != nil {
		return nil, fmt.Errorf("robustness.Evaluate: %w", err)
	}
	n := x.Dim(0)
	if len(labels) != n {
		return nil, fmt.Errorf("robustness.Evaluate: %d labels for %d samples", len(labels), n)
	}
	ev := &evaluator{ctx: ctx, tgt: tgt, s: s, x: x, labels: labels, n: n, d: x.Len() / n,
		bs: batch.OrDefault(s.BatchSize, 250), tol: s.Tolerance, examples: map[int]*Example{}}
	if ev.tol == 0 {
		ev.tol = 0.01
	}
	ev.maxEps = eps[len(eps)-1]
	for _, e := range s.Attacks {
		for _, v := range e.Eps {
			ev.maxEps = math.Max(ev.maxEps, v)
		}
	}
	rep, correct, err := ev.cleanReport(eps)
	if err != nil {
		return nil, err
	}
	idx := trueIndices(correct)
	runs, err := ev.oneByOne(rep, eps, idx)
	if err != nil {
		return nil, err
	}
	cascadeRobust, stageRuns, err := ev.cascade(rep, eps, correct)
	if err != nil {
		return nil, err
	}
	ev.worstCase(rep, eps, runs, cascadeRobust)
	if err := ev.checks(rep, eps, runs, stageRuns, idx); err != nil {
		return nil, err
	}
	rep.Examples = ev.exampleList()
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// cleanReport runs the model on the clean batch and starts the report with the
// clean accuracy; correct says which samples the model classifies
// correctly (the only ones attacked).
func (ev *evaluator) cleanReport(eps []float64) (rep *Report, correct []bool, err error) {
	if ev.clean, err = ev.tgt.outputs(ev.x, ev.bs); err != nil {
		return nil, nil, err
	}
	ev.nc = ev.clean.Dim(1)
	for i, y := range ev.labels {
		if y < 0 || y >= ev.nc {
			return nil, nil, fmt.Errorf("robustness.Evaluate: label %d of sample %d out of range for a model with %d outputs", y, i, ev.nc)
		}
	}
	ev.pred = attacks.Predictions(ev.clean)
	correct = make([]bool, ev.n)
	for i, p := range ev.pred {
		correct[i] = p == ev.labels[i]
	}
	nc := len(trueIndices(correct))
	rep = &Report{
		Norm: ev.s.Threat.Norm.String(), Eps: eps, Samples: ev.n, Correct: nc,
		CleanAccuracy: float64(nc) / float64(ev.n), Labels: slices.Clone(ev.labels), CleanPred: slices.Clone(ev.pred),
	}
	rep.Lo, rep.Hi = ev.s.Threat.Bounds()
	ev.logf("clean accuracy %.4f (%d of %d)", rep.CleanAccuracy, nc, ev.n)
	return rep, correct, nil
}

// trueIndices returns the indices of the true values of b.
func trueIndices(b []bool) []int {
	var idx []int
	for i, v := range b {
		if v {
			idx = append(idx, i)
		}
	}
	return idx
}

// oneByOne runs each attack of the suite at each of its eps on the samples
// idx and reports it; runs[k] is attack k's outcome per eps (nil when
// skipped).
func (ev *evaluator) oneByOne(rep *Report, eps []float64, idx []int) ([][]*entryEps, error) {
	runs := make([][]*entryEps, len(ev.s.Attacks))
	for k, e := range ev.s.Attacks {
		list := eps
		if e.Eps != nil {
			list = slices.Clone(e.Eps)
			slices.Sort(list)
			list = slices.Compact(list)
		}
		ar := AttackReport{Name: e.DisplayName(), Kind: e.kind(), Targeted: e.Targets != nil}
		if e.MinClasses > ev.nc {
			ar.Skipped = fmt.Sprintf("needs at least %d classes, the model has %d", e.MinClasses, ev.nc)
			rep.Attacks = append(rep.Attacks, ar)
			continue
		}
		t0 := time.Now()
		rs, err := ev.runEntry(e, list, idx)
		if err != nil {
			return nil, err
		}
		ar.Seconds = time.Since(t0).Seconds()
		runs[k] = rs
		for _, r := range rs {
			ar.Results = append(ar.Results, ev.summarise(r, e))
			ev.logf("%s eps=%g: robust accuracy %.4f", ar.Name, r.eps, ar.Results[len(ar.Results)-1].RobustAccuracy)
		}
		rep.Attacks = append(rep.Attacks, ar)
	}
	return runs, nil
}

// cascade runs the AutoAttack-style cascade at each eps, each stage on the
// samples still robust (starting from those robust at the previous eps),
// and reports it; cascadeRobust[k] is the robust samples after the cascade
// at eps[k], stageRuns[k][j] stage j's outcome there (nil when skipped).
func (ev *evaluator) cascade(rep *Report, eps []float64, correct []bool) (cascadeRobust [][]bool, stageRuns [][]*entryEps, err error) {
	cascadeRobust = make([][]bool, len(eps))
	stageRuns = make([][]*entryEps, len(eps))
	robust := slices.Clone(correct)
	for k, e := range eps {
		cr := CascadeReport{Eps: e}
		stageRuns[k] = make([]*entryEps, len(ev.s.AutoAttack))
		for j, st := range ev.s.AutoAttack {
			sr := StageResult{Name: st.DisplayName(), Kind: st.kind()}
			if st.MinClasses > ev.nc {
				sr.Skipped = fmt.Sprintf("needs at least %d classes, the model has %d", st.MinClasses, ev.nc)
				sr.RobustAccuracy = fraction(robust)
				cr.Stages = append(cr.Stages, sr)
				continue
			}
			on := trueIndices(robust)
			t0 := time.Now()
			rs, err := ev.runEntry(st, []float64{e}, on)
			if err != nil {
				return nil, nil, err
			}
			r := rs[0]
			stageRuns[k][j] = r
			for _, i := range on {
				if !r.robust[i] {
					robust[i] = false
					sr.Fooled++
				}
				sr.TotalQueries += r.queries[i]
			}
			sr.Attacked = len(on)
			sr.RobustAccuracy = fraction(robust)
			sr.Seconds = time.Since(t0).Seconds()
			ev.logf("AutoAttack eps=%g after %s: robust accuracy %.4f (%d of %d attacked fooled)", e, sr.Name, sr.RobustAccuracy, sr.Fooled, sr.Attacked)
			cr.Stages = append(cr.Stages, sr)
		}
		cr.RobustAccuracy = fraction(robust)
		cascadeRobust[k] = slices.Clone(robust)
		if len(ev.s.AutoAttack) > 0 {
			rep.AutoAttack = append(rep.AutoAttack, cr)
		}
	}
	return cascadeRobust, stageRuns, nil
}

// worstCase reports, at each eps, the samples robust to the cascade there
// and to every attack of the suite at that eps or a smaller one.
func (ev *evaluator) worstCase(rep *Report, eps []float64, runs [][]*entryEps, cascadeRobust [][]bool) {
	for k, e := range eps {
		wc := WorstCase{Eps: e, Robust: slices.Clone(cascadeRobust[k])}
		for _, rs := range runs {
			for _, r := range rs {
				if r.eps > e {
					continue
				}
				for i := range wc.Robust {
					if r.attacked[i] && !r.robust[i] {
						wc.Robust[i] = false
					}
				}
			}
		}
		wc.RobustAccuracy = fraction(wc.Robust)
		rep.WorstCase = append(rep.WorstCase, wc)
		ev.logf("worst case eps=%g: robust accuracy %.4f", e, wc.RobustAccuracy)
	}
}

func (ev *evaluator) logf(format string, args ...any) {
	if ev.s.Log != nil {
		fmt.Fprintf(ev.s.Log, format+"\n", args...)
	}
}

// fraction returns the share of true values.
func fraction(b []bool) float64 {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return float64(n) / float64(max(len(b), 1))
}

// runEntry runs entry e at each eps of list on the samples idx, in
// batches, and returns its outcome per eps.
func (ev *evaluator) runEntry(e SuiteAttack, list []float64, idx []int) ([]*entryEps, error) {
	out := make([]*entryEps, len(list))
	for k, v := range list {
		out[k] = &entryEps{eps: v, attacked: make([]bool, ev.n), robust: make([]bool, ev.n),
			success: make([]bool, ev.n), norms: make([]float64, ev.n), queries: make([]int, ev.n)}
	}
	for s := 0; s < len(idx); s += ev.bs {
		if err := ev.ctx.Err(); err != nil {
			return nil, fmt.Errorf("robustness.Evaluate: %w", err)
		}
		rows := idx[s:min(s+ev.bs, len(idx))]
		xb := batch.Select(ev.x, rows)
		yb := batch.SelectInts(ev.labels, rows)
		var crit attacks.Criterion = attacks.Untargeted(yb)
		if e.Targets != nil {
			t, err := e.Targets.For(yb, batch.Select(ev.clean, rows), ev.nc)
			if err != nil {
				return nil, fmt.Errorf("robustness.Evaluate: %s: %w", e.DisplayName(), err)
			}
			crit = t
		}
		var rs []*attacks.Result
		var err error
		if e.Attack != nil {
			rs, err = attacks.RunEps(ev.ctx, e.Attack, ev.tgt.module, xb, crit, ev.s.Threat, list)
		} else {
			rs, err = attacks.RunBlackBoxEps(ev.ctx, e.BlackBox, ev.tgt.oracle(e), xb, crit, ev.s.Threat, list)
		}
		if err != nil {
			return nil, fmt.Errorf("robustness.Evaluate: %s: %w", e.DisplayName(), err)
		}
		for k, r := range rs {
			o := out[k]
			for j, i := range rows {
				o.attacked[i] = true
				o.robust[i] = r.Pred[j] == ev.labels[i]
				o.success[i] = r.Success[j]
				o.norms[i] = r.Norms[j]
				if r.Queries != nil {
					o.queries[i] = r.Queries[j]
				}
				if !o.robust[i] && o.eps == ev.maxEps {
					ev.offerExample(i, e.DisplayName(), o.eps, r.Pred[j], batch.Row(r.Adv.Data(), j, ev.d))
				}
			}
		}
	}
	return out, nil
}

// offerExample keeps the first adversarial found for sample i at the
// largest eps, for the report's image grid.
func (ev *evaluator) offerExample(i int, attack string, eps float64, pred int, adv []float32) {
	if _, ok := ev.examples[i]; ok {
		return
	}
	shape := ev.x.Shape()[1:]
	ev.examples[i] = &Example{
		Index: i, Label: ev.labels[i], CleanPred: ev.pred[i], AdvPred: pred, Attack: attack, Eps: eps,
		Clean: tensor.FromSlice(slices.Clone(batch.Row(ev.x.Data(), i, ev.d)), shape...),
		Adv:   tensor.FromSlice(slices.Clone(adv), shape...),
	}
}

// exampleList returns the kept examples in sample order, at most
// s.Examples (0: 12).
func (ev *evaluator) exampleList() []Example {
	keys := make([]int, 0, len(ev.examples))
	for i := range ev.examples {
		keys = append(keys, i)
	}
	slices.Sort(keys)
	keys = keys[:min(len(keys), batch.OrDefault(ev.s.Examples, 12))]
	out := make([]Example, len(keys))
	for k, i := range keys {
		out[k] = *ev.examples[i]
	}
	return out
}

// summarise turns an entry's outcome at one eps into a report row.
func (ev *evaluator) summarise(r *entryEps, e SuiteAttack) AttackResult {
	res := AttackResult{Eps: r.eps, Robust: make([]bool, ev.n)}
	var norms, qs []float64
	for i := 0; i < ev.n; i++ {
		if !r.attacked[i] {
			continue
		}
		res.Attacked++
		res.Robust[i] = r.robust[i]
		res.TotalQueries += r.queries[i]
		if r.success[i] {
			res.Succeeded++
			norms = append(norms, r.norms[i])
			qs = append(qs, float64(r.queries[i]))
		}
	}
	res.RobustAccuracy = fraction(res.Robust)
	if res.Attacked > 0 {
		res.SuccessRate = float64(res.Succeeded) / float64(res.Attacked)
	}
	res.MedianNorm, res.MeanNorm = batch.Median(norms), batch.Mean(norms)
	if e.BlackBox != nil {
		res.MedianQueries, res.MeanQueries = batch.Median(qs), batch.Mean(qs)
	}
	return res
}
