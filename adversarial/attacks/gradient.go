package attacks

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/tensor"
)

// FGSM is the fast gradient sign method of Goodfellow et al. (2015), an
// L-inf attack: one step x' = clip(x + eps * sign(grad_x L(f(x), y))) for
// Untargeted, x' = clip(x - eps * sign(grad_x L(f(x), t))) for Targeted.
// A one-step attack has one candidate, so FGSM returns the step itself.
//
// For FGSM with a random start (the "fast adversarial training" of Wong et
// al., 2020), use PGD{Steps: 1, Alpha: 1.25 * eps, RandomStart: true,
// LastIterate: true}.
type FGSM struct {
	// Loss is the loss the step increases (nil: CrossEntropyLoss).
	Loss Loss
}

// Name returns "FGSM".
func (FGSM) Name() string { return "FGSM" }

// Perturb implements Attack. The threat model must be Linf (use FGM for L2).
func (a FGSM) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if tm.Norm != Linf {
		return nil, fmt.Errorf("FGSM is an Linf attack, the threat model is %v (use FGM)", tm.Norm)
	}
	return FGM(a).Perturb(ctx, m, x, c, tm)
}

// FGM is the fast gradient method for the threat model's norm: one step of
// length eps along the steepest-ascent direction of the loss, then clipped
// into the box. For L2 the step is eps * g / ||g||_2 (per sample; a zero
// gradient gives no step); for Linf it is eps * sign(g), which is FGSM.
// L1 is not supported (its steepest direction moves a single pixel).
type FGM struct {
	// Loss is the loss the step increases (nil: CrossEntropyLoss).
	Loss Loss
}

// Name returns "FGM".
func (FGM) Name() string { return "FGM" }

// Perturb implements Attack.
func (a FGM) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if tm.Norm == L1 {
		return nil, fmt.Errorf("FGM does not support L1 (use PGD, whose L1 step is sparse)")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	grad, _, err := m.Gradient(x, c, a.Loss)
	if err != nil {
		return nil, err
	}
	adv := x.Clone()
	s := newStepper(tm, 0, false, 0)
	s.direction(grad, adv)
	addScaled(adv, grad, tm.Eps)
	tm.ProjectThenClip(x, adv)
	return adv, nil
}

// PGD is projected gradient descent (Madry et al., 2018; Kurakin et al.'s
// BIM with a random start) for the threat model's norm. From x0 (x itself,
// or with RandomStart a uniform point of the eps-ball, clipped to the box),
// each of Steps steps is
//
//	Linf: x = clip(proj(x + Alpha * sign(g)))
//	L2:   x = clip(proj(x + Alpha * g / ||g||_2))
//	L1:   x = proj(x + Alpha * e), e the sparse L1 direction below
//
// with g the gradient of the loss (ascended for Untargeted, descended on the
// target for Targeted; see Model.Gradient), proj the projection onto the
// eps-ball around the input and clip the box (ThreatModel.ProjectThenClip;
// for L1 the exact projection onto ball and box, ThreatModel.Project). The
// L1 step is Tramer and Boneh's sparse L1 descent (SLIDE): e is sign(g) on
// the coordinates whose |g| is in the top L1Sparsity quantile among those
// that can still move, scaled to ||e||_1 = 1.
//
// Every iterate (the start and after each step) is evaluated, and each
// sample keeps the best: adversarial if any iterate was, with the largest
// margin (see Margins). Restarts runs the attack Restarts times from new
// random starts, only on the samples not yet adversarial, keeping each
// sample's best over the runs, so more restarts never give a worse sample.
//
// With LastIterate the attack returns each run's last iterate instead (as
// Madry's adversarial training does); evaluations should leave it false.
type PGD struct {
	// Steps is the number of steps (0: 10).
	Steps int
	// Alpha is the step size in the norm's units (0: 2.5 * eps / Steps,
	// Madry et al.'s rule).
	Alpha float64
	// RandomStart starts from a uniform point of the eps-ball.
	RandomStart bool
	// Restarts is the number of runs (0 or 1: one); runs after the first
	// start from new random points (from x itself without RandomStart,
	// which gives the same run again, so it is then pointless).
	Restarts int
	// Loss is the loss (nil: CrossEntropyLoss).
	Loss Loss
	// L1Sparsity is the quantile of SLIDE's sparse L1 step (0: 0.99).
	L1Sparsity float64
	// LastIterate returns the last iterate instead of the best one.
	LastIterate bool
	// Seed seeds the random starts (per sample, see SampleRNGs). A
	// sample's start depends on the seed and its pixels only, so a trainer
	// that wants fresh starts for the same image in every epoch changes the
	// seed between batches.
	Seed uint64
}

// Name returns "PGD-<steps>", with "x<restarts>" when restarting.
func (a PGD) Name() string {
	s := fmt.Sprintf("PGD-%d", batch.OrDefault(a.Steps, 10))
	if a.Restarts > 1 {
		s += fmt.Sprintf("x%d", a.Restarts)
	}
	return s
}

// Perturb implements Attack.
func (a PGD) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	steps := batch.OrDefault(a.Steps, 10)
	alpha := a.Alpha
	if alpha == 0 {
		alpha = 2.5 * tm.Eps / float64(steps)
	}
	return iterate(ctx, m, x, c, tm, iterSpec{
		steps: steps, alpha: alpha, randomStart: a.RandomStart, restarts: max(a.Restarts, 1),
		loss: a.Loss, sparsity: a.L1Sparsity, last: a.LastIterate, seed: a.Seed,
	})
}

// BIM is the basic iterative method of Kurakin et al. (2017): PGD without a
// random start, Steps steps of size Alpha from x itself, for any norm PGD
// supports. It keeps each sample's best iterate, as PGD does.
type BIM struct {
	// Steps is the number of steps (0: 10).
	Steps int
	// Alpha is the step size (0: 1.25 * eps / Steps, so that the steps
	// can cross the ball and back a little, as Kurakin et al.'s rule).
	Alpha float64
	// Loss is the loss (nil: CrossEntropyLoss).
	Loss Loss
	// LastIterate returns the last iterate instead of the best one.
	LastIterate bool
}

// Name returns "BIM-<steps>".
func (a BIM) Name() string { return fmt.Sprintf("BIM-%d", batch.OrDefault(a.Steps, 10)) }

// Perturb implements Attack.
func (a BIM) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	steps := batch.OrDefault(a.Steps, 10)
	alpha := a.Alpha
	if alpha == 0 {
		alpha = 1.25 * tm.Eps / float64(steps)
	}
	return iterate(ctx, m, x, c, tm, iterSpec{steps: steps, alpha: alpha, restarts: 1, loss: a.Loss, last: a.LastIterate})
}

// MIFGSM is the momentum iterative FGSM of Dong et al. (2018): BIM whose
// direction is the sign (Linf) or the L2-normalised value (L2) of an
// accumulated gradient g_{t+1} = Decay * g_t + grad / ||grad||_1.
type MIFGSM struct {
	// Steps is the number of steps (0: 10).
	Steps int
	// Alpha is the step size (0: eps / Steps, the paper's choice).
	Alpha float64
	// Decay is the momentum factor mu (0: 1.0, the paper's choice; for no
	// momentum use BIM).
	Decay float64
	// Loss is the loss (nil: CrossEntropyLoss).
	Loss Loss
	// LastIterate returns the last iterate instead of the best one.
	LastIterate bool
}

// Name returns "MI-FGSM-<steps>".
func (a MIFGSM) Name() string { return fmt.Sprintf("MI-FGSM-%d", batch.OrDefault(a.Steps, 10)) }

// Perturb implements Attack. L1 is not supported.
func (a MIFGSM) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if tm.Norm == L1 {
		return nil, fmt.Errorf("MI-FGSM supports Linf and L2, not L1")
	}
	steps := batch.OrDefault(a.Steps, 10)
	alpha := a.Alpha
	if alpha == 0 {
		alpha = tm.Eps / float64(steps)
	}
	decay := a.Decay
	if decay == 0 {
		decay = 1
	}
	return iterate(ctx, m, x, c, tm, iterSpec{steps: steps, alpha: alpha, restarts: 1, loss: a.Loss, last: a.LastIterate, momentum: true, decay: decay})
}

// iterSpec is the configuration shared by the iterative gradient attacks.
type iterSpec struct {
	steps       int
	alpha       float64
	randomStart bool
	restarts    int
	loss        Loss
	sparsity    float64
	last        bool
	seed        uint64
	momentum    bool
	decay       float64
}

// best holds, per sample, the best point found so far and its key.
type best struct {
	x      *tensor.Tensor
	adv    []bool
	margin []float64
}

func newBest(x *tensor.Tensor) *best {
	n := x.Dim(0)
	b := &best{x: x.Clone(), adv: make([]bool, n), margin: make([]float64, n)}
	for i := range b.margin {
		b.margin[i] = math.Inf(-1)
	}
	return b
}

// better reports whether (adv, margin) beats sample i's current best.
func (b *best) better(i int, adv bool, margin float64) bool {
	if adv != b.adv[i] {
		return adv
	}
	return margin > b.margin[i]
}

// offer records the rows of x whose key beats the current best; rows maps
// x's row k to sample rows[k] of b (nil: the identity).
func (b *best) offer(x *tensor.Tensor, adv []bool, margin []float64, rows []int) {
	d := x.Len() / x.Dim(0)
	for k := range adv {
		i := k
		if rows != nil {
			i = rows[k]
		}
		if b.better(i, adv[k], margin[k]) {
			b.adv[i], b.margin[i] = adv[k], margin[k]
			copy(b.x.Data()[i*d:(i+1)*d], x.Data()[k*d:(k+1)*d])
		}
	}
}

// iterate runs the iterative attack described by s, with restarts on the
// samples not yet adversarial, and returns each sample's best point.
func iterate(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel, s iterSpec) (*tensor.Tensor, error) {
	if s.alpha < 0 || math.IsNaN(s.alpha) || math.IsInf(s.alpha, 0) {
		return nil, fmt.Errorf("step size %v is not a finite number >= 0", s.alpha)
	}
	if s.sparsity < 0 || s.sparsity >= 1 {
		return nil, fmt.Errorf("L1Sparsity %v must be in [0, 1)", s.sparsity)
	}
	n := x.Dim(0)
	var rngs []*tensor.RNG
	if s.randomStart {
		rngs = SampleRNGs(s.seed, x)
	}
	b := newBest(x)
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	for r := 0; r < s.restarts && len(rows) > 0; r++ {
		xs, cs, gs := x, c, rngs
		if len(rows) < n {
			xs = batch.Select(x, rows)
			cs = c.Select(rows)
			if rngs != nil {
				gs = make([]*tensor.RNG, len(rows))
				for k, i := range rows {
					gs[k] = rngs[i]
				}
			}
		}
		if err := run1(ctx, m, xs, cs, tm, s, gs, b, rows); err != nil {
			return nil, err
		}
		if !s.randomStart {
			break // a rerun from x would repeat this one exactly
		}
		var still []int
		for _, i := range rows {
			if !b.adv[i] {
				still = append(still, i)
			}
		}
		rows = still
	}
	return b.x, nil
}

// run1 is one run of the iterative attack on the batch x0 (rows of the
// attacked batch given by rows), offering its iterates to b.
func run1(ctx context.Context, m *Model, x0 *tensor.Tensor, c Criterion, tm ThreatModel, s iterSpec, rngs []*tensor.RNG, b *best, rows []int) error {
	var xa *tensor.Tensor
	if s.randomStart {
		xa = tm.RandomStart(x0, rngs)
	} else {
		xa = x0.Clone()
	}
	st := newStepper(tm, s.sparsity, s.momentum, s.decay)
	offer := func(out *tensor.Tensor) error {
		if err := checkClasses(c, out.Dim(1)); err != nil {
			return err
		}
		b.offer(xa, c.IsAdversarial(out), Margins(out, c), rows)
		return nil
	}
	if tm.Eps == 0 {
		s.steps = 0 // the ball is the point x0
	}
	for t := 0; t < s.steps; t++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		grad, out, err := m.Gradient(xa, c, s.loss)
		if err != nil {
			return err
		}
		if !s.last {
			if err := offer(out); err != nil {
				return err
			}
		}
		st.step(x0, xa, grad, s.alpha)
	}
	if s.last && s.restarts == 1 {
		// No restart needs the keys: keep the last iterate without the
		// extra forward pass (Run evaluates the result anyway).
		d := xa.Len() / xa.Dim(0)
		for k, i := range rows {
			copy(b.x.Data()[i*d:(i+1)*d], xa.Data()[k*d:(k+1)*d])
		}
		return nil
	}
	out, err := m.Outputs(xa)
	if err != nil {
		return err
	}
	if s.last {
		// Keep the last iterate, whatever its key, but still record the key
		// so that restarts go on only where it failed.
		adv, mg := c.IsAdversarial(out), Margins(out, c)
		d := xa.Len() / xa.Dim(0)
		for k, i := range rows {
			if !b.adv[i] || adv[k] {
				b.adv[i], b.margin[i] = adv[k], mg[k]
				copy(b.x.Data()[i*d:(i+1)*d], xa.Data()[k*d:(k+1)*d])
			}
		}
		return nil
	}
	return offer(out)
}

// addScaled sets x += alpha * dir.
func addScaled(x, dir *tensor.Tensor, alpha float64) {
	a := float32(alpha)
	xd, dd := x.Data(), dir.Data()
	for j := range xd {
		xd[j] += a * dd[j]
	}
}

// stepper turns gradients into unit steps for a norm and projects.
type stepper struct {
	tm       ThreatModel
	sparsity float64
	momentum bool
	decay    float64
	acc      []float64
	abs      []float64
	lo, hi   []float32 // Linf bounds of each pixel, computed on the first step
}

func newStepper(tm ThreatModel, sparsity float64, momentum bool, decay float64) *stepper {
	if sparsity == 0 {
		sparsity = 0.99
	}
	return &stepper{tm: tm, sparsity: sparsity, momentum: momentum, decay: decay}
}

// direction replaces g, in place, by the unit step direction of each sample
// (sign for Linf, g/||g||_2 for L2, the sparse L1 direction for L1), after
// accumulating momentum when asked. x is the current point (for the L1
// step, which skips coordinates that the box blocks).
func (s *stepper) direction(g, x *tensor.Tensor) {
	n := g.Dim(0)
	d := g.Len() / n
	gd := g.Data()
	if s.momentum {
		if s.acc == nil {
			s.acc = make([]float64, len(gd))
		}
		for i := 0; i < n; i++ {
			row := gd[i*d : (i+1)*d]
			var l1 float64
			for _, v := range row {
				l1 += math.Abs(float64(v))
			}
			acc := s.acc[i*d : (i+1)*d]
			for j, v := range row {
				acc[j] *= s.decay
				if l1 > 0 {
					acc[j] += float64(v) / l1
				}
				row[j] = float32(acc[j])
			}
		}
	}
	switch s.tm.Norm {
	case Linf:
		signInPlace(gd)
	case L2:
		for i := 0; i < n; i++ {
			row := gd[i*d : (i+1)*d]
			var ss float64
			for _, v := range row {
				ss += float64(v) * float64(v)
			}
			nrm := math.Sqrt(ss)
			if nrm < 1e-12 {
				clear(row)
				continue
			}
			for j, v := range row {
				row[j] = float32(float64(v) / nrm)
			}
		}
	case L1:
		lo, hi := s.tm.Bounds()
		if cap(s.abs) < d {
			s.abs = make([]float64, d)
		}
		xd := x.Data()
		for i := 0; i < n; i++ {
			row := gd[i*d : (i+1)*d]
			xr := xd[i*d : (i+1)*d]
			abs := s.abs[:0]
			for j, v := range row {
				if blocked(v, xr[j], lo, hi) {
					row[j] = 0
				}
				if row[j] != 0 {
					abs = append(abs, math.Abs(float64(row[j])))
				}
			}
			if len(abs) == 0 {
				continue
			}
			slices.Sort(abs)
			thr := abs[min(int(math.Floor(s.sparsity*float64(len(abs)))), len(abs)-1)]
			cnt := 0
			for _, v := range row {
				if v != 0 && math.Abs(float64(v)) >= thr {
					cnt++
				}
			}
			for j, v := range row {
				switch {
				case v != 0 && math.Abs(float64(v)) >= thr:
					row[j] = float32(math.Copysign(1/float64(cnt), float64(v)))
				default:
					row[j] = 0
				}
			}
		}
	}
}

// signInPlace replaces each value of v by its sign (1, -1, or 0 for zero
// and NaN).
func signInPlace(v []float32) {
	for j, x := range v {
		switch {
		case x > 0:
			v[j] = 1
		case x < 0:
			v[j] = -1
		default:
			v[j] = 0
		}
	}
}

// blocked reports whether a step along gradient v cannot move a pixel at xv
// because it sits on the box's bound in that direction.
func blocked(v, xv float32, lo, hi float64) bool {
	return (v > 0 && float64(xv) >= hi) || (v < 0 && float64(xv) <= lo)
}

// step moves x by alpha along g's unit direction (g is overwritten) and
// puts it back into the threat model around x0: the standard ball-then-box
// projection for Linf and L2, the exact one for L1. The Linf step without
// momentum is one fused pass, with the per-pixel bounds of x0's ball and box
// computed once per run (x0 does not change between steps).
func (s *stepper) step(x0, x, g *tensor.Tensor, alpha float64) {
	if s.tm.Norm == Linf && !s.momentum {
		if s.lo == nil {
			lo, hi := s.tm.Bounds()
			s.lo = make([]float32, x0.Len())
			s.hi = make([]float32, x0.Len())
			for j, c := range x0.Data() {
				s.lo[j], s.hi[j] = linfBounds(float64(c), s.tm.Eps, lo, hi)
			}
		}
		a := float32(alpha)
		xd, gd := x.Data(), g.Data()
		for j, v := range gd {
			xv := xd[j]
			switch {
			case v > 0:
				xv += a
			case v < 0:
				xv -= a
			}
			xd[j] = min(max(xv, s.lo[j]), s.hi[j])
		}
		return
	}
	s.direction(g, x)
	addScaled(x, g, alpha)
	if s.tm.Norm == L1 {
		s.tm.Project(x0, x)
		return
	}
	s.tm.ProjectThenClip(x0, x)
}
