package attacks

import (
	"context"
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// CW is the L2 attack of Carlini and Wagner ("Towards Evaluating the
// Robustness of Neural Networks", 2017), a minimum-norm attack: for each
// sample it looks for the smallest L2 perturbation that fools the model.
//
// The box constraint is removed by the change of variables x = tanh(w) *
// (hi-lo)/2 + (hi+lo)/2, so every iterate lies in the box, and w is
// optimised by Adam (step LR, betas 0.9 and 0.999, eps 1e-8) on
//
//	||x - x0||_2^2 + c * f6(x),
//	f6 = max(z_y - max_{j != y} z_j + kappa, 0)   Untargeted(y)
//	f6 = max(max_{j != t} z_j - z_t + kappa, 0)   Targeted(t)
//
// over the logits z (the model's outputs; the true or target class is
// excluded from the max by masking it with -Inf before the max, not by a
// large negative constant after a softmax). The constant c is found per
// sample by a search of BinarySteps steps, from InitialConst: multiplied by
// 10 while no adversarial has been found with it, bisected between the
// largest failing and the smallest succeeding c afterwards (with at least
// 10 steps, the last one is run at the smallest succeeding c, as Carlini's
// code does). Every iterate of every search step is checked, and each
// sample keeps the adversarial with the smallest L2 norm (adversarial
// meaning the criterion holds with a margin of at least kappa); a sample
// for which none was found is returned unchanged.
//
// With abort early (the default), a sample's inner optimisation stops when,
// at one of ten evenly spaced checks, its loss has not fallen by 0.01% since
// the previous check. Carlini's and Foolbox's code make that test on the
// loss summed over the batch; here it is made per sample, so a sample's
// result does not depend on its batch.
//
// The zero value is Carlini and Wagner's attack as published (and
// Foolbox's L2CarliniWagnerAttack): 9 search steps of up to 10,000 Adam
// steps of 0.01, c from 1e-3, kappa 0. That is thorough and slow; a few
// hundred steps per search step usually find perturbations within a few
// per cent of it.
//
// CW takes an L2 threat model. As a MinimumNormAttack it is run by RunEps
// once without a bound and its result is projected onto each eps-ball.
type CW struct {
	// BinarySteps is the number of search steps over c (0: 9).
	BinarySteps int
	// Steps is the maximal number of Adam steps per search step (0: 10000).
	Steps int
	// LR is Adam's step size on w (0: 0.01).
	LR float64
	// InitialConst is the first c of every sample (0: 1e-3).
	InitialConst float64
	// Confidence is kappa, the logit margin an adversarial must reach (0:
	// none, the minimal perturbation).
	Confidence float64
	// NoAbortEarly runs every search step for all of Steps.
	NoAbortEarly bool
}

// Name returns "CW-L2".
func (CW) Name() string { return "CW-L2" }

// MinimumNorm returns true: CW searches for the smallest perturbation.
func (CW) MinimumNorm() bool { return true }

// Perturb implements Attack. The threat model must be L2. RunEps gives it
// Eps = +Inf; with a finite Eps the result is projected onto the ball.
func (a CW) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if tm.Norm != L2 {
		return nil, fmt.Errorf("CW is an L2 attack, the threat model is %v", tm.Norm)
	}
	r, err := newCWRun(a, m, x, c, tm)
	if err != nil {
		return nil, err
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	bsteps := batch.OrDefault(a.BinarySteps, 9)
	for b := 0; b < bsteps; b++ {
		if b == bsteps-1 && bsteps >= 10 {
			for i := range r.consts {
				r.consts[i] = math.Min(r.upper[i], 1e10)
			}
		}
		if err := r.search(ctx); err != nil {
			return nil, err
		}
		r.updateConsts()
	}
	if !math.IsInf(tm.Eps, 1) {
		tm.Project(x, r.best)
	}
	return r.best, nil
}

// cwRun is one C&W attack on a batch: the attack space w = atanh of the
// input scaled to the box, Adam's state on the change delta of w, each
// sample's constant c and its binary-search bounds, and the best
// (smallest) adversarial found per sample.
type cwRun struct {
	m        *Model
	x        *tensor.Tensor
	c        Criterion
	targeted bool
	steps    int
	lr       float64
	kappa    float64
	abort    bool
	n, d     int
	lo, hi   float64
	center   float64
	half     float64
	// w0 is the input in attack space; recon its image back in the box,
	// which the distance term measures from (it differs from x by the
	// 0.999999 shrink that keeps atanh finite at the bounds).
	w0, recon                      []float64
	consts, lower, upper, bestNorm []float64
	best                           *tensor.Tensor
	delta, mom, vel                []float64
	check                          int
	found                          []bool
	prev                           []float64
}

// newCWRun checks a's settings and c, and sets up the attack space.
func newCWRun(a CW, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*cwRun, error) {
	r := &cwRun{m: m, x: x, c: c, steps: batch.OrDefault(a.Steps, 10000), lr: a.LR, kappa: a.Confidence, abort: !a.NoAbortEarly}
	switch c.(type) {
	case Untargeted:
	case Targeted:
		r.targeted = true
	default:
		return nil, fmt.Errorf("CW: unsupported criterion %T", c)
	}
	if r.lr == 0 {
		r.lr = 0.01
	}
	c0 := a.InitialConst
	if c0 == 0 {
		c0 = 1e-3
	}
	for _, v := range []float64{r.lr, c0, r.kappa} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, fmt.Errorf("CW: LR %v, InitialConst %v and Confidence %v must be finite and >= 0", r.lr, c0, r.kappa)
		}
	}
	r.n = x.Dim(0)
	r.d = x.Len() / r.n
	r.lo, r.hi = tm.Bounds()
	r.center, r.half = (r.lo+r.hi)/2, (r.hi-r.lo)/2
	nd := r.n * r.d
	r.w0, r.recon = make([]float64, nd), make([]float64, nd)
	for j, v := range x.Data() {
		r.w0[j] = math.Atanh((float64(v) - r.center) / r.half * 0.999999)
		r.recon[j] = math.Tanh(r.w0[j])*r.half + r.center
	}
	r.consts, r.lower, r.upper, r.bestNorm = make([]float64, r.n), make([]float64, r.n), make([]float64, r.n), make([]float64, r.n)
	for i := range r.consts {
		r.consts[i], r.upper[i], r.bestNorm[i] = c0, math.Inf(1), math.Inf(1)
	}
	r.best = x.Clone()
	r.delta, r.mom, r.vel = make([]float64, nd), make([]float64, nd), make([]float64, nd)
	r.check = int(math.Ceil(float64(r.steps) / 10))
	r.found, r.prev = make([]bool, r.n), make([]float64, r.n)
	return r, nil
}

// search is one step of the binary search over c: Steps Adam steps from
// delta = 0 on the samples still making progress.
func (r *cwRun) search(ctx context.Context) error {
	clear(r.delta)
	clear(r.mom)
	clear(r.vel)
	for i := range r.found {
		r.found[i], r.prev[i] = false, math.Inf(1)
	}
	rows := batch.All(r.n)
	for step := 0; step < r.steps && len(rows) > 0; step++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if rows, err = r.step(step, rows); err != nil {
			return err
		}
	}
	return nil
}

// step is one Adam step on the samples rows; it records their adversarial
// points and returns the samples that go on (all of them, unless aborting
// early on those whose loss stopped falling).
func (r *cwRun) step(step int, rows []int) ([]int, error) {
	d := r.d
	na := len(rows)
	xs := tensor.New[float32](append([]int{na}, r.x.Shape()[1:]...)...)
	xd := xs.Data()
	cls := make([]int, na)
	cs := make([]float32, na)
	classes := r.c.Classes()
	for k, i := range rows {
		for j := 0; j < d; j++ {
			p := i*d + j
			v := math.Tanh(r.w0[p]+r.delta[p])*r.half + r.center
			xd[k*d+j] = float32(math.Min(math.Max(v, r.lo), r.hi))
		}
		cls[k], cs[k] = classes[i], float32(r.consts[i])
	}
	var hinge []float64
	grad, out, err := r.m.InputGradient(xs, func(o *autograd.Value) *autograd.Value {
		h := cwHinge(o, cls, r.targeted, r.kappa)
		hinge = accumulateValues(hinge, h.Data().Data(), r.m.Samples())
		return autograd.Mul(h, autograd.Const(tensor.FromSlice(cs, na)))
	})
	if err != nil {
		return nil, err
	}
	sub := r.c.Select(rows)
	adv := sub.IsAdversarial(out)
	mg := Margins(out, sub)
	var keep []int
	for k, i := range rows {
		xi := xd[k*d : (k+1)*d]
		var dist2 float64
		for j := 0; j < d; j++ {
			e := float64(xi[j]) - r.recon[i*d+j]
			dist2 += e * e
		}
		loss := r.consts[i]*hinge[k] + dist2
		if adv[k] && mg[k] >= r.kappa {
			r.found[i] = true
			if nrm := L2.Distance(r.x.Data()[i*d:(i+1)*d], xi); nrm < r.bestNorm[i] {
				r.bestNorm[i] = nrm
				copy(r.best.Data()[i*d:(i+1)*d], xi)
			}
		}
		if r.abort && step%r.check == 0 {
			if !(loss <= 0.9999*r.prev[i]) {
				continue // no progress since the last check: stop this sample
			}
			r.prev[i] = loss
		}
		keep = append(keep, i)
		r.adam(step, i, xi, batch.Row(grad.Data(), k, d))
	}
	return keep, nil
}

// adam takes Adam's step on sample i's delta, at the point xi with the
// hinge's input gradient g. Chain rule through x = tanh(w)*half + center:
// dx/dw = half*(1 - tanh^2), with the distance term's 2(x - recon).
func (r *cwRun) adam(step, i int, xi, g []float32) {
	t := float64(step + 1)
	bc1, bc2 := 1-math.Pow(0.9, t), 1-math.Pow(0.999, t)
	for j := 0; j < r.d; j++ {
		p := i*r.d + j
		th := math.Tanh(r.w0[p] + r.delta[p])
		gx := float64(g[j]) + 2*(float64(xi[j])-r.recon[p])
		gw := gx * r.half * (1 - th*th)
		r.mom[p] = 0.9*r.mom[p] + 0.1*gw
		r.vel[p] = 0.999*r.vel[p] + 0.001*gw*gw
		r.delta[p] -= r.lr * (r.mom[p] / bc1) / (math.Sqrt(r.vel[p]/bc2) + 1e-8)
	}
}

// updateConsts moves each sample's c after a search step: down (bisecting)
// where an adversarial was found, up (times 10 until a success bounds it)
// elsewhere.
func (r *cwRun) updateConsts() {
	for i := range r.consts {
		if r.found[i] {
			r.upper[i] = r.consts[i]
		} else {
			r.lower[i] = r.consts[i]
		}
		if math.IsInf(r.upper[i], 1) {
			r.consts[i] *= 10
		} else {
			r.consts[i] = (r.lower[i] + r.upper[i]) / 2
		}
	}
}

// cwHinge returns Carlini and Wagner's f6 per sample: max(z_y - max_{j!=y}
// z_j + kappa, 0) for Untargeted labels, max(max_{j!=t} z_j - z_t + kappa,
// 0) for Targeted ones. MarginLoss masks the class out with -Inf.
func cwHinge(out *autograd.Value, classes []int, targeted bool, kappa float64) *autograd.Value {
	mg := MarginLoss(out, classes) // max_{j != c} z_j - z_c
	if !targeted {
		mg = autograd.Neg(mg)
	}
	return autograd.ReLU(autograd.AddScalar(mg, float32(kappa)))
}

// accumulateValues adds v/k to sum (allocated on first use), for per-sample
// values captured inside an objective that Expectation runs k times.
func accumulateValues(sum []float64, v []float32, k int) []float64 {
	if sum == nil {
		sum = make([]float64, len(v))
	}
	for i, x := range v {
		sum[i] += float64(x) / float64(k)
	}
	return sum
}
