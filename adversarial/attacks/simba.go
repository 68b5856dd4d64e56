package attacks

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/tensor"
)

// SimBABasis is the orthonormal basis SimBA searches along.
type SimBABasis int

const (
	// PixelBasis is the standard basis: one pixel of one channel at a time
	// (SimBA), in a random order.
	PixelBasis SimBABasis = iota
	// DCTBasis is the orthonormal 2-D DCT-II basis of each channel, low
	// frequencies first (SimBA-DCT; see DCTOrder).
	DCTBasis
)

// String returns "pixel" or "DCT".
func (b SimBABasis) String() string {
	switch b {
	case PixelBasis:
		return "pixel"
	case DCTBasis:
		return "DCT"
	}
	return fmt.Sprintf("SimBABasis(%d)", int(b))
}

// SimBA is the Simple Black-box Attack of Guo, Gardner, You, Wilson and
// Weinberger (ICML 2019), score-based, for Linf and L2. It walks along
// orthonormal directions q taken one at a time without replacement, in the
// basis Basis (pixels in a random order, or DCT frequencies, low first):
// it queries x - Alpha*q and keeps it if the objective improves, else
// queries x + Alpha*q and keeps it if the objective improves, else moves
// on. Every candidate is put back into the threat model (clamped to the
// eps-ball for Linf, rescaled onto it for L2, then clipped to the box); a
// candidate that this leaves equal to the current point is skipped
// without a query.
//
// A sample costs one query for its start, then one or two per direction,
// and stops when it is adversarial, after Queries queries, when the
// oracle's budget for it runs out or when the basis is exhausted (at most
// 2*C*H*W + 1 queries).
type SimBA struct {
	// Basis is PixelBasis (the zero value) or DCTBasis.
	Basis SimBABasis
	// Alpha is the step along each direction (0: eps for Linf with the
	// pixel basis, so that every pixel moves by eps; eps*sqrt(H*W)/2 for
	// Linf with the DCT basis, so that a direction's largest entry is about
	// eps; min(eps, 0.2*(Hi-Lo)) for L2, the paper's 0.2).
	Alpha float64
	// Queries is the number of queries per sample (0: 10,000).
	Queries int
	// FreqDims is the side of the square of lowest frequencies that
	// DCTBasis tries first (0: ceil(H/4)); Stride the width of each
	// following band of frequencies (0: ceil(H/8)). See DCTOrder.
	FreqDims, Stride int
	// Loss is the objective (DefaultScoreLoss: ProbabilityScore, the
	// paper's: the softmax probability of the label, or of the target).
	Loss ScoreLoss
	// Seed seeds the per-sample orders.
	Seed uint64
}

// Name returns "SimBA-<queries>" or "SimBA-DCT-<queries>".
func (a SimBA) Name() string {
	if a.Basis == DCTBasis {
		return fmt.Sprintf("SimBA-DCT-%d", batch.OrDefault(a.Queries, 10000))
	}
	return fmt.Sprintf("SimBA-%d", batch.OrDefault(a.Queries, 10000))
}

// PerturbBlackBox implements BlackBoxAttack.
func (a SimBA) PerturbBlackBox(ctx context.Context, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if tm.Norm != Linf && tm.Norm != L2 {
		return nil, fmt.Errorf("SimBA supports Linf and L2, not %v", tm.Norm)
	}
	if a.Basis != PixelBasis && a.Basis != DCTBasis {
		return nil, fmt.Errorf("SimBA: unknown basis %v", a.Basis)
	}
	if o.Access() != ScoreAccess {
		return nil, fmt.Errorf("SimBA needs scores: %w", ErrLabelsOnly)
	}
	if !a.Loss.valid() || a.Alpha < 0 || math.IsNaN(a.Alpha) || math.IsInf(a.Alpha, 0) || a.FreqDims < 0 || a.Stride < 0 {
		return nil, fmt.Errorf("SimBA: bad setting (Loss %v, Alpha %v, FreqDims %d, Stride %d)", a.Loss, a.Alpha, a.FreqDims, a.Stride)
	}
	if _, err := checkCriterion(c); err != nil {
		return nil, err
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	r := newSimBARun(a, o, x, c, tm)
	if err := r.start(); err != nil {
		return nil, err
	}
	for t := 0; t < r.d; t++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var active []int
		for i := 0; i < r.n; i++ {
			if r.spent[i] > 0 && !r.adv[i] && r.spent[i] < r.queries && o.Remaining(i) > 0 {
				active = append(active, i)
			}
		}
		if len(active) == 0 {
			break
		}
		// Step back along the t-th direction, then forward on the samples
		// the step back did not improve.
		retry, err := r.try(active, t, -1, nil)
		if err != nil {
			return nil, err
		}
		if _, err := r.try(retry, t, 1, nil); err != nil {
			return nil, err
		}
	}
	return r.cur, nil
}

// simbaRun is one SimBA attack on a batch: each sample's order of
// directions, current point, objective and queries spent.
type simbaRun struct {
	o       *Oracle
	x, cur  *tensor.Tensor
	c       Criterion
	tm      ThreatModel
	loss    ScoreLoss
	alpha   float64
	lo, hi  float64
	ch      int
	n, d    int
	queries int
	dct     *dctBasis
	orders  [][]int
	obj     []float64
	adv     []bool
	spent   []int
	sc      scratch
	dir     []float64
}

// newSimBARun resolves a's defaults for x and tm and draws each sample's
// order of directions.
func newSimBARun(a SimBA, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel) *simbaRun {
	r := &simbaRun{o: o, x: x, c: c, tm: tm, loss: a.Loss, queries: batch.OrDefault(a.Queries, 10000)}
	if r.loss == DefaultScoreLoss {
		r.loss = ProbabilityScore
	}
	r.n = x.Dim(0)
	r.d = x.Len() / r.n
	ch, h, w := imageDims(x)
	r.ch = ch
	r.lo, r.hi = tm.Bounds()
	r.alpha = a.Alpha
	if r.alpha == 0 {
		switch {
		case tm.Norm == Linf && a.Basis == PixelBasis:
			r.alpha = tm.Eps
		case tm.Norm == Linf:
			r.alpha = tm.Eps * math.Sqrt(float64(h*w)) / 2
		default:
			r.alpha = math.Min(tm.Eps, 0.2*(r.hi-r.lo))
		}
	}
	if math.IsInf(r.alpha, 1) { // Linf with eps +Inf: the box's side
		r.alpha = r.hi - r.lo
	}
	if a.Basis == DCTBasis {
		r.dct = newDCTBasis(h, w)
	}
	freq := a.FreqDims
	if freq == 0 {
		freq = (h + 3) / 4
	}
	stride := a.Stride
	if stride == 0 {
		stride = (h + 7) / 8
	}
	rngs := SampleRNGs(a.Seed, x)
	r.orders = make([][]int, r.n)
	for i := range r.orders {
		if r.dct != nil {
			r.orders[i] = DCTOrder(ch, h, w, freq, stride, rngs[i])
		} else {
			r.orders[i] = rngs[i].Perm(r.d)
		}
	}
	r.cur = x.Clone()
	r.obj, r.adv, r.spent = make([]float64, r.n), make([]bool, r.n), make([]int, r.n)
	r.dir = make([]float64, r.d)
	return r
}

// start queries the clean samples that have a budget: their objective and
// whether they are adversarial already.
func (r *simbaRun) start() error {
	var idx []int
	for i := 0; i < r.n; i++ {
		if r.o.Remaining(i) > 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	scores, err := r.o.Scores(idx, batch.Select(r.x, idx))
	if err != nil {
		return budgetError("SimBA", err)
	}
	cs := r.c.Select(idx)
	a0, o0 := cs.IsAdversarial(scores), r.loss.objectives(scores, cs)
	for k, i := range idx {
		r.obj[i], r.adv[i], r.spent[i] = o0[k], a0[k], 1
	}
	return nil
}

// candidate writes into p the point cur_i + sign*alpha*q (q the t-th
// direction of sample i) put back into the threat model, and reports
// whether it differs from cur_i.
func (r *simbaRun) candidate(i, t int, sign float64, p []float32) bool {
	x0 := batch.Row(r.x.Data(), i, r.d)
	ci := batch.Row(r.cur.Data(), i, r.d)
	copy(p, ci)
	k := r.orders[i][t]
	if r.dct == nil {
		p[k] = float32(float64(p[k]) + sign*r.alpha)
	} else {
		r.dct.vector(k, r.ch, r.dir)
		for j, v := range r.dir {
			if v != 0 {
				p[j] = float32(float64(p[j]) + sign*r.alpha*v)
			}
		}
	}
	projectSample(r.tm.Norm, r.tm.Eps, r.lo, r.hi, x0, p, false, &r.sc)
	return !slices.Equal(p, ci)
}

// try queries, for the samples from that still have queries, the step of
// sign along their t-th direction, keeps the steps that improve the
// objective, and returns (with retry appended, sorted) the samples whose
// step did not improve it or left them where they were.
func (r *simbaRun) try(from []int, t int, sign float64, retry []int) ([]int, error) {
	if len(from) == 0 {
		return retry, nil
	}
	var qi []int
	q := tensor.New[float32](append([]int{len(from)}, r.x.Shape()[1:]...)...)
	for _, i := range from {
		if r.spent[i] >= r.queries || r.o.Remaining(i) <= 0 {
			continue
		}
		if r.candidate(i, t, sign, batch.Row(q.Data(), len(qi), r.d)) {
			qi = append(qi, i)
		} else {
			retry = append(retry, i)
		}
	}
	if len(qi) == 0 {
		return retry, nil
	}
	q = q.Narrow0(0, len(qi))
	scores, err := queryScores(r.o, qi, q)
	if err != nil {
		return nil, budgetError("SimBA", err)
	}
	cs := r.c.Select(qi)
	av, ov := cs.IsAdversarial(scores), r.loss.objectives(scores, cs)
	for k, i := range qi {
		r.spent[i]++
		if av[k] || ov[k] > r.obj[i] {
			r.obj[i], r.adv[i] = ov[k], av[k]
			copy(batch.Row(r.cur.Data(), i, r.d), batch.Row(q.Data(), k, r.d))
		} else {
			retry = append(retry, i)
		}
	}
	slices.Sort(retry)
	return retry, nil
}

// dctBasis holds the orthonormal 1-D DCT-II vectors of lengths h and w.
type dctBasis struct {
	h, w   int
	cy, cx []float64 // cy[u*h+y], cx[v*w+x]
}

func newDCTBasis(h, w int) *dctBasis {
	return &dctBasis{h: h, w: w, cy: dct1(h), cx: dct1(w)}
}

// dct1 returns the n orthonormal DCT-II vectors of length n, row u holding
// a(u) cos(pi (2y+1) u / (2n)) with a(0) = sqrt(1/n), a(u) = sqrt(2/n).
func dct1(n int) []float64 {
	out := make([]float64, n*n)
	for u := 0; u < n; u++ {
		a := math.Sqrt(2 / float64(n))
		if u == 0 {
			a = math.Sqrt(1 / float64(n))
		}
		for y := 0; y < n; y++ {
			out[u*n+y] = a * math.Cos(math.Pi*float64(2*y+1)*float64(u)/float64(2*n))
		}
	}
	return out
}

// vector writes into dst (C*H*W values) the basis vector k = (c*H + u)*W
// + v: the 2-D DCT-II basis image of frequency (u, v) in channel c, zero in
// the other channels. The vectors are orthonormal: they are the inverse
// DCT (type III, orthonormal) of the unit vectors.
func (b *dctBasis) vector(k, channels int, dst []float64) {
	clear(dst)
	hw := b.h * b.w
	c, f := k/hw, k%hw
	u, v := f/b.w, f%b.w
	ry := b.cy[u*b.h : (u+1)*b.h]
	rx := b.cx[v*b.w : (v+1)*b.w]
	out := dst[c*hw : (c+1)*hw]
	for y := 0; y < b.h; y++ {
		for x := 0; x < b.w; x++ {
			out[y*b.w+x] = ry[y] * rx[x]
		}
	}
}

// DCTOrder returns the order in which SimBA-DCT tries the C*H*W DCT
// directions (indices (c*H + u)*W + v, frequency (u, v) of channel c), low
// frequencies first, as Guo et al.'s block order: first every direction
// with u and v below freq, in a random order, then the band of directions
// whose max(u, v) lies in [freq, freq+stride), in a random order, then the
// next band, and so on to the highest frequencies. The random orders are
// drawn from g.
func DCTOrder(channels, h, w, freq, stride int, g *tensor.RNG) []int {
	if channels < 1 || h < 1 || w < 1 || freq < 1 || stride < 1 {
		panic(fastgo.Errorf("attacks.DCTOrder: channels %d, size %dx%d, freq %d, stride %d", channels, h, w, freq, stride))
	}
	band := func(u, v int) int {
		m := max(u, v)
		if m < freq {
			return 0
		}
		return 1 + (m-freq)/stride
	}
	nb := band(h-1, w-1) + 1
	groups := make([][]int, nb)
	for c := 0; c < channels; c++ {
		for u := 0; u < h; u++ {
			for v := 0; v < w; v++ {
				b := band(u, v)
				groups[b] = append(groups[b], (c*h+u)*w+v)
			}
		}
	}
	out := make([]int, 0, channels*h*w)
	for _, gr := range groups {
		for _, p := range g.Perm(len(gr)) {
			out = append(out, gr[p])
		}
	}
	return out
}
