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
// and Lin (ICML 2018): with Samples antithetic pairs of Gaussian directions
// u_k ~ N(0, I),
//
//	g = 1/(2 Samples Sigma) * sum_k (f(x + Sigma u_k) - f(x - Sigma u_k)) u_k
//
// (the probes clipped into the box, as any query must be), f the objective
// Loss, followed by a PGD step of size Alpha: x = clip(proj(x + Alpha *
// sign(g))) for Linf, x + Alpha * g/||g||_2 for L2. Each step costs 2*Samples
// queries for the estimate and one to evaluate the new point; each sample
// keeps its best point (adversarial if any was, else the largest
// objective), stops as soon as it is adversarial, and stops when it cannot
// afford another step within Queries or the oracle's budget.
type NES struct {
	// Queries is the number of queries per sample (0: 10,000).
	Queries int
	// Samples is the number of antithetic pairs per estimate (0: 25, so
	// 50 queries, Ilyas et al.'s batch).
	Samples int
	// Sigma is the scale of the probes (0: 0.001 * (Hi - Lo), the paper's).
	Sigma float64
	// Alpha is the step size (0: eps/10).
	Alpha float64
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
	return estimateAndStep(ctx, "NES", o, x, c, tm, estSpec{
		queries: batch.OrDefault(a.Queries, 10000), pairs: batch.OrDefault(a.Samples, 25),
		sigma: a.Sigma, sigmaDefault: 0.001, alpha: a.Alpha, loss: loss, seed: a.Seed,
	})
}

// SPSA is projected gradient ascent on the simultaneous-perturbation
// estimate of the gradient (Spall, 1992), as used against defences by
// Uesato, O'Donoghue, van den Oord and Kohli (ICML 2018): NES's estimator
// with Rademacher directions (each coordinate +1 or -1) scaled by Delta,
//
//	g = 1/(2 Samples Delta) * sum_k (f(x + Delta v_k) - f(x - Delta v_k)) v_k,
//
// followed by the same PGD steps (Uesato et al. fed the estimate to Adam;
// here it drives sign or L2-normalised steps, as NES's). Queries, best
// point and stopping as NES.
type SPSA struct {
	// Queries is the number of queries per sample (0: 10,000).
	Queries int
	// Samples is the number of antithetic pairs per estimate (0: 64, so
	// 128 queries, Uesato et al.'s batch).
	Samples int
	// Delta is the size of the probes (0: 0.01 * (Hi - Lo), Uesato et al.'s).
	Delta float64
	// Alpha is the step size (0: eps/10).
	Alpha float64
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
	return estimateAndStep(ctx, "SPSA", o, x, c, tm, estSpec{
		queries: batch.OrDefault(a.Queries, 10000), pairs: batch.OrDefault(a.Samples, 64),
		sigma: a.Delta, sigmaDefault: 0.01, alpha: a.Alpha, loss: loss, seed: a.Seed, rademacher: true,
	})
}

// estSpec configures the shared engine of NES and SPSA.
type estSpec struct {
	queries, pairs      int
	sigma, sigmaDefault float64
	alpha               float64
	loss                ScoreLoss
	seed                uint64
	rademacher          bool
}

// estimateAndStep runs PGD steps on estimated gradients (NES, SPSA).
func estimateAndStep(ctx context.Context, name string, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel, s estSpec) (*tensor.Tensor, error) {
	if tm.Norm != Linf && tm.Norm != L2 {
		return nil, fmt.Errorf("%s supports Linf and L2, not %v", name, tm.Norm)
	}
	if o.Access() != ScoreAccess {
		return nil, fmt.Errorf("%s needs scores: %w", name, ErrLabelsOnly)
	}
	bad := func(v float64) bool { return v < 0 || math.IsNaN(v) || math.IsInf(v, 0) }
	if !s.loss.valid() || bad(s.sigma) || bad(s.alpha) {
		return nil, fmt.Errorf("%s: bad setting (Loss %v, probe size %v, Alpha %v)", name, s.loss, s.sigma, s.alpha)
	}
	if _, err := checkCriterion(c); err != nil {
		return nil, err
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
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
	n := x.Dim(0)
	d := x.Len() / n
	rngs := SampleRNGs(s.seed, x)
	cur := x.Clone()
	b := newBest(x)
	spent := make([]int, n)
	// Evaluate the start (one query).
	var idx []int
	for i := 0; i < n; i++ {
		if o.Remaining(i) > 0 {
			idx = append(idx, i)
		}
	}
	offer := func(idx []int, q *tensor.Tensor) error {
		if len(idx) == 0 {
			return nil
		}
		scores, err := queryScores(o, idx, q)
		if err != nil {
			return budgetError(name, err)
		}
		cs := c.Select(idx)
		b.offer(q, cs.IsAdversarial(scores), s.loss.objectives(scores, cs), idx)
		for _, i := range idx {
			spent[i]++
		}
		return nil
	}
	if err := offer(idx, batch.Select(x, idx)); err != nil {
		return nil, err
	}
	st := newStepper(tm, 0, false, 0)
	cost := 2*s.pairs + 1
	group := max(1, maxQueryRows/(2*s.pairs))
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var active []int
		for i := 0; i < n; i++ {
			if spent[i] > 0 && !b.adv[i] && spent[i]+cost <= s.queries && o.Remaining(i) >= cost {
				active = append(active, i)
			}
		}
		if len(active) == 0 {
			break
		}
		grad := tensor.New[float32](append([]int{len(active)}, x.Shape()[1:]...)...)
		for g0 := 0; g0 < len(active); g0 += group {
			gs := active[g0:min(g0+group, len(active))]
			if err := estimate(o, name, cur, gs, g0, grad, rngs, s, sigma, lo, hi, c, spent); err != nil {
				return nil, err
			}
		}
		xs, x0 := batch.Select(cur, active), batch.Select(x, active)
		st.lo, st.hi = nil, nil // x0 changes with the active set
		st.step(x0, xs, grad, alpha)
		for k, i := range active {
			copy(batch.Row(cur.Data(), i, d), batch.Row(xs.Data(), k, d))
		}
		if err := offer(active, xs); err != nil {
			return nil, err
		}
	}
	return b.x, nil
}

// estimate writes into rows g0.. of grad the estimated gradients of the
// samples gs at their current points, querying 2*pairs probes each.
func estimate(o *Oracle, name string, cur *tensor.Tensor, gs []int, g0 int, grad *tensor.Tensor, rngs []*tensor.RNG, s estSpec, sigma, lo, hi float64, c Criterion, spent []int) error {
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
