package robustness

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/tensor"
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
)

// checks runs the gradient-masking checks and adds them to rep.
func (ev *evaluator) checks(rep *Report, eps []float64, runs [][]*entryEps, stageRuns [][]*entryEps, idx []int) error {
	c := checker{ev: ev, rep: rep, eps: eps, runs: runs, stageRuns: stageRuns}
	c.oneStep()
	c.blackBox()
	c.epsMonotone()
	if ev.s.Unbounded != nil && ev.tgt.module != nil && len(idx) > 0 {
		if err := c.unbounded(idx); err != nil {
			return err
		}
	}
	if ev.s.GradientCheck && ev.tgt.module != nil && len(idx) > 0 {
		if err := c.gradients(idx); err != nil {
			return fmt.Errorf("robustness.Evaluate: gradient check: %w", err)
		}
	}
	return nil
}

// checker holds what the masking checks compare: the one-by-one attacks'
// outcomes per eps (runs) and the cascade's per eps and stage (stageRuns).
type checker struct {
	ev        *evaluator
	rep       *Report
	eps       []float64
	runs      [][]*entryEps
	stageRuns [][]*entryEps
}

// over reports whether a difference of share of the samples fires a check:
// it must exceed the tolerance and one sample (a single sample is within
// the noise of any attack).
func (c *checker) over(share float64) bool {
	n := float64(c.ev.n)
	return share*n > math.Max(c.ev.tol*n, 1)+1e-9
}

// atEps returns attack k's outcome at eps e (nil when it did not run there).
func (c *checker) atEps(k int, e float64) *entryEps {
	for _, r := range c.runs[k] {
		if r.eps == e {
			return r
		}
	}
	return nil
}

// accOf returns the robust accuracy of an outcome, over all samples.
func (c *checker) accOf(r *entryEps) float64 {
	n := 0
	for i := range r.robust {
		if r.attacked[i] && r.robust[i] {
			n++
		}
	}
	return float64(n) / float64(c.ev.n)
}

// oneStep is CheckOneStep: no untargeted one-step attack may beat an
// untargeted iterative one at the same eps.
func (c *checker) oneStep() {
	atks := c.ev.s.Attacks
	var done, flag bool
	var detail string
	for _, e := range c.eps {
		for a, ea := range atks {
			ra := c.atEps(a, e)
			if ra == nil || ea.kind() != OneStep || ea.Targets != nil {
				continue
			}
			for b, eb := range atks {
				rb := c.atEps(b, e)
				if rb == nil || eb.kind() != Iterative || eb.Targets != nil {
					continue
				}
				done = true
				if accA, accB := c.accOf(ra), c.accOf(rb); c.over(accB - accA) {
					flag = true
					detail += fmt.Sprintf("at eps %g, %s leaves %.4f robust and %s %.4f; ", e, ea.DisplayName(), accA, eb.DisplayName(), accB)
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
	var done, flag bool
	var detail string
	for k, e := range c.eps {
		white := make([]bool, c.ev.n)
		black := make([]bool, c.ev.n)
		haveWhite, haveBlack := false, false
		mark := func(r *entryEps, kind AttackKind) {
			if r == nil {
				return
			}
			dst := white
			if kind == BlackBoxKind {
				dst, haveBlack = black, true
			} else {
				haveWhite = true
			}
			for i := range r.robust {
				if r.attacked[i] && !r.robust[i] {
					dst[i] = true
				}
			}
		}
		for a, ea := range c.ev.s.Attacks {
			mark(c.atEps(a, e), ea.kind())
		}
		for j, st := range c.ev.s.AutoAttack {
			mark(c.stageRuns[k][j], st.kind())
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
		if share := float64(only) / float64(c.ev.n); c.over(share) {
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
	for a, ea := range c.ev.s.Attacks {
		rs := c.runs[a]
		for k := 1; k < len(rs); k++ {
			done = true
			if p, q := c.accOf(rs[k-1]), c.accOf(rs[k]); c.over(q - p) {
				flag = true
				detail += fmt.Sprintf("%s: %.4f at eps %g, %.4f at eps %g; ", ea.DisplayName(), p, rs[k-1].eps, q, rs[k].eps)
			}
		}
	}
	if done {
		c.rep.addCheck(CheckEpsMonotone, flag, detail, "every attack's robust accuracy falls (or stays) as eps grows")
	}
}

// unbounded is CheckUnbounded: the suite's unbounded attack, at eps =
// +Inf, must fool every correct sample idx.
func (c *checker) unbounded(idx []int) error {
	ev := c.ev
	e := SuiteAttack{Attack: ev.s.Unbounded}
	// Run at +Inf: through runEntry, which would reject an infinite eps
	// in a suite list but not here.
	rs, err := ev.runEntry(e, []float64{math.Inf(1)}, idx)
	if err != nil {
		return err
	}
	u := &UnboundedResult{Name: ev.s.Unbounded.Name(), Attacked: len(idx)}
	for _, i := range idx {
		if !rs[0].robust[i] {
			u.Succeeded++
		}
	}
	u.SuccessRate = float64(u.Succeeded) / float64(u.Attacked)
	c.rep.Unbounded = u
	flag := u.Succeeded < u.Attacked
	detail := fmt.Sprintf("%s at eps = +Inf fooled %d of %d correct samples (%.4f)", u.Name, u.Succeeded, u.Attacked, u.SuccessRate)
	c.rep.addCheck(CheckUnbounded, flag, detail, detail)
	ev.logf("unbounded check: %s", detail)
	return nil
}

// gradients is CheckGradients: the input gradients of the cross-entropy at
// the correct samples idx may not be all zero or non-finite.
func (c *checker) gradients(idx []int) error {
	ev := c.ev
	g := &GradientResult{Checked: len(idx)}
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
			zero, bad := gradientFaults(grad)
			g.Zero += zero
			g.NonFinite += bad
		}
		return nil
	})
	if err != nil {
		return err
	}
	share := float64(g.Zero+g.NonFinite) / float64(g.Checked)
	c.rep.Gradients = g
	faulty := float64(g.Zero+g.NonFinite) > math.Max(ev.tol*float64(g.Checked), 1)
	detail := fmt.Sprintf("%d of %d correct samples have an all-zero input gradient and %d a NaN or infinite one (%.4f)", g.Zero, g.Checked, g.NonFinite, share)
	c.rep.addCheck(CheckGradients, faulty, detail, detail)
	ev.logf("gradient check: %s", detail)
	return nil
}

// gradientFaults counts the samples of grad [N, ...] whose gradient is
// zero everywhere, and those holding a NaN or an infinity.
func gradientFaults(grad *tensor.Tensor) (zero, bad int) {
	n := grad.Dim(0)
	d := grad.Len() / n
	for i := 0; i < n; i++ {
		allZero, finite := true, true
		for _, v := range batch.Row(grad.Data(), i, d) {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				finite = false
			}
			if v != 0 {
				allZero = false
			}
		}
		switch {
		case !finite:
			bad++
		case allZero:
			zero++
		}
	}
	return zero, bad
}
