package attacks

import (
	"context"
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/tensor"
)

// NES is projected gradient ascent on a gradient estimated from scores
// alone, by the natural evolution strategies of Ilyas, Engstrom, Athalye
// and Lin ("Black-box Adversarial Attacks with Limited Queries and
// Information", ICML 2018), as in their code: with Samples antithetic pairs
// of Gaussian directions u_k ~ N(0, I),
//
//	g = 1/(2 Samples Sigma) * sum_k (f(x + Sigma u_k) - f(x - Sigma u_k)) u_k
//
// (the probes clipped into the box, as any query must be), f the objective
// Loss, is smoothed by momentum, G = Momentum G + (1 - Momentum) g, and
// drives a PGD step of the current step size: x = clip(proj(x + alpha *
// sign(G))) for Linf, x + alpha * G/||G||_2 for L2. The step size starts at
// Alpha and is divided by PlateauDrop (down to MinAlpha) whenever the mean
// objective of the probes is lower than PlateauLength estimates earlier
// (a plateau), after which the window starts again. Each step costs
// 2*Samples queries for the estimate and one to evaluate the new point;
// each sample keeps its best point (adversarial if any was, else the
// largest objective), stops as soon as it is adversarial, and stops when it
// cannot afford another step within Queries or the oracle's budget.
type NES struct {
	// Queries is the number of queries per sample (0: 10,000).
	Queries int
	// Samples is the number of antithetic pairs per estimate (0: 25, so
	// 50 queries, Ilyas et al.'s batch).
	Samples int
	// Sigma is the scale of the probes (0: 0.001 * (Hi - Lo), the paper's).
	Sigma float64
	// Alpha is the initial (largest) step size (0: eps/10).
	Alpha float64
	// MinAlpha is the smallest step size the plateau decay reaches (0:
	// Alpha/200, the ratio of Ilyas et al.'s 1e-2 and 5e-5).
	MinAlpha float64
	// Momentum is the weight of the previous estimate, in [0, 1) (0: 0.9,
	// Ilyas et al.'s).
	Momentum float64
	// PlateauLength is the number of estimates over which a falling
	// objective divides the step size (0: 5).
	PlateauLength int
	// PlateauDrop is the factor the step size is divided by (0: 2).
	PlateauDrop float64
	// Loss is the objective (DefaultScoreLoss: CrossEntropyScore, the
	// paper's).
	Loss ScoreLoss
	// Seed seeds the per-sample directions.
	Seed uint64
}

// Name returns "NES-<queries>".
func (a NES) Name() string { return fmt.Sprintf("NES-%d", batch.OrDefault(a.Queries, 10000)) }

// PerturbBlackBox implements BlackBoxAttack.
func (a NES) PerturbBlackBox(ctx context.Context, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	loss := a.Loss
	if loss == DefaultScoreLoss {
		loss = CrossEntropyScore
	}
	if a.Momentum < 0 || a.Momentum >= 1 || math.IsNaN(a.Momentum) || a.PlateauLength < 0 || a.PlateauDrop < 0 || (a.PlateauDrop > 0 && a.PlateauDrop < 1) || math.IsNaN(a.PlateauDrop) || a.MinAlpha < 0 || math.IsNaN(a.MinAlpha) {
		return nil, fmt.Errorf("NES: bad setting (Momentum %v, MinAlpha %v, PlateauLength %d, PlateauDrop %v)", a.Momentum, a.MinAlpha, a.PlateauLength, a.PlateauDrop)
	}
	mom := a.Momentum
	if mom == 0 {
		mom = 0.9
	}
	drop := a.PlateauDrop
	if drop == 0 {
		drop = 2
	}
	return estimateAndStep(ctx, "NES", o, x, c, tm, estSpec{
		queries: batch.OrDefault(a.Queries, 10000), pairs: batch.OrDefault(a.Samples, 25),
		sigma: a.Sigma, sigmaDefault: 0.001, alpha: a.Alpha, loss: loss, seed: a.Seed,
		momentum: mom, minAlpha: a.MinAlpha, plateau: batch.OrDefault(a.PlateauLength, 5), drop: drop,
	})
}

// SPSA is Adam ascent on the simultaneous-perturbation estimate of the
// gradient (Spall, 1992), as used against defences by Uesato, O'Donoghue,
// van den Oord and Kohli ("Adversarial Risk and the Dangers of Evaluating
// Against Weak Attacks", ICML 2018) and in cleverhans' SPSA: NES's
// estimator with Rademacher directions (each coordinate +1 or -1) scaled by
// Delta,
//
//	g = 1/(2 Samples Delta) * sum_k (f(x + Delta v_k) - f(x - Delta v_k)) v_k,
//
// feeds Adam (learning rate LR, betas 0.9 and 0.999, epsilon 1e-9 as
// cleverhans' TensorAdam; its state per sample), whose step is followed by
// the exact projection onto the eps-ball and the box. Queries, best point
// and stopping as NES.
type SPSA struct {
	// Queries is the number of queries per sample (0: 10,000).
	Queries int
	// Samples is the number of antithetic pairs per estimate (0: 64, so
	// 128 queries, Uesato et al.'s and cleverhans' batch).
	Samples int
	// Delta is the size of the probes (0: 0.01 * (Hi - Lo), Uesato et al.'s).
	Delta float64
	// LR is Adam's learning rate (0: 0.01 * (Hi - Lo), cleverhans').
	LR float64
	// Loss is the objective (DefaultScoreLoss: MarginScore, Uesato et al.'s).
	Loss ScoreLoss
	// Seed seeds the per-sample directions.
	Seed uint64
}

// Name returns "SPSA-<queries>".
func (a SPSA) Name() string { return fmt.Sprintf("SPSA-%d", batch.OrDefault(a.Queries, 10000)) }

// PerturbBlackBox implements BlackBoxAttack.
func (a SPSA) PerturbBlackBox(ctx context.Context, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	loss := a.Loss
	if loss == DefaultScoreLoss {
		loss = MarginScore
	}
	lr := a.LR
	if lr == 0 {
		lo, hi := tm.Bounds()
		lr = 0.01 * (hi - lo)
	}
	return estimateAndStep(ctx, "SPSA", o, x, c, tm, estSpec{
		queries: batch.OrDefault(a.Queries, 10000), pairs: batch.OrDefault(a.Samples, 64),
		sigma: a.Delta, sigmaDefault: 0.01, alpha: lr, loss: loss, seed: a.Seed, rademacher: true, adam: true,
	})
}

// estSpec configures the shared engine of NES and SPSA.
type estSpec struct {
	queries, pairs      int
	sigma, sigmaDefault float64
	alpha               float64 // NES: the initial step size; SPSA: Adam's learning rate
	loss                ScoreLoss
	seed                uint64
	rademacher          bool
	// NES: momentum and plateau decay.
	momentum, minAlpha, drop float64
	plateau                  int
	// SPSA: Adam steps.
	adam bool
}

// Adam's constants of cleverhans' TensorAdam.
const adamBeta1, adamBeta2, adamEps = 0.9, 0.999, 1e-9

// estimateAndStep runs steps on estimated gradients (NES, SPSA).
func estimateAndStep(ctx context.Context, name string, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel, s estSpec) (*tensor.Tensor, error) {
	if err := s.check(name, o, c, tm); err != nil {
		return nil, err
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	r := newEstRun(name, o, x, c, tm, s)
	// Evaluate the start (one query).
	var idx []int
	for i := 0; i < r.n; i++ {
		if o.Remaining(i) > 0 {
			idx = append(idx, i)
		}
	}
	if err := r.offer(idx, batch.Select(x, idx)); err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		active := r.active()
		if len(active) == 0 {
			break
		}
		if err := r.iterate(active); err != nil {
			return nil, err
		}
	}
	return r.b.x, nil
}

// check validates the threat model, the oracle's access, the settings and
// the criterion for the attack name.
func (s estSpec) check(name string, o *Oracle, c Criterion, tm ThreatModel) error {
	if tm.Norm != Linf && tm.Norm != L2 {
		return fmt.Errorf("%s supports Linf and L2, not %v", name, tm.Norm)
	}
	if o.Access() != ScoreAccess {
		return fmt.Errorf("%s needs scores: %w", name, ErrLabelsOnly)
	}
	bad := func(v float64) bool { return v < 0 || math.IsNaN(v) || math.IsInf(v, 0) }
	if !s.loss.valid() || bad(s.sigma) || bad(s.alpha) {
		return fmt.Errorf("%s: bad setting (Loss %v, probe size %v, step size %v)", name, s.loss, s.sigma, s.alpha)
	}
	if _, err := checkCriterion(c); err != nil {
		return err
	}
	return nil
}

// estRun is the state of one estimateAndStep call.
type estRun struct {
	name                   string
	o                      *Oracle
	x, cur                 *tensor.Tensor
	c                      Criterion
	tm                     ThreatModel
	s                      estSpec
	sigma, alpha, minAlpha float64
	lo, hi                 float64
	n, d                   int
	rngs                   []*tensor.RNG
	b                      *best
	spent                  []int
	// Per-sample state: NES's step size, momentum and plateau window;
	// SPSA's Adam moments and step count.
	step   []float64
	acc    []float64
	second []float64
	count  []int
	window [][]float64
	sc     scratch
}

// newEstRun resolves the defaults of s (probe size, step sizes) for tm and
// sets up the per-sample state, starting from x.
func newEstRun(name string, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel, s estSpec) *estRun {
	lo, hi := tm.Bounds()
	sigma := s.sigma
	if sigma == 0 {
		sigma = s.sigmaDefault * (hi - lo)
	}
	alpha := s.alpha
	if alpha == 0 {
		alpha = tm.Eps / 10
		if math.IsInf(alpha, 1) {
			alpha = (hi - lo) / 10
		}
	}
	minAlpha := s.minAlpha
	if minAlpha == 0 {
		minAlpha = alpha / 200
	}
	minAlpha = math.Min(minAlpha, alpha)
	n := x.Dim(0)
	d := x.Len() / n
	r := &estRun{
		name: name, o: o, x: x, c: c, tm: tm, s: s,
		sigma: sigma, alpha: alpha, minAlpha: minAlpha, lo: lo, hi: hi, n: n, d: d,
		rngs: SampleRNGs(s.seed, x), cur: x.Clone(), b: newBest(x), spent: make([]int, n),
		step: make([]float64, n), acc: make([]float64, n*d), window: make([][]float64, n),
	}
	for i := range r.step {
		r.step[i] = alpha
	}
	if s.adam {
		r.second = make([]float64, n*d)
		r.count = make([]int, n)
	}
	return r
}

// offer queries the points q of the samples idx (one query each) and
// offers them to the best points.
func (r *estRun) offer(idx []int, q *tensor.Tensor) error {
	if len(idx) == 0 {
		return nil
	}
	scores, err := queryScores(r.o, idx, q)
	if err != nil {
		return budgetError(r.name, err)
	}
	cs := r.c.Select(idx)
	r.b.offer(q, cs.IsAdversarial(scores), r.s.loss.objectives(scores, cs), idx)
	for _, i := range idx {
		r.spent[i]++
	}
	return nil
}

// active returns the samples that were evaluated, are not yet adversarial
// and can afford another step (2 pairs of probes and one query).
func (r *estRun) active() []int {
	cost := 2*r.s.pairs + 1
	var active []int
	for i := 0; i < r.n; i++ {
		if r.spent[i] > 0 && !r.b.adv[i] && r.spent[i]+cost <= r.s.queries && r.o.Remaining(i) >= cost {
			active = append(active, i)
		}
	}
	return active
}

// iterate estimates the gradients of the samples active, steps them and
// offers their new points.
func (r *estRun) iterate(active []int) error {
	group := max(1, maxQueryRows/(2*r.s.pairs))
	grad := tensor.New[float32](append([]int{len(active)}, r.x.Shape()[1:]...)...)
	means := make([]float64, len(active))
	for g0 := 0; g0 < len(active); g0 += group {
		gs := active[g0:min(g0+group, len(active))]
		if err := estimate(r.o, r.name, r.cur, gs, g0, grad, means, r.rngs, r.s, r.sigma, r.lo, r.hi, r.c, r.spent); err != nil {
			return err
		}
	}
	d := r.d
	xs := batch.Select(r.cur, active)
	for k, i := range active {
		g := batch.Row(grad.Data(), k, d)
		xr := batch.Row(xs.Data(), k, d)
		x0 := batch.Row(r.x.Data(), i, d)
		if r.s.adam {
			r.adamStep(i, g, x0, xr)
		} else {
			r.nesUpdate(i, g, means[k], x0, xr)
		}
	}
	for k, i := range active {
		copy(batch.Row(r.cur.Data(), i, d), batch.Row(xs.Data(), k, d))
	}
	return r.offer(active, xs)
}

// adamStep is SPSA's step of sample i: Adam on the estimate g, then the
// exact projection of xr (in place) onto the ball around x0 and the box.
func (r *estRun) adamStep(i int, g, x0, xr []float32) {
	d := r.d
	a := r.acc[i*d : (i+1)*d]
	r.count[i]++
	v := r.second[i*d : (i+1)*d]
	c1 := 1 - math.Pow(adamBeta1, float64(r.count[i]))
	c2 := 1 - math.Pow(adamBeta2, float64(r.count[i]))
	for j, gv := range g {
		gf := float64(gv)
		a[j] = adamBeta1*a[j] + (1-adamBeta1)*gf
		v[j] = adamBeta2*v[j] + (1-adamBeta2)*gf*gf
		xr[j] = float32(float64(xr[j]) + r.alpha*(a[j]/c1)/(math.Sqrt(v[j]/c2)+adamEps))
	}
	projectSample(r.tm.Norm, r.tm.Eps, r.lo, r.hi, x0, xr, true, &r.sc)
}

// nesUpdate is NES's step of sample i: momentum on the estimate g, the
// plateau decay of the step size (mean is the probes' mean objective),
// then a PGD step of xr (in place).
func (r *estRun) nesUpdate(i int, g []float32, mean float64, x0, xr []float32) {
	d, s := r.d, r.s
	a := r.acc[i*d : (i+1)*d]
	for j, gv := range g {
		a[j] = s.momentum*a[j] + (1-s.momentum)*float64(gv)
	}
	w := append(r.window[i], mean)
	if len(w) > s.plateau {
		w = w[len(w)-s.plateau:]
	}
	if len(w) == s.plateau && w[len(w)-1] < w[0] {
		r.step[i] = math.Max(r.step[i]/s.drop, r.minAlpha)
		w = w[:0]
	}
	r.window[i] = w
	if estTrace != nil {
		estTrace(i, g, a, mean, r.step[i])
	}
	nesStep(r.tm, x0, xr, a, r.step[i], r.lo, r.hi, &r.sc)
}

// estTrace, when set (by tests), is called at each NES step of sample i
// with the raw estimate, the momentum-smoothed one, the mean objective of
// the probes and the step size after the plateau rule.
var estTrace func(i int, raw []float32, smoothed []float64, mean, step float64)

// nesStep moves xr (in place) by alpha along the PGD direction of g (sign
// for Linf, g/||g||_2 for L2) and projects it onto the eps-ball around x0
// and the box (a clamp for Linf; a rescaling then a clip for L2, as PGD).
func nesStep(tm ThreatModel, x0, xr []float32, g []float64, alpha, lo, hi float64, sc *scratch) {
	if tm.Norm == Linf {
		for j, v := range g {
			a, b := linfBounds(float64(x0[j]), tm.Eps, lo, hi)
			xv := float64(xr[j])
			switch {
			case v > 0:
				xv += alpha
			case v < 0:
				xv -= alpha
			}
			xr[j] = min(max(float32(xv), a), b)
		}
		return
	}
	var ss float64
	for _, v := range g {
		ss += v * v
	}
	if nrm := math.Sqrt(ss); nrm >= 1e-12 {
		for j, v := range g {
			xr[j] = float32(float64(xr[j]) + alpha*v/nrm)
		}
	}
	projectSample(tm.Norm, tm.Eps, lo, hi, x0, xr, false, sc)
}

// estimate writes into rows g0.. of grad the estimated gradients of the
// samples gs at their current points, querying 2*pairs probes each, and
// into means[g0..] the mean objective of each sample's probes.
func estimate(o *Oracle, name string, cur *tensor.Tensor, gs []int, g0 int, grad *tensor.Tensor, means []float64, rngs []*tensor.RNG, s estSpec, sigma, lo, hi float64, c Criterion, spent []int) error {
	d := cur.Len() / cur.Dim(0)
	p := s.pairs
	q := tensor.New[float32](append([]int{len(gs) * 2 * p}, cur.Shape()[1:]...)...)
	qi := make([]int, 0, len(gs)*2*p)
	dirs := make([][]float32, len(gs)*p)
	for k, i := range gs {
		g := rngs[i]
		xc := batch.Row(cur.Data(), i, d)
		for j := 0; j < p; j++ {
			u := make([]float32, d)
			for t := range u {
				if s.rademacher {
					if g.Float64() < 0.5 {
						u[t] = -1
					} else {
						u[t] = 1
					}
				} else {
					u[t] = float32(g.NormFloat64())
				}
			}
			dirs[k*p+j] = u
			plus := batch.Row(q.Data(), (k*p+j)*2, d)
			minus := batch.Row(q.Data(), (k*p+j)*2+1, d)
			for t, v := range u {
				plus[t] = float32(math.Min(math.Max(float64(xc[t])+sigma*float64(v), lo), hi))
				minus[t] = float32(math.Min(math.Max(float64(xc[t])-sigma*float64(v), lo), hi))
			}
			qi = append(qi, i, i)
		}
	}
	scores, err := queryScores(o, qi, q)
	if err != nil {
		return budgetError(name, err)
	}
	obj := s.loss.objectives(scores, c.Select(qi))
	for k, i := range gs {
		spent[i] += 2 * p
		gr := batch.Row(grad.Data(), g0+k, d)
		acc := make([]float64, d)
		var sum float64
		var finite int
		for _, v := range obj[k*p*2 : (k+1)*p*2] {
			if !math.IsInf(v, 0) && !math.IsNaN(v) {
				sum += v
				finite++
			}
		}
		means[g0+k] = sum / float64(max(finite, 1))
		for j := 0; j < p; j++ {
			f := obj[(k*p+j)*2] - obj[(k*p+j)*2+1]
			if math.IsInf(f, 0) || math.IsNaN(f) {
				continue // a NaN output: no information
			}
			for t, v := range dirs[k*p+j] {
				acc[t] += f * float64(v)
			}
		}
		scale := 1 / (2 * float64(p) * sigma)
		for t := range gr {
			gr[t] = float32(acc[t] * scale)
		}
	}
	return nil
}
