package robustness

import (
	"fmt"
	"math"
	"time"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
)

// The names of the gradient-masking checks (Check.Name).
const (
	// CheckOneStep flags a one-step attack (FGSM, FGM) with a robust
	// accuracy below an iterative white-box attack's at the same eps: an
	// iterative attack includes the one step's direction and should never do
	// worse, unless its gradients mislead it.
	CheckOneStep = "one-step beats iterative"
	// CheckBlackBox flags samples that a black-box attack (scores, labels
	// or transfer) fooled although every white-box attack at the same eps
	// failed on them: with true gradients, white-box attacks are the
	// stronger.
	CheckBlackBox = "black-box beats white-box"
	// CheckEpsMonotone flags an attack whose robust accuracy rises with eps:
	// a larger ball contains the smaller one, so the accuracy can only fall.
	CheckEpsMonotone = "accuracy rises with eps"
	// CheckUnbounded flags an unbounded attack (eps = +Inf) that does not
	// fool every initially correct sample: with no bound, any input can be
	// moved to an image of another class.
	CheckUnbounded = "unbounded attack short of 100%"
	// CheckGradients flags zero or non-finite input gradients of the
	// cross-entropy at the clean samples: a gradient attack cannot move
	// from such a point.
	CheckGradients = "zero or NaN gradients"

	// CheckRandomised flags a model whose outputs differ between two passes
	// on the same input (dropout left on, random transforms): a single pass
	// measures the randomness rather than the robustness, so every
	// adversarial example is scored over Suite.Passes passes and the
	// cascade follows AutoAttack's rand version (EOT).
	CheckRandomised = "randomised outputs"
)

// checker computes the gradient-masking checks of a report from its
// per-sample outcomes.
type checker struct {
	rep *Report
	n   int
	tol float64
}

// over reports whether a difference of share of the samples fires a check:
// it must exceed the tolerance and one sample (a single sample is within
// the noise of any attack).
func (c *checker) over(share float64) bool {
	n := float64(c.n)
	return share*n > math.Max(c.tol*n, 1)+1e-9
}

// atEps returns entry e's outcome at eps (nil when it did not run there).
func atEps(e *EntryOutcomes, eps float64) *EpsOutcomes {
	for k := range e.Eps {
		if e.Eps[k].Eps == eps {
			return &e.Eps[k]
		}
	}
	return nil
}

// accOf returns the robust accuracy of an outcome, over all samples.
func (c *checker) accOf(r *EpsOutcomes) float64 {
	n := 0
	for i := 0; i < len(r.States); i++ {
		if r.robust(i) {
			n++
		}
	}
	return float64(n) / float64(max(c.n, 1))
}

// oneStep is CheckOneStep: no untargeted one-step attack may beat an
// untargeted iterative one at the same eps.
func (c *checker) oneStep() {
	atks := c.rep.Outcomes.Attacks
	var done, flag bool
	var detail string
	for _, e := range c.rep.Eps {
		for a := range atks {
			ea := &atks[a]
			ra := atEps(ea, e)
			if ra == nil || ea.Kind != OneStep || ea.Targeted {
				continue
			}
			for b := range atks {
				eb := &atks[b]
				rb := atEps(eb, e)
				if rb == nil || eb.Kind != Iterative || eb.Targeted {
					continue
				}
				done = true
				if accA, accB := c.accOf(ra), c.accOf(rb); c.over(accB - accA) {
					flag = true
					detail += fmt.Sprintf("at eps %g, %s leaves %.4f robust and %s %.4f; ", e, ea.Name, accA, eb.Name, accB)
				}
			}
		}
	}
	if done {
		c.rep.addCheck(CheckOneStep, flag, detail, "every iterative attack at least as strong as every one-step attack")
	}
}

// blackBox is CheckBlackBox: black-box attacks may not fool samples that
// every white-box attack (one by one or in the cascade) left robust.
func (c *checker) blackBox() {
	oc := c.rep.Outcomes
	var done, flag bool
	var detail string
	for k, e := range c.rep.Eps {
		white := make([]bool, c.n)
		black := make([]bool, c.n)
		haveWhite, haveBlack := false, false
		mark := func(r *EpsOutcomes, kind AttackKind) {
			if r == nil {
				return
			}
			dst := white
			if kind == BlackBoxKind {
				dst, haveBlack = black, true
			} else {
				haveWhite = true
			}
			for i := 0; i < len(r.States); i++ {
				if r.fooled(i) {
					dst[i] = true
				}
			}
		}
		for a := range oc.Attacks {
			mark(atEps(&oc.Attacks[a], e), oc.Attacks[a].Kind)
		}
		for j := range oc.Cascade {
			if st := &oc.Cascade[j]; st.Skipped == "" {
				mark(&st.Eps[k], st.Kind)
			}
		}
		if !haveWhite || !haveBlack {
			continue
		}
		done = true
		only := 0
		for i := range white {
			if black[i] && !white[i] {
				only++
			}
		}
		if share := float64(only) / float64(max(c.n, 1)); c.over(share) {
			flag = true
			detail += fmt.Sprintf("at eps %g, %d samples (%.4f) fooled by a black-box attack and by no white-box one; ", e, only, share)
		}
	}
	if done {
		c.rep.addCheck(CheckBlackBox, flag, detail, "no black-box attack fooled more than the tolerance of samples that every white-box attack left robust")
	}
}

// epsMonotone is CheckEpsMonotone: no attack's robust accuracy may rise
// with eps.
func (c *checker) epsMonotone() {
	var done, flag bool
	var detail string
	for _, ea := range c.rep.Outcomes.Attacks {
		rs := ea.Eps
		for k := 1; k < len(rs); k++ {
			done = true
			if p, q := c.accOf(&rs[k-1]), c.accOf(&rs[k]); c.over(q - p) {
				flag = true
				detail += fmt.Sprintf("%s: %.4f at eps %g, %.4f at eps %g; ", ea.Name, p, rs[k-1].Eps, q, rs[k].Eps)
			}
		}
	}
	if done {
		c.rep.addCheck(CheckEpsMonotone, flag, detail, "every attack's robust accuracy falls (or stays) as eps grows")
	}
}

// unbounded is CheckUnbounded: the suite's unbounded attack, at eps =
// +Inf, must fool every correct sample.
func (c *checker) unbounded() {
	ue := c.rep.Outcomes.Unbounded
	if ue == nil {
		return
	}
	r := &ue.Eps[0]
	u := &UnboundedResult{Name: ue.Name}
	for i := 0; i < len(r.States); i++ {
		if r.attacked(i) {
			u.Attacked++
			if r.fooled(i) {
				u.Succeeded++
			}
		}
	}
	if u.Attacked == 0 {
		return
	}
	u.SuccessRate = float64(u.Succeeded) / float64(u.Attacked)
	c.rep.Unbounded = u
	flag := u.Succeeded < u.Attacked
	detail := fmt.Sprintf("%s at eps = +Inf fooled %d of %d correct samples (%.4f)", u.Name, u.Succeeded, u.Attacked, u.SuccessRate)
	c.rep.addCheck(CheckUnbounded, flag, detail, detail)
}

// gradients is CheckGradients: the input gradients of the cross-entropy at
// the correct samples may not be all zero or non-finite.
func (c *checker) gradients() {
	gs := c.rep.Outcomes.Gradients
	if gs == "" {
		return
	}
	g := &GradientResult{}
	for i := 0; i < len(gs); i++ {
		switch gs[i] {
		case '.':
			g.Checked++
		case 'z':
			g.Checked++
			g.Zero++
		case 'n':
			g.Checked++
			g.NonFinite++
		}
	}
	if g.Checked == 0 {
		return
	}
	share := float64(g.Zero+g.NonFinite) / float64(g.Checked)
	c.rep.Gradients = g
	faulty := float64(g.Zero+g.NonFinite) > math.Max(c.tol*float64(g.Checked), 1)
	detail := fmt.Sprintf("%d of %d correct samples have an all-zero input gradient and %d a NaN or infinite one (%.4f)", g.Zero, g.Checked, g.NonFinite, share)
	c.rep.addCheck(CheckGradients, faulty, detail, detail)
}

// randomised is CheckRandomised.
func (c *checker) randomised() {
	r := c.rep.Randomised
	if r == nil {
		return
	}
	if !r.Detected {
		c.rep.addCheck(CheckRandomised, false, "", "two passes on the clean samples gave identical outputs")
		return
	}
	d := fmt.Sprintf("two passes on the clean samples differ (largest output difference %.4g): every adversarial example scored over %d passes (robust only if all classify it correctly; the mean over the passes is reported too)", r.MaxDifference, r.Passes)
	if r.Protocol != "" {
		d += "; " + r.Protocol
	}
	c.rep.addCheck(CheckRandomised, true, d, "")
}

// unboundedRun runs the suite's unbounded attack, at eps = +Inf, on the
// correct samples idx.
func (ev *evaluator) unboundedRun(idx []int) (*EntryOutcomes, error) {
	e := SuiteAttack{Attack: ev.s.Unbounded}
	// Run at +Inf: through runEntry, which would reject an infinite eps
	// in a suite list but not here.
	t0 := time.Now()
	rs, err := ev.runEntry(e, []float64{math.Inf(1)}, idx)
	if err != nil {
		return nil, err
	}
	ok := 0
	for _, i := range idx {
		if !rs[0].robust[i] {
			ok++
		}
	}
	ev.logf("unbounded check: %s at eps = +Inf fooled %d of %d correct samples", ev.s.Unbounded.Name(), ok, len(idx))
	rs[0].eps = 0 // JSON holds no infinity; the row is the unbounded attack's
	o := &EntryOutcomes{Name: ev.s.Unbounded.Name(), Kind: Iterative, Seconds: time.Since(t0).Seconds(), Eps: []EpsOutcomes{rs[0].toOutcomes(1)}}
	o.Eps[0].Seconds = o.Seconds
	return o, nil
}

// gradientRun computes the input gradient of the cross-entropy at the
// correct samples idx and returns each sample's state (see
// Outcomes.Gradients).
func (ev *evaluator) gradientRun(idx []int) (string, error) {
	st := make([]byte, ev.n)
	for i := range st {
		st[i] = '-'
	}
	err := attacks.WithAttackMode(ev.tgt.module, func(m *attacks.Model) error {
		for s := 0; s < len(idx); s += ev.bs {
			if err := ev.ctx.Err(); err != nil {
				return err
			}
			rows := idx[s:min(s+ev.bs, len(idx))]
			grad, _, err := m.Gradient(batch.Select(ev.x, rows), attacks.Untargeted(batch.SelectInts(ev.labels, rows)), attacks.CrossEntropyLoss)
			if err != nil {
				return err
			}
			for j, i := range rows {
				st[i] = gradientState(batch.Row(grad.Data(), j, grad.Len()/grad.Dim(0)))
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("robustness.Evaluate: gradient check: %w", err)
	}
	return string(st), nil
}

// gradientState is '.' for a usable gradient, 'z' for an all-zero one and
// 'n' for one holding a NaN or an infinity.
func gradientState(g []float32) byte {
	allZero := true
	for _, v := range g {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 'n'
		}
		if v != 0 {
			allZero = false
		}
	}
	if allZero {
		return 'z'
	}
	return '.'
}
