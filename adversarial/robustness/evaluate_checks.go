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
	s := ev.s
	tol := ev.tol
	// A check fires when the difference exceeds the tolerance and one
	// sample: a single sample is within the noise of any attack.
	limit := math.Max(tol*float64(ev.n), 1)
	over := func(share float64) bool { return share*float64(ev.n) > limit+1e-9 }
	atEps := func(k int, e float64) *entryEps {
		for _, r := range runs[k] {
			if r.eps == e {
				return r
			}
		}
		return nil
	}
	accOf := func(r *entryEps) float64 {
		c := 0
		for i := range r.robust {
			if r.attacked[i] && r.robust[i] {
				c++
			}
		}
		return float64(c) / float64(ev.n)
	}
	// One-step beats iterative.
	var oneStepDone bool
	var oneStepFlag bool
	var oneStepDetail string
	for _, e := range eps {
		for a, ea := range s.Attacks {
			ra := atEps(a, e)
			if ra == nil || ea.kind() != OneStep || ea.Targets != nil {
				continue
			}
			for b, eb := range s.Attacks {
				rb := atEps(b, e)
				if rb == nil || eb.kind() != Iterative || eb.Targets != nil {
					continue
				}
				oneStepDone = true
				if accA, accB := accOf(ra), accOf(rb); over(accB - accA) {
					oneStepFlag = true
					oneStepDetail += fmt.Sprintf("at eps %g, %s leaves %.4f robust and %s %.4f; ", e, ea.DisplayName(), accA, eb.DisplayName(), accB)
				}
			}
		}
	}
	if oneStepDone {
		rep.addCheck(CheckOneStep, oneStepFlag, oneStepDetail, "every iterative attack at least as strong as every one-step attack")
	}
	// Black-box beats white-box.
	var bbDone, bbFlag bool
	var bbDetail string
	for k, e := range eps {
		white := make([]bool, ev.n)
		black := make([]bool, ev.n)
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
		for a, ea := range s.Attacks {
			mark(atEps(a, e), ea.kind())
		}
		for j, st := range s.AutoAttack {
			mark(stageRuns[k][j], st.kind())
		}
		if !haveWhite || !haveBlack {
			continue
		}
		bbDone = true
		only := 0
		for i := range white {
			if black[i] && !white[i] {
				only++
			}
		}
		if share := float64(only) / float64(ev.n); over(share) {
			bbFlag = true
			bbDetail += fmt.Sprintf("at eps %g, %d samples (%.4f) fooled by a black-box attack and by no white-box one; ", e, only, share)
		}
	}
	if bbDone {
		rep.addCheck(CheckBlackBox, bbFlag, bbDetail, "no black-box attack fooled more than the tolerance of samples that every white-box attack left robust")
	}
	// Accuracy rising with eps.
	var monoDone, monoFlag bool
	var monoDetail string
	for a, ea := range s.Attacks {
		rs := runs[a]
		for k := 1; k < len(rs); k++ {
			monoDone = true
			if p, q := accOf(rs[k-1]), accOf(rs[k]); over(q - p) {
				monoFlag = true
				monoDetail += fmt.Sprintf("%s: %.4f at eps %g, %.4f at eps %g; ", ea.DisplayName(), p, rs[k-1].eps, q, rs[k].eps)
			}
		}
	}
	if monoDone {
		rep.addCheck(CheckEpsMonotone, monoFlag, monoDetail, "every attack's robust accuracy falls (or stays) as eps grows")
	}
	// The unbounded attack.
	if s.Unbounded != nil && ev.tgt.module != nil && len(idx) > 0 {
		e := SuiteAttack{Attack: s.Unbounded}
		// Run at +Inf: through runEntry, which would reject an infinite eps
		// in a suite list but not here.
		rs, err := ev.runEntry(e, []float64{math.Inf(1)}, idx)
		if err != nil {
			return err
		}
		u := &UnboundedResult{Name: s.Unbounded.Name(), Attacked: len(idx)}
		for _, i := range idx {
			if !rs[0].robust[i] {
				u.Succeeded++
			}
		}
		u.SuccessRate = float64(u.Succeeded) / float64(u.Attacked)
		rep.Unbounded = u
		flag := u.Succeeded < u.Attacked
		detail := fmt.Sprintf("%s at eps = +Inf fooled %d of %d correct samples (%.4f)", u.Name, u.Succeeded, u.Attacked, u.SuccessRate)
		rep.addCheck(CheckUnbounded, flag, detail, detail)
		ev.logf("unbounded check: %s", detail)
	}
	// Zero or NaN gradients.
	if s.GradientCheck && ev.tgt.module != nil && len(idx) > 0 {
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
			return fmt.Errorf("robustness.Evaluate: gradient check: %w", err)
		}
		share := float64(g.Zero+g.NonFinite) / float64(g.Checked)
		rep.Gradients = g
		faulty := float64(g.Zero+g.NonFinite) > math.Max(tol*float64(g.Checked), 1)
		detail := fmt.Sprintf("%d of %d correct samples have an all-zero input gradient and %d a NaN or infinite one (%.4f)", g.Zero, g.Checked, g.NonFinite, share)
		rep.addCheck(CheckGradients, faulty, detail, detail)
		ev.logf("gradient check: %s", detail)
	}
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
