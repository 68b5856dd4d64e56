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
	targeted := false
	switch c.(type) {
	case Untargeted:
	case Targeted:
		targeted = true
	default:
		return nil, fmt.Errorf("CW: unsupported criterion %T", c)
	}
	bsteps := batch.OrDefault(a.BinarySteps, 9)
	steps := batch.OrDefault(a.Steps, 10000)
	lr := a.LR
	if lr == 0 {
		lr = 0.01
	}
	c0 := a.InitialConst
	if c0 == 0 {
		c0 = 1e-3
	}
	kappa := a.Confidence
	for _, v := range []float64{lr, c0, kappa} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, fmt.Errorf("CW: LR %v, InitialConst %v and Confidence %v must be finite and >= 0", lr, c0, kappa)
		}
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	n := x.Dim(0)
	d := x.Len() / n
	lo, hi := tm.Bounds()
	center, half := (lo+hi)/2, (hi-lo)/2

	// w0 is the input in attack space; recon its image back in the box,
	// which the distance term measures from (it differs from x by the
	// 0.999999 shrink that keeps atanh finite at the bounds).
	w0 := make([]float64, n*d)
	recon := make([]float64, n*d)
	for j, v := range x.Data() {
		w0[j] = math.Atanh((float64(v) - center) / half * 0.999999)
		recon[j] = math.Tanh(w0[j])*half + center
	}
	classes := c.Classes()
	consts := make([]float64, n)
	lower := make([]float64, n)
	upper := make([]float64, n)
	bestNorm := make([]float64, n)
	for i := range consts {
		consts[i], upper[i], bestNorm[i] = c0, math.Inf(1), math.Inf(1)
	}
	best := x.Clone()
	delta := make([]float64, n*d)
	mom := make([]float64, n*d)
	vel := make([]float64, n*d)
	check := int(math.Ceil(float64(steps) / 10))
	found := make([]bool, n)
	prev := make([]float64, n)

	for b := 0; b < bsteps; b++ {
		if b == bsteps-1 && bsteps >= 10 {
			for i := range consts {
				consts[i] = math.Min(upper[i], 1e10)
			}
		}
		clear(delta)
		clear(mom)
		clear(vel)
		for i := range found {
			found[i], prev[i] = false, math.Inf(1)
		}
		rows := make([]int, n)
		for i := range rows {
			rows[i] = i
		}
		for step := 0; step < steps && len(rows) > 0; step++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			na := len(rows)
			xs := tensor.New[float32](append([]int{na}, x.Shape()[1:]...)...)
			xd := xs.Data()
			for k, i := range rows {
				for j := 0; j < d; j++ {
					p := i*d + j
					v := math.Tanh(w0[p]+delta[p])*half + center
					xd[k*d+j] = float32(math.Min(math.Max(v, lo), hi))
				}
			}
			cls := make([]int, na)
			cs := make([]float32, na)
			for k, i := range rows {
				cls[k], cs[k] = classes[i], float32(consts[i])
			}
			var hinge []float64
			grad, out, err := m.InputGradient(xs, func(o *autograd.Value) *autograd.Value {
				h := cwHinge(o, cls, targeted, kappa)
				hinge = accumulateValues(hinge, h.Data().Data(), m.Samples())
				return autograd.Mul(h, autograd.Const(tensor.FromSlice(cs, na)))
			})
			if err != nil {
				return nil, err
			}
			sub := c.Select(rows)
			adv := sub.IsAdversarial(out)
			mg := Margins(out, sub)
			var keep []int
			gd := grad.Data()
			for k, i := range rows {
				xi := xd[k*d : (k+1)*d]
				var dist2 float64
				for j := 0; j < d; j++ {
					e := float64(xi[j]) - recon[i*d+j]
					dist2 += e * e
				}
				loss := consts[i]*hinge[k] + dist2
				if adv[k] && mg[k] >= kappa {
					found[i] = true
					if nrm := L2.Distance(x.Data()[i*d:(i+1)*d], xi); nrm < bestNorm[i] {
						bestNorm[i] = nrm
						copy(best.Data()[i*d:(i+1)*d], xi)
					}
				}
				if !a.NoAbortEarly && step%check == 0 {
					if !(loss <= 0.9999*prev[i]) {
						continue // no progress since the last check: stop this sample
					}
					prev[i] = loss
				}
				keep = append(keep, i)
				// Chain rule through x = tanh(w)*half + center: dx/dw =
				// half*(1 - tanh^2), with the distance term's 2(x - recon).
				t := float64(step + 1)
				bc1, bc2 := 1-math.Pow(0.9, t), 1-math.Pow(0.999, t)
				for j := 0; j < d; j++ {
					p := i*d + j
					th := math.Tanh(w0[p] + delta[p])
					gx := float64(gd[k*d+j]) + 2*(float64(xi[j])-recon[p])
					g := gx * half * (1 - th*th)
					mom[p] = 0.9*mom[p] + 0.1*g
					vel[p] = 0.999*vel[p] + 0.001*g*g
					delta[p] -= lr * (mom[p] / bc1) / (math.Sqrt(vel[p]/bc2) + 1e-8)
				}
			}
			rows = keep
		}
		for i := range consts {
			if found[i] {
				upper[i] = consts[i]
			} else {
				lower[i] = consts[i]
			}
			if math.IsInf(upper[i], 1) {
				consts[i] *= 10
			} else {
				consts[i] = (lower[i] + upper[i]) / 2
			}
		}
	}
	if !math.IsInf(tm.Eps, 1) {
		tm.Project(x, best)
	}
	return best, nil
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
