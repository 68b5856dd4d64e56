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

// evaluator holds one evaluation's data: the samples of its shard.
type evaluator struct {
	ctx    context.Context
	tgt    evalTarget
	s      Suite
	x      *tensor.Tensor
	labels []int
	clean  *tensor.Tensor
	pred   []int
	n, d   int
	off    int // index of the first sample among all
	nc     int
	bs     int
	passes int // passes per adversarial example (1: deterministic model)
	// examples: per sample, the first adversarial found at the largest eps.
	maxEps   float64
	examples map[int]*Example
}

// entryEps is one entry's outcome at one eps, per sample (over all N;
// samples not attacked keep their zero values).
type entryEps struct {
	eps        float64
	attacked   []bool
	robust     []bool // prediction on the adversarial equals the label (in every pass)
	success    []bool // the entry's criterion met
	norms      []float64
	queries    []int
	passRobust []float64 // share of passes classifying it correctly (randomised models)
	seconds    float64
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
	total := x.Dim(0)
	if len(labels) != total {
		return nil, fmt.Errorf("robustness.Evaluate: %d labels for %d samples", len(labels), total)
	}
	man, err := newManifest(tgt, x, labels, s, eps)
	if err != nil {
		return nil, err
	}
	lo, hi := s.Shard.Range(total)
	if hi == lo {
		return nil, fmt.Errorf("robustness.Evaluate: shard %s of %d samples is empty", s.Shard, total)
	}
	ev := &evaluator{ctx: ctx, tgt: tgt, s: s, x: x.Narrow0(lo, hi-lo), labels: labels[lo:hi], n: hi - lo, off: lo, d: x.Len() / total,
		bs: batch.OrDefault(s.BatchSize, 250), passes: 1, examples: map[int]*Example{}}
	tol := s.Tolerance
	if tol == 0 {
		tol = 0.01
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
	rep.Manifest = man
	rep.Outcomes = &Outcomes{First: lo, Tolerance: tol, Passes: ev.passes}
	stages := s.AutoAttack
	if rep.Randomised != nil && rep.Randomised.Detected && (s.Version == VersionStandard || s.Version == VersionPlus) {
		if stages, err = VersionCascade(VersionRand, s.Threat.Norm); err != nil {
			return nil, err
		}
		rep.Randomised.Protocol = fmt.Sprintf("the cascade of AutoAttack's rand version replaced the %s version's", s.Version)
		ev.logf("randomised model: %s", rep.Randomised.Protocol)
	}
	idx := trueIndices(correct)
	if rep.Outcomes.Attacks, err = ev.oneByOne(eps, idx); err != nil {
		return nil, err
	}
	if rep.Outcomes.Cascade, err = ev.cascade(stages, eps, correct); err != nil {
		return nil, err
	}
	if ev.s.Unbounded != nil && ev.tgt.module != nil && len(idx) > 0 {
		if rep.Outcomes.Unbounded, err = ev.unboundedRun(idx); err != nil {
			return nil, err
		}
	}
	if ev.s.GradientCheck && ev.tgt.module != nil && len(idx) > 0 {
		if rep.Outcomes.Gradients, err = ev.gradientRun(idx); err != nil {
			return nil, err
		}
	}
	assemble(rep)
	for _, w := range rep.WorstCase {
		ev.logf("worst case eps=%g: robust accuracy %.4f", w.Eps, w.RobustAccuracy)
	}
	rep.Examples = ev.exampleList()
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// cleanReport runs the model on the clean batch and starts the report with
// the labels and clean predictions; correct says which samples the model
// classifies correctly (the only ones attacked). A second pass tells
// whether the model is randomised.
func (ev *evaluator) cleanReport(eps []float64) (rep *Report, correct []bool, err error) {
	if ev.clean, err = ev.tgt.outputs(ev.x, ev.bs); err != nil {
		return nil, nil, err
	}
	ev.nc = ev.clean.Dim(1)
	for i, y := range ev.labels {
		if y < 0 || y >= ev.nc {
			return nil, nil, fmt.Errorf("robustness.Evaluate: label %d of sample %d out of range for a model with %d outputs", y, ev.off+i, ev.nc)
		}
	}
	again, err := ev.tgt.outputs(ev.x, ev.bs)
	if err != nil {
		return nil, nil, err
	}
	rnd := &Randomised{}
	for k, v := range again.Data() {
		if d := math.Abs(float64(v) - float64(ev.clean.Data()[k])); d > rnd.MaxDifference || (v != ev.clean.Data()[k] && !rnd.Detected) {
			rnd.MaxDifference = math.Max(rnd.MaxDifference, d)
			rnd.Detected = true
		}
	}
	if rnd.Detected {
		ev.passes = batch.OrDefault(ev.s.Passes, 20)
		rnd.Passes = ev.passes
		ev.logf("randomised model: two passes differ by up to %.4g; every adversarial example is scored over %d passes", rnd.MaxDifference, ev.passes)
	}
	ev.pred = attacks.Predictions(ev.clean)
	correct = make([]bool, ev.n)
	for i, p := range ev.pred {
		correct[i] = p == ev.labels[i]
	}
	rep = &Report{
		Norm: ev.s.Threat.Norm.String(), Eps: eps, Samples: ev.n,
		Labels: slices.Clone(ev.labels), CleanPred: slices.Clone(ev.pred), Randomised: rnd,
	}
	rep.Lo, rep.Hi = ev.s.Threat.Bounds()
	nc := len(trueIndices(correct))
	ev.logf("clean accuracy %.4f (%d of %d)", float64(nc)/float64(ev.n), nc, ev.n)
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
// idx.
func (ev *evaluator) oneByOne(eps []float64, idx []int) ([]EntryOutcomes, error) {
	out := make([]EntryOutcomes, len(ev.s.Attacks))
	for k, e := range ev.s.Attacks {
		list := eps
		if e.Eps != nil {
			list = slices.Clone(e.Eps)
			slices.Sort(list)
			list = slices.Compact(list)
		}
		eo := EntryOutcomes{Name: e.DisplayName(), Kind: e.kind(), Targeted: e.Targets != nil}
		if e.MinClasses > ev.nc {
			eo.Skipped = fmt.Sprintf("needs at least %d classes, the model has %d", e.MinClasses, ev.nc)
			out[k] = eo
			continue
		}
		t0 := time.Now()
		rs, err := ev.runEntry(e, list, idx)
		if err != nil {
			return nil, err
		}
		eo.Seconds = time.Since(t0).Seconds()
		for _, r := range rs {
			r.seconds = eo.Seconds / float64(len(rs))
			eo.Eps = append(eo.Eps, r.toOutcomes(ev.passes))
			ev.logf("%s eps=%g: robust accuracy %.4f", eo.Name, r.eps, fraction(r.robust))
		}
		out[k] = eo
	}
	return out, nil
}

// countTrue returns the number of true values of b.
func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// cascade runs the AutoAttack-style cascade of stages at each eps, each
// stage on the samples still robust (starting from those robust at the
// previous eps).
func (ev *evaluator) cascade(stages []SuiteAttack, eps []float64, correct []bool) ([]EntryOutcomes, error) {
	out := make([]EntryOutcomes, len(stages))
	for j, st := range stages {
		out[j] = EntryOutcomes{Name: st.DisplayName(), Kind: st.kind(), Targeted: st.Targets != nil}
		if st.MinClasses > ev.nc {
			out[j].Skipped = fmt.Sprintf("needs at least %d classes, the model has %d", st.MinClasses, ev.nc)
		}
	}
	robust := slices.Clone(correct)
	for _, e := range eps {
		for j, st := range stages {
			if out[j].Skipped != "" {
				continue
			}
			on := trueIndices(robust)
			t0 := time.Now()
			if st.Attack != nil {
				st.Attack = fabAtEps(st.Attack, e)
			}
			rs, err := ev.runEntry(st, []float64{e}, on)
			if err != nil {
				return nil, err
			}
			r := rs[0]
			fooled := 0
			for _, i := range on {
				if !r.robust[i] {
					robust[i] = false
					fooled++
				}
			}
			r.seconds = time.Since(t0).Seconds()
			out[j].Seconds += r.seconds
			out[j].Eps = append(out[j].Eps, r.toOutcomes(ev.passes))
			ev.logf("AutoAttack eps=%g after %s: robust accuracy %.4f (%d of %d attacked fooled)", e, out[j].Name, fraction(robust), fooled, len(on))
		}
	}
	return out, nil
}

func (ev *evaluator) logf(format string, args ...any) {
	if ev.s.Log != nil {
		fmt.Fprintf(ev.s.Log, format+"\n", args...)
	}
}

// fraction returns the share of true values.
func fraction(b []bool) float64 {
	return float64(countTrue(b)) / float64(max(len(b), 1))
}

// targetsFor returns e's target for each sample of the evaluator (nil for
// an untargeted entry), computed as if for all the samples from the first
// one: a rule that draws from a stream per position (TargetRandom) gives a
// sample the same target whichever shard and batch hold it.
func (ev *evaluator) targetsFor(e SuiteAttack) (attacks.Targeted, error) {
	if e.Targets == nil {
		return nil, nil
	}
	labels := make([]int, ev.off+ev.n)
	copy(labels[ev.off:], ev.labels)
	for i := 0; i < ev.off; i++ {
		labels[i] = ev.labels[0] // a placeholder: the rules are per sample
	}
	clean := ev.clean
	if ev.off > 0 {
		pad := tensor.New[float32](ev.off, ev.nc)
		copy(pad.Data(), slices.Repeat(ev.clean.Data()[:ev.nc], ev.off))
		clean = tensor.Concat(0, pad, ev.clean)
	}
	t, err := e.Targets.For(labels, clean, ev.nc)
	if err != nil {
		return nil, fmt.Errorf("robustness.Evaluate: %s: %w", e.DisplayName(), err)
	}
	return t[ev.off:], nil
}

// runEntry runs entry e at each eps of list on the samples idx, in
// batches, and returns its outcome per eps.
func (ev *evaluator) runEntry(e SuiteAttack, list []float64, idx []int) ([]*entryEps, error) {
	out := make([]*entryEps, len(list))
	for k, v := range list {
		out[k] = &entryEps{eps: v, attacked: make([]bool, ev.n), robust: make([]bool, ev.n),
			success: make([]bool, ev.n), norms: make([]float64, ev.n), queries: make([]int, ev.n), passRobust: make([]float64, ev.n)}
	}
	targets, err := ev.targetsFor(e)
	if err != nil {
		return nil, err
	}
	for s := 0; s < len(idx); s += ev.bs {
		if err := ev.ctx.Err(); err != nil {
			return nil, fmt.Errorf("robustness.Evaluate: %w", err)
		}
		rows := idx[s:min(s+ev.bs, len(idx))]
		xb := batch.Select(ev.x, rows)
		yb := batch.SelectInts(ev.labels, rows)
		var crit attacks.Criterion = attacks.Untargeted(yb)
		if targets != nil {
			crit = attacks.Targeted(batch.SelectInts(targets, rows))
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
			var passOK []int
			if ev.passes > 1 {
				if passOK, err = ev.scorePasses(r.Adv, yb); err != nil {
					return nil, fmt.Errorf("robustness.Evaluate: %s: scoring over %d passes: %w", e.DisplayName(), ev.passes, err)
				}
			}
			for j, i := range rows {
				o.attacked[i] = true
				o.robust[i] = r.Pred[j] == ev.labels[i]
				o.success[i] = r.Success[j]
				if passOK != nil {
					o.robust[i] = passOK[j] == ev.passes
					o.passRobust[i] = float64(passOK[j]) / float64(ev.passes)
					if targets == nil {
						o.success[i] = !o.robust[i]
					}
				}
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

// scorePasses runs the model ev.passes times on adv and returns, per row,
// the number of passes classifying it as its label.
func (ev *evaluator) scorePasses(adv *tensor.Tensor, labels []int) ([]int, error) {
	ok := make([]int, len(labels))
	for p := 0; p < ev.passes; p++ {
		o, err := ev.tgt.outputs(adv, ev.bs)
		if err != nil {
			return nil, err
		}
		for j, c := range attacks.Predictions(o) {
			if c == labels[j] {
				ok[j]++
			}
		}
	}
	return ok, nil
}

// offerExample keeps the first adversarial found for sample i at the
// largest eps, for the report's image grid.
func (ev *evaluator) offerExample(i int, attack string, eps float64, pred int, adv []float32) {
	if _, ok := ev.examples[i]; ok {
		return
	}
	shape := ev.x.Shape()[1:]
	ev.examples[i] = &Example{
		Index: ev.off + i, Label: ev.labels[i], CleanPred: ev.pred[i], AdvPred: pred, Attack: attack, Eps: eps,
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
