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
	loss := a.Loss
	if loss == DefaultScoreLoss {
		loss = ProbabilityScore
	}
	n := x.Dim(0)
	d := x.Len() / n
	ch, h, w := imageDims(x)
	lo, hi := tm.Bounds()
	alpha := a.Alpha
	if alpha == 0 {
		switch {
		case tm.Norm == Linf && a.Basis == PixelBasis:
			alpha = tm.Eps
		case tm.Norm == Linf:
			alpha = tm.Eps * math.Sqrt(float64(h*w)) / 2
		default:
			alpha = math.Min(tm.Eps, 0.2*(hi-lo))
		}
	}
	if math.IsInf(alpha, 1) { // Linf with eps +Inf: the box's side
		alpha = hi - lo
	}
	var dct *dctBasis
	if a.Basis == DCTBasis {
		dct = newDCTBasis(h, w)
	}
	freq := a.FreqDims
	if freq == 0 {
		freq = (h + 3) / 4
	}
	stride := a.Stride
	if stride == 0 {
		stride = (h + 7) / 8
	}
	queries := batch.OrDefault(a.Queries, 10000)
	rngs := SampleRNGs(a.Seed, x)
	orders := make([][]int, n)
	for i := range orders {
		if dct != nil {
			orders[i] = DCTOrder(ch, h, w, freq, stride, rngs[i])
		} else {
			orders[i] = rngs[i].Perm(d)
		}
	}
	cur := x.Clone()
	obj := make([]float64, n)
	adv := make([]bool, n)
	spent := make([]int, n)
	var idx []int
	for i := 0; i < n; i++ {
		if o.Remaining(i) > 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) > 0 {
		scores, err := o.Scores(idx, batch.Select(x, idx))
		if err != nil {
			return nil, budgetError("SimBA", err)
		}
		cs := c.Select(idx)
		a0, o0 := cs.IsAdversarial(scores), loss.objectives(scores, cs)
		for k, i := range idx {
			obj[i], adv[i], spent[i] = o0[k], a0[k], 1
		}
	}
	var sc scratch
	dir := make([]float64, d)
	// candidate writes into r the point cur_i + sign*alpha*q (q the t-th
	// direction of sample i) put back into the threat model, and reports
	// whether it differs from cur_i.
	candidate := func(i, t int, sign float64, r []float32) bool {
		x0 := batch.Row(x.Data(), i, d)
		ci := batch.Row(cur.Data(), i, d)
		copy(r, ci)
		k := orders[i][t]
		if dct == nil {
			r[k] = float32(float64(r[k]) + sign*alpha)
		} else {
			dct.vector(k, ch, dir)
			for j, v := range dir {
				if v != 0 {
					r[j] = float32(float64(r[j]) + sign*alpha*v)
				}
			}
		}
		projectSample(tm.Norm, tm.Eps, lo, hi, x0, r, false, &sc)
		return !slices.Equal(r, ci)
	}
	for t := 0; t < d; t++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var active []int
		for i := 0; i < n; i++ {
			if spent[i] > 0 && !adv[i] && spent[i] < queries && o.Remaining(i) > 0 {
				active = append(active, i)
			}
		}
		if len(active) == 0 {
			break
		}
		var retry []int
		for _, sign := range []float64{-1, 1} {
			from := active
			if sign > 0 {
				from = retry
			}
			if len(from) == 0 {
				continue
			}
			var qi []int
			q := tensor.New[float32](append([]int{len(from)}, x.Shape()[1:]...)...)
			for _, i := range from {
				if spent[i] >= queries || o.Remaining(i) <= 0 {
					continue
				}
				r := batch.Row(q.Data(), len(qi), d)
				if candidate(i, t, sign, r) {
					qi = append(qi, i)
				} else if sign < 0 {
					retry = append(retry, i)
				}
			}
			if len(qi) == 0 {
				continue
			}
			q = q.Narrow0(0, len(qi))
			scores, err := queryScores(o, qi, q)
			if err != nil {
				return nil, budgetError("SimBA", err)
			}
			cs := c.Select(qi)
			av, ov := cs.IsAdversarial(scores), loss.objectives(scores, cs)
			for k, i := range qi {
				spent[i]++
				if av[k] || ov[k] > obj[i] {
					obj[i], adv[i] = ov[k], av[k]
					copy(batch.Row(cur.Data(), i, d), batch.Row(q.Data(), k, d))
				} else if sign < 0 {
					retry = append(retry, i)
				}
			}
			slices.Sort(retry)
		}
	}
	return cur, nil
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
