package attacks

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/tensor"
)

// HopSkipJump is the decision-based attack of Chen, Jordan and Wainwright
// (IEEE S&P 2020): it needs only the oracle's top class (a LabelAccess
// oracle is enough) and searches for the adversarial point nearest to x,
// in L2 or Linf.
//
// It starts from an adversarial point: the sample's row of Starts when
// given and adversarial (for a targeted attack, an image of the target
// class), else the first of InitTries uniform random images that is
// adversarial. It then repeats, for each sample:
//
//  1. a binary search on the segment from x to the current point (L2) or on
//     the radius of the Linf box around x (Linf) for the boundary, to a
//     tolerance theta = Gamma / d^(3/2) (L2) or Gamma / d^2 (times the
//     distance, Linf), d the number of pixels, the end kept on the
//     adversarial side;
//  2. an estimate of the boundary's normal at that point from the labels of
//     InitEvals * sqrt(t) probes (at most MaxEvals) at radius delta (0.1 of
//     the box at the first iteration, then sqrt(d) * theta * dist for L2 and
//     d * theta * dist for Linf), baselined by their mean, as the authors'
//     code does;
//  3. a geometric step search: the step dist / sqrt(t) along the estimate
//     (its sign for Linf), halved until the point is adversarial again.
//
// The attack minimises the distance. With a finite Eps a sample stops as
// soon as its adversarial point is within Eps (the threat model's
// question is answered), and the point returned is the best one found,
// moved onto the eps-ball (along the segment to x for L2, clipped for
// Linf), which is then adversarial only if the search got within Eps.
// With Eps = +Inf it returns the nearest adversarial found. A sample for
// which no adversarial start is found is returned unchanged. Each query
// is charged; a sample stops when Queries or the oracle's budget runs out,
// keeping its best point.
type HopSkipJump struct {
	// Queries is the number of queries per sample (0: 10,000).
	Queries int
	// Iterations bounds the number of iterations (0: no bound beyond the
	// queries).
	Iterations int
	// InitEvals and MaxEvals are the probes of the first estimate and the
	// most of any (0: 100 and 10,000, the paper's).
	InitEvals, MaxEvals int
	// Gamma sets the binary search's tolerance (0: 1.0, the paper's).
	Gamma float64
	// InitTries is the number of random images tried for a start (0: 100).
	InitTries int
	// Starts optionally gives a starting point per sample [N, ...] (images
	// of the target class for a targeted attack); a start that is not
	// adversarial, or not of the input's shape, is replaced by a random
	// search.
	Starts *tensor.Tensor
	// Seed seeds the per-sample generators.
	Seed uint64
}

// Name returns "HSJ-<queries>".
func (a HopSkipJump) Name() string { return fmt.Sprintf("HSJ-%d", batch.OrDefault(a.Queries, 10000)) }

// PerturbBlackBox implements BlackBoxAttack.
func (a HopSkipJump) PerturbBlackBox(ctx context.Context, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if tm.Norm != Linf && tm.Norm != L2 {
		return nil, fmt.Errorf("HopSkipJump supports Linf and L2, not %v", tm.Norm)
	}
	if a.Gamma < 0 || math.IsNaN(a.Gamma) || math.IsInf(a.Gamma, 0) || a.InitEvals < 0 || a.MaxEvals < 0 || a.InitTries < 0 || a.Iterations < 0 {
		return nil, fmt.Errorf("HopSkipJump: bad setting (Gamma %v, InitEvals %d, MaxEvals %d, InitTries %d, Iterations %d)", a.Gamma, a.InitEvals, a.MaxEvals, a.InitTries, a.Iterations)
	}
	if _, err := checkCriterion(c); err != nil {
		return nil, err
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	h := &hsjRun{a: a, o: o, x: x, c: c, tm: tm}
	return h.run(ctx)
}

// hsjRun is the state of one HopSkipJump run.
type hsjRun struct {
	a  HopSkipJump
	o  *Oracle
	x  *tensor.Tensor
	c  Criterion
	tm ThreatModel

	n, d    int
	lo, hi  float64
	theta   float64
	queries int
	rngs    []*tensor.RNG
	cur     *tensor.Tensor // each sample's current adversarial point
	dist    []float64      // its distance to x
	best    *tensor.Tensor // each sample's nearest adversarial point so far
	bestD   []float64      // its distance to x
	found   []bool         // whether the sample has an adversarial point
	done    []bool         // whether the sample has stopped
	spent   []int
}

// can reports whether sample i may make k more queries.
func (h *hsjRun) can(i, k int) bool {
	return h.spent[i]+k <= h.queries && h.o.Remaining(i) >= k
}

// decide queries the rows q for the samples idx (each affordable) and
// returns whether each is adversarial.
func (h *hsjRun) decide(idx []int, q *tensor.Tensor) ([]bool, error) {
	pred, err := queryLabels(h.o, idx, q)
	if err != nil {
		return nil, budgetError("HopSkipJump", err)
	}
	for _, i := range idx {
		h.spent[i]++
	}
	return h.c.Select(idx).IsAdversarialClass(pred), nil
}

func (h *hsjRun) run(ctx context.Context) (*tensor.Tensor, error) {
	x := h.x
	h.n = x.Dim(0)
	h.d = x.Len() / h.n
	h.lo, h.hi = h.tm.Bounds()
	h.queries = batch.OrDefault(h.a.Queries, 10000)
	gamma := h.a.Gamma
	if gamma == 0 {
		gamma = 1
	}
	fd := float64(h.d)
	if h.tm.Norm == L2 {
		h.theta = gamma / (math.Sqrt(fd) * fd)
	} else {
		h.theta = gamma / (fd * fd)
	}
	h.rngs = SampleRNGs(h.a.Seed, x)
	h.cur = x.Clone()
	h.dist = make([]float64, h.n)
	h.best = x.Clone()
	h.bestD = make([]float64, h.n)
	for i := range h.bestD {
		h.bestD[i] = math.Inf(1)
	}
	h.found = make([]bool, h.n)
	h.done = make([]bool, h.n)
	h.spent = make([]int, h.n)
	if err := h.initialise(ctx); err != nil {
		return nil, err
	}
	if err := h.binarySearch(ctx, h.activeFound()); err != nil {
		return nil, err
	}
	h.stopWithin()
	initEvals := batch.OrDefault(h.a.InitEvals, 100)
	maxEvals := batch.OrDefault(h.a.MaxEvals, 10000)
	for t := 1; h.a.Iterations == 0 || t <= h.a.Iterations; t++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		active := h.activeFound()
		if len(active) == 0 {
			break
		}
		// 2. The gradient estimate at each boundary point, sample by
		// sample (a sample's probes depend on its generator alone).
		evals := min(int(float64(initEvals)*math.Sqrt(float64(t))), maxEvals)
		updates := make(map[int][]float64, len(active))
		var stepping []int
		for _, i := range active {
			// Keep a reserve for the step and binary searches.
			k := min(evals, h.queries-h.spent[i]-hsjReserve, h.o.Remaining(i)-hsjReserve)
			if k < 2 {
				h.done[i] = true
				continue
			}
			delta := 0.1 * (h.hi - h.lo)
			if t > 1 {
				if h.tm.Norm == L2 {
					delta = math.Sqrt(fd) * h.theta * h.dist[i]
				} else {
					delta = fd * h.theta * h.dist[i]
				}
			}
			u, err := h.gradient(i, k, delta)
			if err != nil {
				return nil, err
			}
			updates[i] = u
			stepping = append(stepping, i)
		}
		// 3. The geometric step search, all samples in lockstep.
		if err := h.stepSearch(ctx, stepping, updates, t); err != nil {
			return nil, err
		}
		// 1. Back to the boundary.
		if err := h.binarySearch(ctx, stepping); err != nil {
			return nil, err
		}
		h.stopWithin()
	}
	return h.finish(), nil
}

// hsjReserve is the number of queries kept back from an estimate for the
// step search and the binary search that follow it.
const hsjReserve = 40

// activeFound returns the samples that have an adversarial point and have
// not stopped.
func (h *hsjRun) activeFound() []int {
	var out []int
	for i := 0; i < h.n; i++ {
		if h.found[i] && !h.done[i] {
			out = append(out, i)
		}
	}
	return out
}

// stopWithin records each sample's current point as its best when it is
// nearer, and stops the samples whose best is within a finite Eps.
func (h *hsjRun) stopWithin() {
	for i := 0; i < h.n; i++ {
		if !h.found[i] {
			continue
		}
		if h.dist[i] < h.bestD[i] {
			h.bestD[i] = h.dist[i]
			copy(batch.Row(h.best.Data(), i, h.d), batch.Row(h.cur.Data(), i, h.d))
		}
		if !math.IsInf(h.tm.Eps, 1) && h.bestD[i] <= h.tm.Eps {
			h.done[i] = true
		}
	}
}

// initialise finds an adversarial start for each sample: its row of Starts
// if adversarial, else the first adversarial of InitTries uniform images.
func (h *hsjRun) initialise(ctx context.Context) error {
	var idx []int
	if st := h.a.Starts; st != nil && slices.Equal(st.Shape(), h.x.Shape()) {
		for i := 0; i < h.n; i++ {
			r := batch.Row(st.Data(), i, h.d)
			ok := h.can(i, 1)
			for _, v := range r {
				if f := float64(v); math.IsNaN(f) || f < h.lo || f > h.hi {
					ok = false
				}
			}
			if ok {
				idx = append(idx, i)
			}
		}
		if len(idx) > 0 {
			if err := h.tryStarts(idx, batch.Select(st, idx)); err != nil {
				return err
			}
		}
	}
	tries := batch.OrDefault(h.a.InitTries, 100)
	for t := 0; t < tries; t++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		idx = idx[:0]
		for i := 0; i < h.n; i++ {
			if !h.found[i] && h.can(i, 1) {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			break
		}
		q := tensor.New[float32](append([]int{len(idx)}, h.x.Shape()[1:]...)...)
		for k, i := range idx {
			g := h.rngs[i]
			r := batch.Row(q.Data(), k, h.d)
			for j := range r {
				r[j] = float32(h.lo + (h.hi-h.lo)*g.Float64())
			}
		}
		if err := h.tryStarts(idx, q); err != nil {
			return err
		}
	}
	for i := 0; i < h.n; i++ {
		if h.found[i] {
			h.dist[i] = h.distance(i, batch.Row(h.cur.Data(), i, h.d))
		}
	}
	return nil
}

// tryStarts queries the candidate starts q, row k for sample idx[k], and
// takes each adversarial one as its sample's start.
func (h *hsjRun) tryStarts(idx []int, q *tensor.Tensor) error {
	adv, err := h.decide(idx, q)
	if err != nil {
		return err
	}
	for k, i := range idx {
		if adv[k] {
			h.found[i] = true
			copy(batch.Row(h.cur.Data(), i, h.d), batch.Row(q.Data(), k, h.d))
		}
	}
	return nil
}

// distance returns the tm.Norm distance from sample i of x to r.
func (h *hsjRun) distance(i int, r []float32) float64 {
	return h.tm.Norm.Distance(batch.Row(h.x.Data(), i, h.d), r)
}

// interpolate writes into dst the point at parameter a between sample i of
// x and p: (1-a) x + a p for L2, p clipped to the Linf box of radius a
// around x for Linf.
func (h *hsjRun) interpolate(i int, p []float32, a float64, dst []float32) {
	x0 := batch.Row(h.x.Data(), i, h.d)
	for j, v := range p {
		c := float64(x0[j])
		var z float64
		if h.tm.Norm == L2 {
			z = (1-a)*c + a*float64(v)
		} else {
			z = math.Min(math.Max(float64(v), c-a), c+a)
		}
		dst[j] = float32(math.Min(math.Max(z, h.lo), h.hi))
	}
}

// binarySearch moves each sample of idx from its current adversarial point
// to the boundary on the way to x, keeping the adversarial end, all
// samples in lockstep (one query per sample per round).
func (h *hsjRun) binarySearch(ctx context.Context, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	type state struct {
		i              int
		low, high, thr float64
		start          []float32
		moved          bool
	}
	var ss []*state
	for _, i := range idx {
		s := &state{i: i, start: slices.Clone(batch.Row(h.cur.Data(), i, h.d))}
		if h.tm.Norm == L2 {
			s.high, s.thr = 1, h.theta
		} else {
			s.high = h.dist[i]
			s.thr = math.Min(h.dist[i]*h.theta, h.theta)
		}
		ss = append(ss, s)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var live []*state
		for _, s := range ss {
			if s.high-s.low > s.thr && h.can(s.i, 1) {
				live = append(live, s)
			}
		}
		if len(live) == 0 {
			break
		}
		q := tensor.New[float32](append([]int{len(live)}, h.x.Shape()[1:]...)...)
		qi := make([]int, len(live))
		mids := make([]float64, len(live))
		for k, s := range live {
			mids[k] = (s.low + s.high) / 2
			qi[k] = s.i
			h.interpolate(s.i, s.start, mids[k], batch.Row(q.Data(), k, h.d))
		}
		adv, err := h.decide(qi, q)
		if err != nil {
			return err
		}
		for k, s := range live {
			if adv[k] {
				s.high, s.moved = mids[k], true
			} else {
				s.low = mids[k]
			}
		}
	}
	for _, s := range ss {
		if !s.moved {
			continue // the start itself stays (known adversarial)
		}
		r := batch.Row(h.cur.Data(), s.i, h.d)
		h.interpolate(s.i, s.start, s.high, r)
		h.dist[s.i] = h.distance(s.i, r)
	}
	return nil
}

// gradient estimates the boundary's normal at sample i's current point
// from k probes at radius delta, and returns the update direction: the
// unit estimate for L2, its sign for Linf.
func (h *hsjRun) gradient(i, k int, delta float64) ([]float64, error) {
	g := h.rngs[i]
	d := h.d
	cur := batch.Row(h.cur.Data(), i, d)
	// The estimate is mean_k (f_k - mean f) rv_k, accumulated in one pass
	// as sum f rv - mean f * sum rv, so the probes need not be kept; they
	// are queried in blocks of at most maxQueryRows rows and 16M values.
	var sumF float64
	sumRV := make([]float64, d)
	sumFRV := make([]float64, d)
	u := make([]float64, d)
	block := min(maxQueryRows, max(1, (1<<24)/d))
	for s := 0; s < k; s += block {
		m := min(block, k-s)
		q := tensor.New[float32](append([]int{m}, h.x.Shape()[1:]...)...)
		idx := make([]int, m)
		for r := 0; r < m; r++ {
			idx[r] = i
			var nrm float64
			for j := range u {
				if h.tm.Norm == L2 {
					u[j] = g.NormFloat64()
				} else {
					u[j] = 2*g.Float64() - 1
				}
				nrm += u[j] * u[j]
			}
			nrm = math.Sqrt(nrm)
			pr := batch.Row(q.Data(), r, d)
			for j := range u {
				pr[j] = float32(math.Min(math.Max(float64(cur[j])+delta*u[j]/nrm, h.lo), h.hi))
			}
		}
		adv, err := h.decide(idx, q)
		if err != nil {
			return nil, err
		}
		for r := 0; r < m; r++ {
			f := -1.0
			if adv[r] {
				f = 1
			}
			sumF += f
			// rv is the probe's actual direction after clipping, over delta.
			for j, p := range batch.Row(q.Data(), r, d) {
				rv := (float64(p) - float64(cur[j])) / delta
				sumRV[j] += rv
				sumFRV[j] += f * rv
			}
		}
	}
	mean := sumF / float64(k)
	grad := make([]float64, d)
	switch mean {
	case 1:
		copy(grad, sumRV)
	case -1:
		for j, v := range sumRV {
			grad[j] = -v
		}
	default:
		for j := range grad {
			grad[j] = sumFRV[j] - mean*sumRV[j]
		}
	}
	if h.tm.Norm == Linf {
		for j, v := range grad {
			switch {
			case v > 0:
				grad[j] = 1
			case v < 0:
				grad[j] = -1
			}
		}
		return grad, nil
	}
	normalise(grad)
	return grad, nil
}

// stepSearch moves each sample of idx along its update by the largest
// step dist/sqrt(t) * 2^-k (k = 0, 1, ...) that stays adversarial, all
// samples in lockstep; a sample that finds none (in 30 halvings or its
// budget) stays where it is.
func (h *hsjRun) stepSearch(ctx context.Context, idx []int, updates map[int][]float64, t int) error {
	eps := make(map[int]float64, len(idx))
	for _, i := range idx {
		eps[i] = h.dist[i] / math.Sqrt(float64(t))
	}
	live := slices.Clone(idx)
	for round := 0; round < 30 && len(live) > 0; round++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var qi []int
		for _, i := range live {
			if h.can(i, 1) {
				qi = append(qi, i)
			}
		}
		if len(qi) == 0 {
			break
		}
		q := tensor.New[float32](append([]int{len(qi)}, h.x.Shape()[1:]...)...)
		for k, i := range qi {
			cur := batch.Row(h.cur.Data(), i, h.d)
			r := batch.Row(q.Data(), k, h.d)
			u := updates[i]
			for j, v := range cur {
				r[j] = float32(math.Min(math.Max(float64(v)+eps[i]*u[j], h.lo), h.hi))
			}
		}
		adv, err := h.decide(qi, q)
		if err != nil {
			return err
		}
		live = live[:0]
		for k, i := range qi {
			if adv[k] {
				copy(batch.Row(h.cur.Data(), i, h.d), batch.Row(q.Data(), k, h.d))
				h.dist[i] = h.distance(i, batch.Row(h.cur.Data(), i, h.d))
			} else {
				eps[i] /= 2
				live = append(live, i)
			}
		}
	}
	return nil
}

// finish returns each sample's point: x for a sample without an
// adversarial start, else its nearest adversarial point moved onto the
// eps-ball.
func (h *hsjRun) finish() *tensor.Tensor {
	out := h.x.Clone()
	var sc scratch
	for i := 0; i < h.n; i++ {
		if !h.found[i] {
			continue
		}
		r := batch.Row(out.Data(), i, h.d)
		cur := batch.Row(h.best.Data(), i, h.d)
		x0 := batch.Row(h.x.Data(), i, h.d)
		if math.IsInf(h.tm.Eps, 1) || h.bestD[i] <= h.tm.Eps {
			copy(r, cur)
		} else if h.tm.Norm == L2 {
			h.interpolate(i, cur, h.tm.Eps/h.bestD[i], r)
		} else {
			h.interpolate(i, cur, h.tm.Eps, r)
		}
		if !math.IsInf(h.tm.Eps, 1) {
			projectSample(h.tm.Norm, h.tm.Eps, h.lo, h.hi, x0, r, true, &sc)
		}
	}
	return out
}
