package attacks

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// FAB is the Fast Adaptive Boundary attack of Croce and Hein ("Minimally
// distorted adversarial examples with a fast adaptive boundary attack",
// ICML 2020), a minimum-norm white-box attack for Linf, L2 and L1 and the
// third attack of AutoAttack's standard run (as FABT).
//
// Each step linearises the model at the current point x_k: for every class
// j other than the label y, the boundary f_j - f_y = 0 becomes the
// hyperplane {z : df_j + g_j.(z - x_k) = 0}, with df_j = f_j(x_k) - f_y(x_k)
// and g_j its gradient, and the closest one in the attack's norm (the
// smallest |df_j| / ||g_j||_q, q the dual norm) is chosen. With d1 and d2 the
// smallest perturbations, in the attack's norm, that take x_k and the input
// x_0 onto that hyperplane without leaving the box (the exact projection onto
// the intersection of a hyperplane and a box, see fabProject), the step is
//
//	alpha   = min(||d1|| / (||d1|| + ||d2||), AlphaMax)
//	x_{k+1} = clip((1 - alpha) (x_k + Eta d1) + alpha (x_0 + Eta d2))
//
// a biased step toward the input that keeps the perturbation small. When
// x_{k+1} is adversarial it is recorded if it is the closest so far and
// pulled back toward the input: x_{k+1} = x_0 + Beta (x_{k+1} - x_0). Every
// sample runs all Steps steps. The first run starts at the input; each
// further one (Restarts) starts at a random point at distance Eps/2 (Linf:
// t/||t||_inf with t uniform in [-1, 1]; L2: a Gaussian direction; L1: a
// Gaussian direction over its L1 norm) and runs only on the samples not yet
// adversarial within the threat model's eps, or within Eps when the threat
// model's eps is infinite (as under Run): AutoAttack's rule. With both
// infinite or unset, every run covers every sample and the smallest
// perturbation over all runs is kept. Samples already adversarial at the
// input are returned unchanged.
//
// FAB is a MinimumNormAttack: Run and RunEps give it eps = +Inf and project
// its result onto each eps-ball, so a sample counts as fooled at eps exactly
// when the smallest perturbation found has norm <= eps. Called with a finite
// eps, Perturb returns the input for a sample whose smallest adversarial lies
// farther than eps.
//
// On an affine two-class model FAB's first step lands on the boundary
// overshot by Eta; the pull-back and the biased steps then settle below 1%
// above the minimal norm (about 0.5% with Eta = 1.05, Beta = 0.9).
// SearchSteps, off by default as in AutoAttack, ends with a bisection on
// the segment from the input to the best point found, which removes that
// gap.
//
// Under Targeted(t) the hyperplane is the boundary between t and the
// strongest other class at x_k. Each step costs one forward and backward
// pass per class (the Jacobian of the logits) and one forward pass; under
// Targeted (and in FABT) a single forward and backward pass replaces the
// Jacobian.
type FAB struct {
	// Steps is the number of steps per run (0: 100).
	Steps int
	// Restarts is the number of runs (0: 1, the first from the input).
	Restarts int
	// Eps is the radius of the random starts of the runs after the first
	// (they start at distance Eps/2), and the eps within which a sample
	// needs no further run when the threat model's eps is infinite (as
	// under Run and RunEps). 0: the threat model's eps when finite; else
	// random starts at AutoAttack's default radii (0.3 for Linf, 1 for L2,
	// 5 for L1) and every run on every sample. An evaluation at one eps
	// sets it to that eps, as AutoAttack does, so that samples fooled
	// within it are not attacked again.
	Eps float64
	// AlphaMax bounds the weight of the step toward the input (0: 0.1).
	AlphaMax float64
	// Eta is the overshoot of the projections (0: 1.05).
	Eta float64
	// Beta is the pull-back toward the input after an adversarial step (0:
	// 0.9).
	Beta float64
	// SearchSteps is the number of bisection steps on the segment from the
	// input to the best point at the end (0: none, AutoAttack's FAB).
	SearchSteps int
	// Seed seeds the random starts (per sample, see SampleRNGs).
	Seed uint64
}

// Name returns "FAB".
func (FAB) Name() string { return "FAB" }

// MinimumNorm reports that FAB is a minimum-norm attack.
func (FAB) MinimumNorm() bool { return true }

// Perturb implements Attack, for Linf, L2 and L1 threat models.
func (a FAB) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	s, err := newFABSpec("FAB", a.Steps, a.Restarts, a.Eps, a.AlphaMax, a.Eta, a.Beta, a.SearchSteps, a.Seed, tm)
	if err != nil {
		return nil, err
	}
	if _, err := checkCriterion(c); err != nil {
		return nil, err
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	st, err := s.start(m, x, c, tm)
	if err != nil {
		return nil, err
	}
	for r := 0; r < s.restarts; r++ {
		if err := s.run(ctx, m, st, r > 0, nil); err != nil {
			return nil, err
		}
	}
	return s.finish(m, st)
}

// FABT is AutoAttack's targeted FAB (FAB-T): under Untargeted(y), FAB runs
// with the boundary against one class alone, for each of the Targets
// classes the clean input scores highest after the top one (the 2nd most
// likely, then the 3rd...), Restarts runs per target, each on the samples
// not yet adversarial within eps (the threat model's, else Eps; every
// sample when neither is set, see FAB). Success is still misclassification (any
// class but y), and the best point over all targets (the smallest
// perturbation) is kept. Each step costs a single backward pass, so FAB-T
// is cheaper than FAB on many classes. Under Targeted(t) it is FAB toward
// t. It is a MinimumNormAttack, as FAB; see FAB for the other fields.
type FABT struct {
	// Steps is the number of steps per run (0: 100).
	Steps int
	// Restarts is the number of runs per target class (0: 1).
	Restarts int
	// Targets is the number of target classes (0: 9, AutoAttack's; at
	// most the number of classes minus one).
	Targets int
	// Eps is the radius of the random starts and the eps within which a
	// sample needs no further target or restart (see FAB.Eps; set it to
	// the evaluation's eps).
	Eps float64
	// AlphaMax bounds the weight of the step toward the input (0: 0.1).
	AlphaMax float64
	// Eta is the overshoot of the projections (0: 1.05).
	Eta float64
	// Beta is the pull-back after an adversarial step (0: 0.9).
	Beta float64
	// SearchSteps is the number of final bisection steps (0: none).
	SearchSteps int
	// Seed seeds the random starts.
	Seed uint64
}

// Name returns "FAB-T".
func (FABT) Name() string { return "FAB-T" }

// MinimumNorm reports that FAB-T is a minimum-norm attack.
func (FABT) MinimumNorm() bool { return true }

// Perturb implements Attack, for Linf, L2 and L1 threat models.
func (a FABT) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	switch c.(type) {
	case Targeted:
		return FAB{Steps: a.Steps, Restarts: a.Restarts, Eps: a.Eps, AlphaMax: a.AlphaMax, Eta: a.Eta, Beta: a.Beta, SearchSteps: a.SearchSteps, Seed: a.Seed}.Perturb(ctx, m, x, c, tm)
	case Untargeted:
	default:
		return nil, fmt.Errorf("FAB-T: unsupported criterion %T", c)
	}
	s, err := newFABSpec("FAB-T", a.Steps, a.Restarts, a.Eps, a.AlphaMax, a.Eta, a.Beta, a.SearchSteps, a.Seed, tm)
	if err != nil {
		return nil, err
	}
	if a.Targets < 0 {
		return nil, fmt.Errorf("FAB-T: Targets %d must be >= 0", a.Targets)
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	st, err := s.start(m, x, c, tm)
	if err != nil {
		return nil, err
	}
	nc := st.out.Dim(1)
	ranks := make([][]int, st.n)
	for i := range ranks {
		ranks[i] = sortedDesc(st.out.Data()[i*nc : (i+1)*nc])
	}
	targets := min(batch.OrDefault(a.Targets, 9), nc-1)
	tgt := make([]int, st.n)
	for r := 1; r <= targets; r++ {
		for i := range tgt {
			tgt[i] = ranks[i][r]
		}
		for k := 0; k < s.restarts; k++ {
			if err := s.run(ctx, m, st, k > 0, tgt); err != nil {
				return nil, err
			}
		}
	}
	return s.finish(m, st)
}

// fabSpec is the configuration of FAB runs.
type fabSpec struct {
	name                string
	steps, restarts     int
	search              int
	eps                 float64 // radius of the random starts
	alphaMax, eta, beta float64
	seed                uint64
	tm                  ThreatModel
	restartEps          float64 // a sample fooled within it needs no restart
	lo, hi              float64
	sc                  fabScratch
}

// fabDefaultEps are AutoAttack's default radii of FAB's random starts.
var fabDefaultEps = map[Norm]float64{Linf: 0.3, L2: 1, L1: 5}

func newFABSpec(name string, steps, restarts int, eps, alphaMax, eta, beta float64, search int, seed uint64, tm ThreatModel) (*fabSpec, error) {
	if !tm.Norm.valid() {
		return nil, fmt.Errorf("%s: unknown norm %v", name, tm.Norm)
	}
	bad := func(v float64) bool { return v < 0 || math.IsNaN(v) || math.IsInf(v, 0) }
	if bad(eps) || bad(alphaMax) || alphaMax > 1 || bad(eta) || bad(beta) || beta > 1 || steps < 0 || restarts < 0 || search < 0 {
		return nil, fmt.Errorf("%s: bad setting (Steps %d, Restarts %d, Eps %v, AlphaMax %v, Eta %v, Beta %v, SearchSteps %d)", name, steps, restarts, eps, alphaMax, eta, beta, search)
	}
	or := func(v, d float64) float64 {
		if v == 0 {
			return d
		}
		return v
	}
	restartEps := tm.Eps
	switch {
	case !math.IsInf(tm.Eps, 1):
		if eps == 0 {
			eps = tm.Eps
		}
	case eps != 0:
		restartEps = eps
	default:
		eps, restartEps = fabDefaultEps[tm.Norm], 0
	}
	s := &fabSpec{
		name: name, steps: batch.OrDefault(steps, 100), restarts: batch.OrDefault(restarts, 1), search: search,
		eps: eps, alphaMax: or(alphaMax, 0.1), eta: or(eta, 1.05), beta: or(beta, 0.9), seed: seed, tm: tm,
		restartEps: restartEps,
	}
	s.lo, s.hi = tm.Bounds()
	return s, nil
}

// fabState is the state of a FAB attack on a batch: the input, its clean
// scores and each sample's best point.
type fabState struct {
	x, best *tensor.Tensor
	c       Criterion
	out     *tensor.Tensor // clean scores
	n, d    int
	found   []bool // an adversarial point is known (best holds it)
	norm    []float64
	rngs    []*tensor.RNG
}

// start evaluates the clean input: samples already adversarial keep it.
func (s *fabSpec) start(m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*fabState, error) {
	out, err := m.Outputs(x)
	if err != nil {
		return nil, err
	}
	if err := checkClasses(c, out.Dim(1)); err != nil {
		return nil, err
	}
	n := x.Dim(0)
	st := &fabState{x: x, best: x.Clone(), c: c, out: out, n: n, d: x.Len() / n,
		found: c.IsAdversarial(out), norm: make([]float64, n), rngs: SampleRNGs(s.seed, x)}
	for i := range st.norm {
		if !st.found[i] {
			st.norm[i] = math.Inf(1)
		}
	}
	return st, nil
}

// run is one FAB run on the samples not yet adversarial within
// restartEps, from the input (rand false) or a random start, with the
// boundary against target[i] alone when target is not nil.
func (s *fabSpec) run(ctx context.Context, m *Model, st *fabState, rand bool, target []int) error {
	var rows []int
	for i := 0; i < st.n; i++ {
		if !st.found[i] || st.norm[i] > s.restartEps {
			rows = append(rows, i)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	n, d := len(rows), st.d
	x0 := batch.Select(st.x, rows)
	cs := st.c.Select(rows)
	classes := cs.Classes()
	_, targeted := cs.(Targeted)
	var tgt []int
	if target != nil {
		tgt = batch.SelectInts(target, rows)
	}
	x1 := x0.Clone()
	if rand {
		s.randomStart(x0, x1, st, rows)
	}
	w := make([]float64, d)
	d1, d2 := make([]float64, d), make([]float64, d)
	for it := 0; it < s.steps; it++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		df, dg, err := s.linearise(m, x1, classes, targeted, tgt)
		if err != nil {
			return err
		}
		x0d, x1d := x0.Data(), x1.Data()
		for k := 0; k < n; k++ {
			// df[k] and dg[k] hold the chosen boundary of sample k.
			g := dg[k*d : (k+1)*d]
			r0 := -df[k] // w.(z - x1) = -df: the hyperplane through the boundary
			var wx1, wx0 float64
			for j := range w {
				w[j] = float64(g[j])
				wx1 += w[j] * float64(x1d[k*d+j])
				wx0 += w[j] * float64(x0d[k*d+j])
			}
			b := r0 + wx1
			fabProject(s.tm.Norm, x1d[k*d:(k+1)*d], w, b, s.lo, s.hi, d1, &s.sc)
			fabProject(s.tm.Norm, x0d[k*d:(k+1)*d], w, b, s.lo, s.hi, d2, &s.sc)
			a1 := math.Max(normOf(s.tm.Norm, d1), 1e-8)
			a2 := math.Max(normOf(s.tm.Norm, d2), 1e-8)
			alpha := math.Min(math.Max(a1/(a1+a2), 0), s.alphaMax)
			for j := 0; j < d; j++ {
				v := (float64(x1d[k*d+j])+s.eta*d1[j])*(1-alpha) + (float64(x0d[k*d+j])+s.eta*d2[j])*alpha
				x1d[k*d+j] = float32(math.Min(math.Max(v, s.lo), s.hi))
			}
		}
		out, err := m.Outputs(x1)
		if err != nil {
			return err
		}
		adv := cs.IsAdversarial(out)
		for k, i := range rows {
			if !adv[k] {
				continue
			}
			a, b := x0d[k*d:(k+1)*d], x1d[k*d:(k+1)*d]
			if nrm := s.tm.Norm.Distance(a, b); nrm < st.norm[i] {
				st.norm[i], st.found[i] = nrm, true
				copy(batch.Row(st.best.Data(), i, d), b)
			}
			for j := range b {
				b[j] = float32(float64(a[j]) + s.beta*(float64(b[j])-float64(a[j])))
			}
		}
	}
	return nil
}

// linearise returns, for each sample k of x, the value df[k] = f_j - f_own
// at x and the gradient dg[k*d:(k+1)*d] of the boundary FAB steps toward:
// under Untargeted, the class j != y whose linearised boundary is nearest
// in the dual norm (one backward pass per class); with target, j = target
// (own = y); under Targeted(t), own = t and j = the strongest class other
// than t (so df < 0 pushes toward t).
func (s *fabSpec) linearise(m *Model, x *tensor.Tensor, classes []int, targeted bool, target []int) ([]float64, []float32, error) {
	n := x.Dim(0)
	d := x.Len() / n
	df := make([]float64, n)
	if targeted || target != nil {
		// One boundary per sample: its gradient in one pass.
		var other []int
		grad, out, err := m.InputGradient(x, func(o *autograd.Value) *autograd.Value {
			nc := o.Shape()[1]
			od := o.Data().Data()
			mask := tensor.New[float32](n, nc)
			other = make([]int, n)
			for k := 0; k < n; k++ {
				j, own := 0, classes[k]
				if target != nil {
					j = target[k]
				} else {
					j = sortedDesc(maskedRow(od[k*nc:(k+1)*nc], own))[0]
				}
				other[k] = j
				mask.Data()[k*nc+j] += 1
				mask.Data()[k*nc+own] -= 1
			}
			return autograd.SumAll(autograd.Mul(o, autograd.Const(mask)))
		})
		if err != nil {
			return nil, nil, err
		}
		nc := out.Dim(1)
		for k := 0; k < n; k++ {
			df[k] = float64(out.Data()[k*nc+other[k]]) - float64(out.Data()[k*nc+classes[k]])
		}
		return df, grad.Data(), nil
	}
	// Untargeted: the Jacobian of the logits, one class at a time.
	var out *tensor.Tensor
	var jac []*tensor.Tensor
	for cls := 0; ; cls++ {
		g, o, err := m.InputGradient(x, func(o *autograd.Value) *autograd.Value {
			nc := o.Shape()[1]
			mask := tensor.New[float32](n, nc)
			for k := 0; k < n; k++ {
				mask.Data()[k*nc+cls] = 1
			}
			return autograd.SumAll(autograd.Mul(o, autograd.Const(mask)))
		})
		if err != nil {
			return nil, nil, err
		}
		if out == nil {
			out = o
		}
		jac = append(jac, g)
		if cls+1 >= o.Dim(1) {
			break
		}
	}
	nc := out.Dim(1)
	dg := make([]float32, n*d)
	buf := make([]float64, d)
	for k := 0; k < n; k++ {
		y := classes[k]
		gy := jac[y].Data()[k*d : (k+1)*d]
		best, bj := math.Inf(1), -1
		for j := 0; j < nc; j++ {
			if j == y {
				continue
			}
			gj := jac[j].Data()[k*d : (k+1)*d]
			for p := range buf {
				buf[p] = float64(gj[p]) - float64(gy[p])
			}
			f := float64(out.Data()[k*nc+j]) - float64(out.Data()[k*nc+y])
			dist := math.Abs(f) / (1e-12 + dualNorm(s.tm.Norm, buf))
			if dist < best || bj < 0 {
				best, bj = dist, j
			}
		}
		df[k] = float64(out.Data()[k*nc+bj]) - float64(out.Data()[k*nc+y])
		gj := jac[bj].Data()[k*d : (k+1)*d]
		for p := range buf {
			dg[k*d+p] = float32(float64(gj[p]) - float64(gy[p]))
		}
	}
	return df, dg, nil
}

// maskedRow returns row with entry skip set to -Inf.
func maskedRow(row []float32, skip int) []float32 {
	r := slices.Clone(row)
	r[skip] = float32(math.Inf(-1))
	return r
}

// randomStart writes into x1 the random starts of the samples rows (x0
// their inputs): at distance Eps/2 from the input, in the attack's norm,
// then clipped to the box.
func (s *fabSpec) randomStart(x0, x1 *tensor.Tensor, st *fabState, rows []int) {
	d := st.d
	t := make([]float64, d)
	for k, i := range rows {
		g := st.rngs[i]
		for j := range t {
			switch s.tm.Norm {
			case Linf:
				t[j] = 2*g.Float64() - 1
			default:
				t[j] = g.NormFloat64()
			}
		}
		nrm := normOf(s.tm.Norm, t)
		r := s.eps / 2 / math.Max(nrm, 1e-12)
		a, b := batch.Row(x0.Data(), k, d), batch.Row(x1.Data(), k, d)
		for j := range b {
			b[j] = float32(math.Min(math.Max(float64(a[j])+r*t[j], s.lo), s.hi))
		}
	}
}

// finish refines the best points by bisection (SearchSteps) and returns
// them; a sample without an adversarial point, or whose point is farther
// than a finite eps, gets its input back.
func (s *fabSpec) finish(m *Model, st *fabState) (*tensor.Tensor, error) {
	d := st.d
	if s.search > 0 {
		var rows []int
		for i := 0; i < st.n; i++ {
			if st.found[i] && st.norm[i] > 0 {
				rows = append(rows, i)
			}
		}
		if len(rows) > 0 {
			lo := make([]float64, len(rows))
			hi := make([]float64, len(rows))
			for k := range hi {
				hi[k] = 1
			}
			x0, adv := batch.Select(st.x, rows), batch.Select(st.best, rows)
			cs := st.c.Select(rows)
			mid := x0.Clone()
			for it := 0; it < s.search; it++ {
				for k := range rows {
					t := (lo[k] + hi[k]) / 2
					a, b, o := batch.Row(x0.Data(), k, d), batch.Row(adv.Data(), k, d), batch.Row(mid.Data(), k, d)
					for j := range o {
						o[j] = float32(float64(a[j]) + t*(float64(b[j])-float64(a[j])))
					}
				}
				out, err := m.Outputs(mid)
				if err != nil {
					return nil, err
				}
				ok := cs.IsAdversarial(out)
				for k, i := range rows {
					t := (lo[k] + hi[k]) / 2
					if !ok[k] {
						lo[k] = t
						continue
					}
					hi[k] = t
					o := batch.Row(mid.Data(), k, d)
					if nrm := s.tm.Norm.Distance(batch.Row(x0.Data(), k, d), o); nrm < st.norm[i] {
						st.norm[i] = nrm
						copy(batch.Row(st.best.Data(), i, d), o)
					}
				}
			}
		}
	}
	for i := 0; i < st.n; i++ {
		if !st.found[i] || st.norm[i] > s.tm.Eps {
			copy(batch.Row(st.best.Data(), i, d), batch.Row(st.x.Data(), i, d))
		}
	}
	return st.best, nil
}
