package robustness

import (
	"fmt"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
)

// Outcomes are a report's per-sample outcomes, compactly: what every
// figure of the report is computed from, so that parts of a sharded run
// merge into the report of the whole run (MergeReports) and a re-run can
// be compared sample by sample (CompareReports).
type Outcomes struct {
	// First is the index, among all the evaluated samples, of the first
	// sample held; the report holds Samples samples from there.
	First int `json:"first"`
	// Tolerance is the masking checks' margin (Suite.Tolerance, resolved).
	Tolerance float64 `json:"tolerance"`
	// Passes is the number of passes each adversarial example was scored
	// over (1 for a deterministic model).
	Passes int `json:"passes"`
	// Attacks holds the suite's attacks one by one, in order.
	Attacks []EntryOutcomes `json:"attacks"`
	// Cascade holds the cascade's stages, in order; each stage's Eps lists
	// the report's eps.
	Cascade []EntryOutcomes `json:"cascade,omitempty"`
	// Unbounded is the unbounded check's outcome (nil when not run).
	Unbounded *EntryOutcomes `json:"unbounded,omitempty"`
	// Gradients is the gradient check's outcome per sample: '-' not
	// checked, '.' a usable gradient, 'z' all zero, 'n' NaN or infinite
	// (empty when not run).
	Gradients string `json:"gradients,omitempty"`
}

// EntryOutcomes is one attack's outcomes at each of its eps.
type EntryOutcomes struct {
	// Name is the entry's display name.
	Name string `json:"name"`
	// Kind is its role in the masking checks.
	Kind AttackKind `json:"kind"`
	// Targeted says whether the entry is targeted.
	Targeted bool `json:"targeted,omitempty"`
	// Skipped says why the entry did not run (empty when it ran).
	Skipped string `json:"skipped,omitempty"`
	// Seconds is the entry's wall time over all its eps.
	Seconds float64 `json:"seconds"`
	// Eps holds one row per eps, ascending.
	Eps []EpsOutcomes `json:"eps,omitempty"`
}

// The per-sample states of EpsOutcomes.States.
const (
	StateNotAttacked = '-' // not attacked (misclassified, or fooled before)
	StateRobust      = 'r' // classified correctly after the attack
	StateSucceeded   = 's' // misclassified, the attack's criterion met
	StateMissed      = 'm' // misclassified, the criterion not met (a targeted attack off target)
)

// EpsOutcomes is one attack at one eps, per sample.
type EpsOutcomes struct {
	// Eps is the budget.
	Eps float64 `json:"eps"`
	// States holds one state per sample (StateRobust...).
	States string `json:"states"`
	// Norms holds each sample's perturbation norm (0 when not attacked).
	Norms []float64 `json:"norms"`
	// Queries holds each sample's queries (black-box attacks; empty
	// otherwise).
	Queries []int `json:"queries,omitempty"`
	// PassRobust holds, for a randomised model, the share of the passes
	// classifying each sample's adversarial example correctly (empty for a
	// deterministic model).
	PassRobust []float64 `json:"pass_robust,omitempty"`
	// Seconds is the wall time at this eps.
	Seconds float64 `json:"seconds"`
}

// toOutcomes turns the evaluator's per-sample results into a row.
func (r *entryEps) toOutcomes(passes int) EpsOutcomes {
	n := len(r.attacked)
	o := EpsOutcomes{Eps: r.eps, Norms: slices.Clone(r.norms), Seconds: r.seconds}
	st := make([]byte, n)
	anyQ := false
	for i := range st {
		switch {
		case !r.attacked[i]:
			st[i] = StateNotAttacked
		case r.robust[i]:
			st[i] = StateRobust
		case r.success[i]:
			st[i] = StateSucceeded
		default:
			st[i] = StateMissed
		}
		anyQ = anyQ || r.queries[i] != 0
	}
	o.States = string(st)
	if anyQ {
		o.Queries = slices.Clone(r.queries)
	}
	if passes > 1 {
		o.PassRobust = slices.Clone(r.passRobust)
	}
	return o
}

// check returns an error when the row does not hold n samples.
func (o *EpsOutcomes) check(n int) error {
	if len(o.States) != n || len(o.Norms) != n || (o.Queries != nil && len(o.Queries) != n) || (o.PassRobust != nil && len(o.PassRobust) != n) {
		return fmt.Errorf("outcomes at eps %g: %d states, %d norms, %d queries, %d pass shares for %d samples", o.Eps, len(o.States), len(o.Norms), len(o.Queries), len(o.PassRobust), n)
	}
	for i := 0; i < n; i++ {
		switch o.States[i] {
		case StateNotAttacked, StateRobust, StateSucceeded, StateMissed:
		default:
			return fmt.Errorf("outcomes at eps %g: sample %d has state %q", o.Eps, i, o.States[i])
		}
		if math.IsNaN(o.Norms[i]) || math.IsInf(o.Norms[i], 0) {
			return fmt.Errorf("outcomes at eps %g: sample %d has norm %v", o.Eps, i, o.Norms[i])
		}
	}
	return nil
}

func (o *EpsOutcomes) attacked(i int) bool { return o.States[i] != StateNotAttacked }
func (o *EpsOutcomes) robust(i int) bool   { return o.States[i] == StateRobust }
func (o *EpsOutcomes) fooled(i int) bool {
	return o.States[i] == StateSucceeded || o.States[i] == StateMissed
}
func (o *EpsOutcomes) query(i int) int {
	if o.Queries == nil {
		return 0
	}
	return o.Queries[i]
}

// passShare is sample i's share of robust passes (its robustness when
// the model is deterministic).
func (o *EpsOutcomes) passShare(i int) float64 {
	if o.PassRobust != nil {
		return o.PassRobust[i]
	}
	if o.robust(i) {
		return 1
	}
	return 0
}

// check returns an error when the outcomes do not fit a report of n
// samples at eps.
func (oc *Outcomes) check(n int, eps []float64) error {
	for _, group := range [][]EntryOutcomes{oc.Attacks, oc.Cascade} {
		for _, e := range group {
			for k := range e.Eps {
				if err := e.Eps[k].check(n); err != nil {
					return fmt.Errorf("%s: %w", e.Name, err)
				}
			}
		}
	}
	for _, st := range oc.Cascade {
		if st.Skipped == "" && len(st.Eps) != len(eps) {
			return fmt.Errorf("cascade stage %s: %d rows for %d eps", st.Name, len(st.Eps), len(eps))
		}
	}
	if oc.Unbounded != nil {
		if len(oc.Unbounded.Eps) != 1 {
			return fmt.Errorf("unbounded check: %d rows", len(oc.Unbounded.Eps))
		}
		if err := oc.Unbounded.Eps[0].check(n); err != nil {
			return fmt.Errorf("unbounded check: %w", err)
		}
	}
	if oc.Gradients != "" && len(oc.Gradients) != n {
		return fmt.Errorf("gradient check: %d states for %d samples", len(oc.Gradients), n)
	}
	return nil
}

// assemble fills every figure of rep (accuracies, the cascade, the worst
// case, the checks) from its clean predictions and rep.Outcomes: the one
// computation behind an evaluation, a part of a sharded one and a merge.
func assemble(rep *Report) {
	oc := rep.Outcomes
	n := rep.Samples
	correct := make([]bool, n)
	rep.Correct = 0
	for i := range correct {
		correct[i] = rep.CleanPred[i] == rep.Labels[i]
		if correct[i] {
			rep.Correct++
		}
	}
	rep.CleanAccuracy = float64(rep.Correct) / float64(max(n, 1))
	rep.Attacks, rep.AutoAttack, rep.WorstCase, rep.Checks, rep.Unbounded, rep.Gradients = nil, nil, nil, nil, nil, nil
	randomised := oc.Passes > 1
	for _, e := range oc.Attacks {
		ar := AttackReport{Name: e.Name, Kind: e.Kind, Targeted: e.Targeted, Skipped: e.Skipped, Seconds: e.Seconds}
		for k := range e.Eps {
			ar.Results = append(ar.Results, summariseOutcomes(&e.Eps[k], e.Kind == BlackBoxKind, randomised))
		}
		rep.Attacks = append(rep.Attacks, ar)
	}
	// The cascade: at each eps, each stage fools samples still robust.
	cascadeRobust := make([][]bool, len(rep.Eps))
	robust := slices.Clone(correct)
	mean := make([]float64, n)
	for i, c := range correct {
		if c {
			mean[i] = 1
		}
	}
	for k, e := range rep.Eps {
		cr := CascadeReport{Eps: e}
		for _, st := range oc.Cascade {
			sr := StageResult{Name: st.Name, Kind: st.Kind, Skipped: st.Skipped}
			if st.Skipped != "" {
				sr.RobustAccuracy = fraction(robust)
				cr.Stages = append(cr.Stages, sr)
				continue
			}
			row := &st.Eps[k]
			for i := 0; i < n; i++ {
				if !row.attacked(i) {
					continue
				}
				sr.Attacked++
				sr.TotalQueries += row.query(i)
				mean[i] = math.Min(mean[i], row.passShare(i))
				if row.fooled(i) {
					robust[i] = false
					sr.Fooled++
				}
			}
			sr.RobustAccuracy = fraction(robust)
			sr.Seconds = row.Seconds
			cr.Stages = append(cr.Stages, sr)
		}
		cr.RobustAccuracy = fraction(robust)
		if randomised {
			cr.MeanRobustAccuracy = batch.Mean(mean)
		}
		cascadeRobust[k] = slices.Clone(robust)
		if len(oc.Cascade) > 0 {
			rep.AutoAttack = append(rep.AutoAttack, cr)
		}
	}
	// The worst case per sample.
	for k, e := range rep.Eps {
		wc := WorstCase{Eps: e, Robust: slices.Clone(cascadeRobust[k])}
		for _, a := range oc.Attacks {
			for j := range a.Eps {
				r := &a.Eps[j]
				if r.Eps > e {
					continue
				}
				for i := range wc.Robust {
					if r.fooled(i) {
						wc.Robust[i] = false
					}
				}
			}
		}
		wc.RobustAccuracy = fraction(wc.Robust)
		rep.WorstCase = append(rep.WorstCase, wc)
	}
	c := checker{rep: rep, n: n, tol: oc.Tolerance}
	c.oneStep()
	c.blackBox()
	c.epsMonotone()
	c.unbounded()
	c.gradients()
	c.randomised()
}

// summariseOutcomes is an attack's report row at one eps.
func summariseOutcomes(r *EpsOutcomes, blackBox, randomised bool) AttackResult {
	n := len(r.States)
	res := AttackResult{Eps: r.Eps, Robust: make([]bool, n)}
	var norms, qs []float64
	meanRobust := 0.0
	for i := 0; i < n; i++ {
		if !r.attacked(i) {
			continue
		}
		res.Attacked++
		res.Robust[i] = r.robust(i)
		res.TotalQueries += r.query(i)
		meanRobust += r.passShare(i)
		if r.States[i] == StateSucceeded {
			res.Succeeded++
			norms = append(norms, r.Norms[i])
			qs = append(qs, float64(r.query(i)))
		}
	}
	res.RobustAccuracy = fraction(res.Robust)
	if randomised {
		res.MeanRobustAccuracy = meanRobust / float64(max(n, 1))
	}
	if res.Attacked > 0 {
		res.SuccessRate = float64(res.Succeeded) / float64(res.Attacked)
	}
	res.MedianNorm, res.MeanNorm = batch.Median(norms), batch.Mean(norms)
	if blackBox {
		res.MedianQueries, res.MeanQueries = batch.Median(qs), batch.Mean(qs)
	}
	return res
}
