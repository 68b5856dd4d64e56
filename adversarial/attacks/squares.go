package attacks

import (
	"context"
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Square is the Square Attack of Andriushchenko, Croce, Flammarion and Hein
// (ECCV 2020), a score-based black-box attack by random search, for Linf
// and L2. It needs only the oracle's scores, no gradient, and is the
// black-box part of AutoAttack.
//
// Linf: the search starts from vertical stripes (each column of each
// channel moved by +eps or -eps at random). Each iteration draws a square
// window of side s at a random position and sets it, channel by channel,
// to x - eps or x + eps (a random sign per channel, redrawn when it would
// change nothing); the candidate replaces the current point when it
// improves the loss or is adversarial. L2: the search starts from a grid of
// s = H/5 windows each holding the paper's "pseudo-Gaussian" pattern
// (concentric rectangles of weight 1/k^2 with opposite signs in the two
// halves, randomly transposed) with a random sign per channel, scaled to
// norm eps. Each iteration moves the mass of a second window into a first
// one, redrawing the pattern there, so the norm stays eps (then clipped to
// the box).
//
// The side s shrinks with the iteration by the paper's schedule for the
// fraction p of pixels changed: p = PInit up to iteration 10 (counted from
// 0), then halved after iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000
// and 8000. Under SquareFixed (the default, AutoAttack's standard run, which
// builds its Square with resc_schedule=False) these thresholds are counted
// in iterations as they are; under SquareRescaled the iteration is first
// rescaled to a budget of 10,000 (int(it / Queries * 10000)), so the
// schedule fits Queries: below 10,000 queries it shrinks the windows
// sooner (at 5,000, each halving comes at half the fixed iteration), above
// it later. The fixed schedule is AutoAttack's standard run's, at 5,000
// queries; with much smaller budgets it keeps large windows to the end and
// is weaker (on a SmallCNN trained on 8,000 Fashion-MNIST images, at Linf
// 0.1 on 64 test images, clean 0.83: robust accuracy 0.42 fixed and 0.28
// rescaled after 1,000 queries, 0.25 and 0.22 after 5,000). s =
// round(sqrt(p * H * W)),
// at least 1 (Linf) or 3 and odd (L2), at most the image side. Windows are
// drawn per sample, from the sample's own generator (SampleRNGs), so a
// batch gives what its rows give alone.
//
// Each sample costs one query for the start and one per iteration, and
// stops as soon as it is adversarial, after Queries queries, or when the
// oracle's budget for it runs out.
type Square struct {
	// Queries is the number of queries per sample, the start included (0:
	// 5000, AutoAttack's).
	Queries int
	// PInit is the initial fraction of pixels changed per iteration (0:
	// 0.8, AutoAttack's choice for both norms).
	PInit float64
	// Loss is the objective (DefaultScoreLoss: the paper's, MarginScore for
	// untargeted and CrossEntropyScore for targeted attacks).
	Loss ScoreLoss
	// Schedule is the schedule of p (SquareFixed, the default, is
	// AutoAttack's standard run; SquareRescaled stretches it to Queries).
	Schedule SquareSchedule
	// Seed seeds the per-sample generators.
	Seed uint64
}

// SquareSchedule selects how Square's fraction p of changed pixels shrinks
// with the iteration.
type SquareSchedule int

const (
	// SquareFixed halves p at the paper's fixed iterations (10, 50, 200,
	// 500, 1000, 2000, 4000, 6000, 8000) whatever the budget: AutoAttack's
	// standard run (resc_schedule=False).
	SquareFixed SquareSchedule = iota
	// SquareRescaled counts those iterations on a budget of 10,000 and
	// rescales them to Queries (AutoAttack's SquareAttack default,
	// resc_schedule=True; fastgo's schedule before SquareFixed existed).
	SquareRescaled
)

// String returns "fixed" or "rescaled".
func (s SquareSchedule) String() string {
	switch s {
	case SquareFixed:
		return "fixed"
	case SquareRescaled:
		return "rescaled"
	}
	return fmt.Sprintf("SquareSchedule(%d)", int(s))
}

// Name returns "Square-<queries>", with "-rescaled" appended under
// SquareRescaled.
func (a Square) Name() string {
	n := fmt.Sprintf("Square-%d", batch.OrDefault(a.Queries, 5000))
	if a.Schedule == SquareRescaled {
		n += "-rescaled"
	}
	return n
}

// PerturbBlackBox implements BlackBoxAttack. The threat model must be Linf
// or L2, and the oracle must reveal scores.
func (a Square) PerturbBlackBox(ctx context.Context, o *Oracle, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if tm.Norm != Linf && tm.Norm != L2 {
		return nil, fmt.Errorf("Square supports Linf and L2, not %v", tm.Norm)
	}
	if o.Access() != ScoreAccess {
		return nil, fmt.Errorf("Square needs scores: %w", ErrLabelsOnly)
	}
	pInit := a.PInit
	if pInit == 0 {
		pInit = 0.8
	}
	if !(pInit > 0 && pInit <= 1) {
		return nil, fmt.Errorf("Square: PInit %v must be in (0, 1]", a.PInit)
	}
	if !a.Loss.valid() {
		return nil, fmt.Errorf("Square: unknown loss %v", a.Loss)
	}
	if a.Schedule != SquareFixed && a.Schedule != SquareRescaled {
		return nil, fmt.Errorf("Square: unknown schedule %v", a.Schedule)
	}
	targeted, err := checkCriterion(c)
	if err != nil {
		return nil, err
	}
	loss := a.Loss
	if loss == DefaultScoreLoss {
		loss = MarginScore
		if targeted {
			loss = CrossEntropyScore
		}
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	if tm.Norm == L2 {
		// An unbounded L2 ball: the box's diameter binds instead.
		lo, hi := tm.Bounds()
		tm.Eps = math.Min(tm.Eps, (hi-lo)*math.Sqrt(float64(x.Len()/x.Dim(0))))
	}
	s := &squareRun{
		a: a, o: o, x: x, c: c, tm: tm, loss: loss, pInit: pInit,
		queries: batch.OrDefault(a.Queries, 5000),
	}
	return s.run(ctx)
}

// squareRun is the state of one Square run.
type squareRun struct {
	a       Square
	o       *Oracle
	x       *tensor.Tensor
	c       Criterion
	tm      ThreatModel
	loss    ScoreLoss
	pInit   float64
	queries int

	n, d, ch, h, w int
	best           *tensor.Tensor // current point of each sample
	obj            []float64      // its objective
	adv            []bool         // whether it is adversarial
	spent          []int          // queries spent by this attack on each sample
	rngs           []*tensor.RNG
	lo, hi         []float32 // Linf: per-pixel bounds x -/+ eps in the box
	sc             scratch
}

func (s *squareRun) run(ctx context.Context) (*tensor.Tensor, error) {
	x := s.x
	s.n = x.Dim(0)
	s.d = x.Len() / s.n
	s.ch, s.h, s.w = imageDims(x)
	s.rngs = SampleRNGs(s.a.Seed, x)
	s.obj = make([]float64, s.n)
	s.adv = make([]bool, s.n)
	s.spent = make([]int, s.n)
	blo, bhi := s.tm.Bounds()
	if s.tm.Norm == Linf {
		s.lo = make([]float32, x.Len())
		s.hi = make([]float32, x.Len())
		for j, v := range x.Data() {
			s.lo[j], s.hi[j] = linfBounds(float64(v), s.tm.Eps, blo, bhi)
		}
	}
	// The start.
	s.best = x.Clone()
	var idx []int
	for i := 0; i < s.n; i++ {
		if s.o.Remaining(i) > 0 {
			idx = append(idx, i)
		}
	}
	for _, i := range idx {
		if s.tm.Norm == Linf {
			s.initLinf(i)
		} else {
			s.initL2(i)
		}
	}
	if err := s.evaluate(idx, batch.Select(s.best, idx), true); err != nil {
		return nil, err
	}
	iters := s.queries - 1
	for it := 0; it < iters; it++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx = idx[:0]
		for i := 0; i < s.n; i++ {
			if !s.adv[i] && s.spent[i] > 0 && s.spent[i] < s.queries && s.o.Remaining(i) > 0 {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			break
		}
		p := squareP(s.pInit, it, s.queries, s.a.Schedule)
		q := batch.Select(s.best, idx)
		for k, i := range idx {
			r := batch.Row(q.Data(), k, s.d)
			if s.tm.Norm == Linf {
				s.stepLinf(i, r, p)
			} else {
				s.stepL2(i, r, p)
			}
		}
		if err := s.evaluate(idx, q, false); err != nil {
			return nil, err
		}
	}
	return s.best, nil
}

// evaluate queries the candidate rows q (row k for sample idx[k]) and keeps
// each candidate that improves its sample's objective or is adversarial
// (all of them when first).
func (s *squareRun) evaluate(idx []int, q *tensor.Tensor, first bool) error {
	if len(idx) == 0 {
		return nil
	}
	scores, err := queryScores(s.o, idx, q)
	if err != nil {
		return budgetError("Square", err)
	}
	cs := s.c.Select(idx)
	adv := cs.IsAdversarial(scores)
	obj := s.loss.objectives(scores, cs)
	for k, i := range idx {
		s.spent[i]++
		if first || adv[k] || obj[k] > s.obj[i] {
			s.obj[i], s.adv[i] = obj[k], adv[k]
			copy(batch.Row(s.best.Data(), i, s.d), batch.Row(q.Data(), k, s.d))
		}
	}
	return nil
}

// squareP is the fraction of pixels changed at iteration it (from 0) of a
// run of the given number of queries: AutoAttack's p_selection, with the
// iteration rescaled to a budget of 10,000 under SquareRescaled.
func squareP(pInit float64, it, queries int, sched SquareSchedule) float64 {
	r := it
	if sched == SquareRescaled {
		r = int(float64(it) / float64(max(queries, 1)) * 10000)
	}
	switch {
	case r <= 10:
		return pInit
	case r <= 50:
		return pInit / 2
	case r <= 200:
		return pInit / 4
	case r <= 500:
		return pInit / 8
	case r <= 1000:
		return pInit / 16
	case r <= 2000:
		return pInit / 32
	case r <= 4000:
		return pInit / 64
	case r <= 6000:
		return pInit / 128
	case r <= 8000:
		return pInit / 256
	}
	return pInit / 512
}

// side returns the window's height and width for a fraction p of the
// pixels: s = round(sqrt(p*H*W)), at least minSide (odd when odd), at most
// the image's sides.
func (s *squareRun) side(p float64, minSide int, odd bool) (int, int) {
	k := max(int(math.Round(math.Sqrt(p*float64(s.h*s.w)))), minSide)
	if odd && k%2 == 0 {
		k++
	}
	return min(k, s.h), min(k, s.w)
}

// initLinf sets sample i of best to the vertical stripes start.
func (s *squareRun) initLinf(i int) {
	g := s.rngs[i]
	b := batch.Row(s.best.Data(), i, s.d)
	lo, hi := batch.Row(s.lo, i, s.d), batch.Row(s.hi, i, s.d)
	for c := 0; c < s.ch; c++ {
		for col := 0; col < s.w; col++ {
			up := g.Float64() < 0.5
			for r := 0; r < s.h; r++ {
				j := (c*s.h+r)*s.w + col
				if up {
					b[j] = hi[j]
				} else {
					b[j] = lo[j]
				}
			}
		}
	}
}

// stepLinf turns r (a copy of sample i's current point) into the next
// Linf candidate: a window of side sqrt(p*H*W) set to x -/+ eps.
func (s *squareRun) stepLinf(i int, r []float32, p float64) {
	g := s.rngs[i]
	sh, sw := s.side(p, 1, false)
	vh := g.IntN(s.h - sh + 1)
	vw := g.IntN(s.w - sw + 1)
	lo, hi := batch.Row(s.lo, i, s.d), batch.Row(s.hi, i, s.d)
	// Redraw the signs while the window would not change (the original's
	// loop; a few tries suffice: with eps > 0 each channel has two
	// distinct values).
	for try := 0; try < 10; try++ {
		changed := false
		for c := 0; c < s.ch; c++ {
			up := g.Float64() < 0.5
			for y := vh; y < vh+sh; y++ {
				for xx := vw; xx < vw+sw; xx++ {
					j := (c*s.h+y)*s.w + xx
					v := lo[j]
					if up {
						v = hi[j]
					}
					if v != r[j] {
						changed = true
					}
					r[j] = v
				}
			}
		}
		if changed {
			return
		}
	}
}

// initL2 sets sample i of best to the L2 start: a grid of windows of side
// H/5 holding the pseudo-Gaussian pattern with random signs, scaled to eps.
func (s *squareRun) initL2(i int) {
	g := s.rngs[i]
	delta := make([]float64, s.d)
	k := max(s.h/5, 1)
	kw := min(k, s.w)
	sp := (s.h - k*5) / 2
	if sp < 0 {
		sp = 0
	}
	for vh := sp; vh+k <= s.h; vh += k {
		for vw := sp; vw+kw <= s.w; vw += kw {
			eta := squareEta(k, kw, g)
			for c := 0; c < s.ch; c++ {
				sign := 1.0
				if g.Float64() < 0.5 {
					sign = -1
				}
				for y := 0; y < k; y++ {
					for xx := 0; xx < kw; xx++ {
						delta[(c*s.h+vh+y)*s.w+vw+xx] += sign * eta[y*kw+xx]
					}
				}
			}
		}
	}
	s.writeL2(i, batch.Row(s.best.Data(), i, s.d), delta)
}

// writeL2 sets r = clip(x_i + eps * delta / ||delta||) and projects it onto
// the threat model exactly (which only corrects float32 rounding).
func (s *squareRun) writeL2(i int, r []float32, delta []float64) {
	x0 := batch.Row(s.x.Data(), i, s.d)
	lo, hi := s.tm.Bounds()
	var nrm float64
	for _, v := range delta {
		nrm += v * v
	}
	nrm = math.Sqrt(nrm) + 1e-12
	scale := s.tm.Eps / nrm
	for j, v := range delta {
		r[j] = float32(math.Min(math.Max(float64(x0[j])+v*scale, lo), hi))
	}
	projectSample(L2, s.tm.Eps, lo, hi, x0, r, true, &s.sc)
}

// stepL2 turns r (a copy of sample i's current point) into the next L2
// candidate, as in AutoAttack's Square: the perturbation's mass in a second
// window (and in the first) moves into the first window, redrawn with the
// pseudo-Gaussian pattern plus its old content, so that the total norm
// stays eps.
func (s *squareRun) stepL2(i int, r []float32, p float64) {
	g := s.rngs[i]
	x0 := batch.Row(s.x.Data(), i, s.d)
	sh, sw := s.side(p, 3, true)
	vh, vw := g.IntN(s.h-sh+1), g.IntN(s.w-sw+1)
	vh2, vw2 := g.IntN(s.h-sh+1), g.IntN(s.w-sw+1)
	delta := make([]float64, s.d)
	var normImage float64
	for j := range delta {
		delta[j] = float64(r[j]) - float64(x0[j])
		normImage += delta[j] * delta[j]
	}
	in := func(y, xx, ah, aw int) bool { return y >= ah && y < ah+sh && xx >= aw && xx < aw+sw }
	// The norm of the perturbation over both windows.
	var normWindows float64
	for c := 0; c < s.ch; c++ {
		for y := 0; y < s.h; y++ {
			for xx := 0; xx < s.w; xx++ {
				if in(y, xx, vh, vw) || in(y, xx, vh2, vw2) {
					v := delta[(c*s.h+y)*s.w+xx]
					normWindows += v * v
				}
			}
		}
	}
	budget := math.Max(s.tm.Eps*s.tm.Eps-normImage, 0)/float64(s.ch) + normWindows
	eta := squareEta(sh, sw, g)
	nw := make([]float64, sh*sw)
	newWin := make([][]float64, s.ch)
	for c := 0; c < s.ch; c++ {
		sign := 1.0
		if g.Float64() < 0.5 {
			sign = -1
		}
		var n1 float64
		for y := 0; y < sh; y++ {
			for xx := 0; xx < sw; xx++ {
				v := delta[(c*s.h+vh+y)*s.w+vw+xx]
				n1 += v * v
			}
		}
		n1 = math.Sqrt(n1) + 1e-12
		var n2 float64
		for y := 0; y < sh; y++ {
			for xx := 0; xx < sw; xx++ {
				v := sign*eta[y*sw+xx] + delta[(c*s.h+vh+y)*s.w+vw+xx]/n1
				nw[y*sw+xx] = v
				n2 += v * v
			}
		}
		f := math.Sqrt(budget) / (math.Sqrt(n2) + 1e-12)
		win := make([]float64, sh*sw)
		for k, v := range nw {
			win[k] = v * f
		}
		newWin[c] = win
	}
	for c := 0; c < s.ch; c++ {
		for y := 0; y < sh; y++ {
			for xx := 0; xx < sw; xx++ {
				delta[(c*s.h+vh2+y)*s.w+vw2+xx] = 0
			}
		}
	}
	for c := 0; c < s.ch; c++ {
		for y := 0; y < sh; y++ {
			for xx := 0; xx < sw; xx++ {
				delta[(c*s.h+vh+y)*s.w+vw+xx] = newWin[c][y*sw+xx]
			}
		}
	}
	s.writeL2(i, r, delta)
}

// squareEta returns the Square attack's pseudo-Gaussian pattern of h x w
// (row-major), of unit L2 norm: the top h/2 rows and the bottom h - h/2
// rows each hold concentric rectangles around their centre with weights
// 1/k^2 summed (k = 1 innermost), the bottom half negated; square patterns
// are transposed with probability 1/2 (drawn from g).
func squareEta(h, w int, g *tensor.RNG) []float64 {
	out := make([]float64, h*w)
	top := etaRectangles(h/2, w)
	bot := etaRectangles(h-h/2, w)
	copy(out, top)
	for k, v := range bot {
		out[(h/2)*w+k] = -v
	}
	normalise(out)
	if g.Float64() > 0.5 && h == w {
		t := make([]float64, h*w)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				t[x*h+y] = out[y*w+x]
			}
		}
		out = t
	}
	return out
}

// etaRectangles returns h x w concentric squares of unit L2 norm: for k = 0,
// 1, ... up to the border, 1/(k+1)^2 is added over the square of side 2k+1
// centred on (h/2, w/2), clipped to the array.
func etaRectangles(h, w int) []float64 {
	out := make([]float64, h*w)
	if h == 0 || w == 0 {
		return out
	}
	ch, cw := h/2, w/2
	for k := 0; k < max(h/2+1, w/2+1); k++ {
		y0, y1 := max(ch-k, 0), min(ch-k+2*k+1, h)
		x0, x1 := max(cw-k, 0), min(cw-k+2*k+1, w)
		v := 1 / float64((k+1)*(k+1))
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				out[y*w+x] += v
			}
		}
	}
	normalise(out)
	return out
}

// normalise scales v to unit L2 norm (a zero vector stays zero).
func normalise(v []float64) {
	var s float64
	for _, x := range v {
		s += x * x
	}
	if s == 0 {
		return
	}
	s = math.Sqrt(s)
	for i := range v {
		v[i] /= s
	}
}
