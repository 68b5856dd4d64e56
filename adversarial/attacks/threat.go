package attacks

import (
	"fmt"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Norm is the distance that measures a perturbation: Linf, L2 or L1.
type Norm int

const (
	// Linf is the largest absolute change of any pixel.
	Linf Norm = iota
	// L2 is the Euclidean length of the perturbation.
	L2
	// L1 is the sum of the absolute changes.
	L1
)

// String returns "Linf", "L2" or "L1".
func (n Norm) String() string {
	switch n {
	case Linf:
		return "Linf"
	case L2:
		return "L2"
	case L1:
		return "L1"
	}
	return fmt.Sprintf("Norm(%d)", int(n))
}

// valid reports whether n is one of the three norms.
func (n Norm) valid() bool { return n == Linf || n == L2 || n == L1 }

// Distance returns the n-norm of b - a, computed in float64. a and b have
// the same length (one sample each).
func (n Norm) Distance(a, b []float32) float64 {
	if len(a) != len(b) {
		panic(fastgo.Errorf("attacks.Norm.Distance: lengths %d and %d", len(a), len(b)))
	}
	var s float64
	switch n {
	case Linf:
		for i := range a {
			s = math.Max(s, math.Abs(float64(b[i])-float64(a[i])))
		}
		return s
	case L2:
		for i := range a {
			d := float64(b[i]) - float64(a[i])
			s += d * d
		}
		return math.Sqrt(s)
	case L1:
		for i := range a {
			s += math.Abs(float64(b[i]) - float64(a[i]))
		}
		return s
	}
	panic(fastgo.Errorf("attacks.Norm.Distance: unknown norm %d", int(n)))
}

// ThreatModel is what an adversary may do to an input: move it anywhere
// within distance Eps (in Norm) of where it was, without leaving the pixel box
// [Lo, Hi]. Attacks, adversarial trainers and evaluators all take one.
//
// The zero values of Lo and Hi (both 0) mean the box [0, 1], the pixel range
// of fastgo's images, so ThreatModel{Norm: Linf, Eps: 0.1} is the usual L-inf
// ball of radius 0.1 in [0,1] pixels. Eps may be +Inf (no norm limit: only
// the box binds), which minimum-norm attacks use.
type ThreatModel struct {
	// Norm is the norm the perturbation is measured in (Linf, L2 or L1).
	Norm Norm
	// Eps is the radius of the ball, in that norm, in pixel units; 0
	// leaves the input unchanged and +Inf lets only the box bind.
	Eps float64
	// Lo and Hi bound every pixel of the adversarial input; both zero
	// means [0, 1].
	Lo, Hi float64
}

// Bounds returns the pixel box [lo, hi]: [0, 1] when Lo and Hi are both zero.
func (tm ThreatModel) Bounds() (lo, hi float64) {
	if tm.Lo == 0 && tm.Hi == 0 {
		return 0, 1
	}
	return tm.Lo, tm.Hi
}

// WithEps returns tm with Eps replaced by eps.
func (tm ThreatModel) WithEps(eps float64) ThreatModel {
	tm.Eps = eps
	return tm
}

// String returns a short description such as "Linf eps=0.1 [0,1]".
func (tm ThreatModel) String() string {
	lo, hi := tm.Bounds()
	return fmt.Sprintf("%v eps=%g [%g,%g]", tm.Norm, tm.Eps, lo, hi)
}

// Validate returns an error naming the field that is not usable: an unknown
// norm, a negative or NaN Eps, or a box with Lo >= Hi or infinite bounds.
func (tm ThreatModel) Validate() error {
	if !tm.Norm.valid() {
		return fmt.Errorf("attacks: threat model has unknown norm %d", int(tm.Norm))
	}
	if math.IsNaN(tm.Eps) || tm.Eps < 0 {
		return fmt.Errorf("attacks: threat model Eps %v must be >= 0", tm.Eps)
	}
	lo, hi := tm.Bounds()
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo >= hi {
		return fmt.Errorf("attacks: threat model box [Lo=%v, Hi=%v] is not a finite interval with Lo < Hi", lo, hi)
	}
	return nil
}

// CheckInput returns an error unless x is a non-empty batch [N, ...] (rank
// at least 2) whose every value is finite and inside the box. It names the
// first offending sample and value.
func (tm ThreatModel) CheckInput(x *tensor.Tensor) error {
	if x == nil {
		return fmt.Errorf("attacks: input is nil")
	}
	if x.Rank() < 2 || x.Dim(0) == 0 || x.Len() == 0 {
		return fmt.Errorf("attacks: input of shape %v is not a non-empty batch [N, ...]", x.Shape())
	}
	lo, hi := tm.Bounds()
	d := x.Len() / x.Dim(0)
	for i, v := range x.Data() {
		f := float64(v)
		if math.IsNaN(f) || f < lo || f > hi {
			return fmt.Errorf("attacks: input of shape %v: sample %d holds %v at offset %d, outside the box [%g, %g]", x.Shape(), i/d, v, i%d, lo, hi)
		}
	}
	return nil
}

// Norms returns, for each sample of the batches x0 and x (the same shape
// [N, ...]), the distance from x0 to x in tm.Norm, computed in float64.
func (tm ThreatModel) Norms(x0, x *tensor.Tensor) []float64 {
	checkPair("Norms", x0, x)
	n := x0.Dim(0)
	d := x0.Len() / n
	out := make([]float64, n)
	for i := range out {
		out[i] = tm.Norm.Distance(x0.Data()[i*d:(i+1)*d], x.Data()[i*d:(i+1)*d])
	}
	return out
}

// Project replaces each sample of x (in place) by its nearest point, in
// Euclidean distance, of the set {z : ||z - x0|| <= Eps, Lo <= z <= Hi}, the
// eps-ball around the matching sample of x0 intersected with the box. x0
// must lie in the box. The projection is exact for every norm: a clamp for
// Linf, a sorted sweep over the breakpoints of the box-constrained problem
// for L2, and for L1 the simplex projection of Duchi et al. (2008) extended
// to the box (soft-thresholding with a threshold found by a sorted sweep).
// Rounding to float32 never takes a sample outside the ball: the result is
// nudged toward x0 by one ulp where float32 rounding would exceed Eps.
func (tm ThreatModel) Project(x0, x *tensor.Tensor) {
	tm.project("Project", x0, x, true)
}

// ProjectThenClip projects each sample of x (in place) onto the eps-ball
// around x0 alone (a clamp for Linf, a rescaling for L2, Duchi et al.'s
// projection for L1) and then clips it into the box. This is the projection
// of the standard PGD step (Madry et al.; torchattacks; Foolbox). The result
// is always feasible (clipping toward the box only shrinks each coordinate's
// change, since x0 lies in the box), and for Linf it equals Project; for L2
// and L1 it may differ from the exact projection onto the intersection.
func (tm ThreatModel) ProjectThenClip(x0, x *tensor.Tensor) {
	tm.project("ProjectThenClip", x0, x, false)
}

// Clip clamps x into the box, in place.
func (tm ThreatModel) Clip(x *tensor.Tensor) {
	lo, hi := tm.Bounds()
	tensor.ClampInPlace(x, float32(lo), float32(hi))
}

func (tm ThreatModel) project(op string, x0, x *tensor.Tensor, exact bool) {
	checkPair(op, x0, x)
	lo, hi := tm.Bounds()
	n := x0.Dim(0)
	d := x0.Len() / n
	var sc scratch
	for i := 0; i < n; i++ {
		a, b := x0.Data()[i*d:(i+1)*d], x.Data()[i*d:(i+1)*d]
		projectSample(tm.Norm, tm.Eps, lo, hi, a, b, exact, &sc)
	}
}

func checkPair(op string, x0, x *tensor.Tensor) {
	if !tensor.SameShape(x0.Shape(), x.Shape()) || x0.Rank() < 1 || x0.Dim(0) == 0 {
		panic(fastgo.Errorf("attacks.ThreatModel.%s: shapes %v and %v", op, x0.Shape(), x.Shape()))
	}
}

// scratch holds buffers reused across the samples of one projection.
type scratch struct {
	d, beta, key []float64
	idx          []int
}

func (s *scratch) grow(n int) {
	if cap(s.d) < n {
		s.d = make([]float64, n)
		s.beta = make([]float64, n)
		s.key = make([]float64, 2*n)
		s.idx = make([]int, 2*n)
	}
	s.d, s.beta, s.key, s.idx = s.d[:n], s.beta[:n], s.key[:2*n], s.idx[:2*n]
}

// projectSample projects one sample x (in place) as Project (exact) or
// ProjectThenClip (!exact) describe.
func projectSample(norm Norm, eps, lo, hi float64, x0, x []float32, exact bool, sc *scratch) {
	if norm == Linf {
		for j := range x {
			a, b := linfBounds(float64(x0[j]), eps, lo, hi)
			if x[j] < a || math.IsNaN(float64(x[j])) {
				x[j] = a
			} else if x[j] > b {
				x[j] = b
			}
		}
		return
	}
	n := len(x)
	sc.grow(n)
	d, beta := sc.d, sc.beta
	for j := range x {
		c := float64(x0[j])
		v := float64(x[j])
		if math.IsNaN(v) {
			v = c
		}
		d[j] = v - c
		// beta is how far coordinate j may move in the direction of d[j]
		// before it leaves the box (infinite when only the ball binds).
		switch {
		case !exact:
			beta[j] = math.Inf(1)
		case d[j] >= 0:
			beta[j] = hi - c
		default:
			beta[j] = c - lo
		}
	}
	if math.IsInf(eps, 1) {
		// No ball: only the box.
	} else if norm == L2 {
		t := l2Scale(d, beta, eps, sc)
		for j := range d {
			d[j] = math.Copysign(math.Min(math.Abs(d[j])*t, beta[j]), d[j])
		}
	} else {
		lam := l1Threshold(d, beta, eps, sc)
		for j := range d {
			d[j] = math.Copysign(math.Min(math.Max(math.Abs(d[j])-lam, 0), beta[j]), d[j])
		}
	}
	for j := range x {
		v := float64(x0[j]) + d[j]
		x[j] = float32(math.Min(math.Max(v, lo), hi))
	}
	if !math.IsInf(eps, 1) {
		shrinkToBall(norm, eps, x0, x)
	}
}

// linfBounds returns the float32 interval [a, b] of values within eps of c
// and inside [lo, hi], rounded inward so that |v - c| <= eps holds exactly
// for every float32 v in it.
func linfBounds(c, eps, lo, hi float64) (float32, float32) {
	// The tests use the same float64 arithmetic as Norm.Distance.
	a := float32(math.Max(c-eps, lo))
	for c-float64(a) > eps || float64(a) < lo {
		a = math.Nextafter32(a, float32(math.Inf(1)))
	}
	b := float32(math.Min(c+eps, hi))
	for float64(b)-c > eps || float64(b) > hi {
		b = math.Nextafter32(b, float32(math.Inf(-1)))
	}
	if a > b { // eps below float32 resolution around c: stay at c
		a, b = float32(c), float32(c)
	}
	return a, b
}

// l2Scale returns the t in (0, 1] such that sum_j min(t |d_j|, beta_j)^2 =
// eps^2, or 1 when t = 1 already satisfies <= eps^2. The function is
// increasing and piecewise quadratic in t, with a breakpoint at each
// tau_j = beta_j / |d_j|; the sweep over the sorted breakpoints is exact.
func l2Scale(d, beta []float64, eps float64, sc *scratch) float64 {
	e2 := eps * eps
	var full float64
	for j := range d {
		v := math.Min(math.Abs(d[j]), beta[j])
		full += v * v
	}
	if full <= e2 {
		return 1
	}
	// Breakpoints tau_j where coordinate j saturates at beta_j.
	m := 0
	for j := range d {
		if d[j] == 0 {
			continue
		}
		sc.key[m] = beta[j] / math.Abs(d[j])
		sc.idx[m] = j
		m++
	}
	key, idx := sc.key[:m], sc.idx[:m]
	sortByKey(key, idx)
	var free float64 // sum of d_j^2 over coordinates still scaling with t
	for _, j := range idx {
		free += d[j] * d[j]
	}
	var fixed float64 // sum of beta_j^2 over saturated coordinates
	for k := 0; k < m; k++ {
		tk := key[k]
		if tk > 0 && tk*tk*free+fixed >= e2 {
			return math.Sqrt((e2 - fixed) / free)
		}
		j := idx[k]
		free -= d[j] * d[j]
		fixed += beta[j] * beta[j]
	}
	return 1 // unreachable when full > e2
}

// l1Threshold returns the lambda >= 0 such that sum_j min(max(|d_j| -
// lambda, 0), beta_j) = eps, or 0 when lambda = 0 already gives <= eps. The
// sum is decreasing and piecewise linear in lambda: coordinate j enters the
// linear region at |d_j| - beta_j and leaves it (reaching zero) at |d_j|.
// With beta infinite this is Duchi et al.'s projection onto the L1 ball.
func l1Threshold(d, beta []float64, eps float64, sc *scratch) float64 {
	var f float64
	for j := range d {
		f += math.Min(math.Abs(d[j]), beta[j])
	}
	if f <= eps {
		return 0
	}
	// Events: +1 slope at max(|d|-beta, 0) (entering), -1 at |d| (leaving).
	m := 0
	slope := 0.0
	for j := range d {
		a := math.Abs(d[j])
		if a == 0 {
			continue
		}
		enter := a - beta[j]
		if enter <= 0 {
			slope++
		} else {
			sc.key[m], sc.idx[m] = enter, 1
			m++
		}
		sc.key[m], sc.idx[m] = a, -1
		m++
	}
	key, sign := sc.key[:m], sc.idx[:m]
	sortByKey(key, sign)
	lam := 0.0
	for k := 0; k < m; k++ {
		next := key[k]
		if fn := f - slope*(next-lam); slope > 0 && fn <= eps {
			return lam + (f-eps)/slope
		} else {
			f = fn
		}
		lam = next
		slope += float64(sign[k])
	}
	return lam
}

// sortByKey sorts key ascending, permuting val alongside.
func sortByKey(key []float64, val []int) {
	type kv struct {
		k float64
		v int
	}
	tmp := make([]kv, len(key))
	for i := range key {
		tmp[i] = kv{key[i], val[i]}
	}
	slices.SortFunc(tmp, func(a, b kv) int {
		switch {
		case a.k < b.k:
			return -1
		case a.k > b.k:
			return 1
		}
		return a.v - b.v
	})
	for i := range tmp {
		key[i], val[i] = tmp[i].k, tmp[i].v
	}
}

// shrinkToBall moves coordinates of x one ulp toward x0 until the float64
// distance of the float32 values is at most eps. Rounding to float32 can
// push an exactly projected point over the ball by at most half an ulp per
// coordinate; one ulp toward x0 on every changed coordinate removes that.
func shrinkToBall(norm Norm, eps float64, x0, x []float32) {
	for iter := 0; iter < 4 && norm.Distance(x0, x) > eps; iter++ {
		for j := range x {
			if x[j] != x0[j] {
				x[j] = math.Nextafter32(x[j], x0[j])
			}
		}
	}
	if norm.Distance(x0, x) > eps {
		copy(x, x0) // only reachable for eps below float32 resolution
	}
}

// RandomStart returns a random point for each sample of x0: uniform in the
// eps-ball around it (uniform per coordinate in [-eps, eps] for Linf; uniform
// in the L2 ball by a Gaussian direction and radius eps*u^(1/d); uniform in
// the L1 ball by normalised exponential spacings with random signs), then
// clipped into the box, which keeps it in the ball. rngs holds one generator
// per sample (see SampleRNGs), so a sample's start does not depend on the
// rest of the batch. With Eps +Inf the start is uniform in the box.
func (tm ThreatModel) RandomStart(x0 *tensor.Tensor, rngs []*tensor.RNG) *tensor.Tensor {
	if x0.Rank() < 1 || len(rngs) != x0.Dim(0) {
		panic(fastgo.Errorf("attacks.ThreatModel.RandomStart: %d generators for input %v", len(rngs), x0.Shape()))
	}
	lo, hi := tm.Bounds()
	out := x0.Clone()
	n := x0.Dim(0)
	d := x0.Len() / n
	buf := make([]float64, d+1)
	for i := 0; i < n; i++ {
		g := rngs[i]
		a := x0.Data()[i*d : (i+1)*d]
		o := out.Data()[i*d : (i+1)*d]
		switch {
		case math.IsInf(tm.Eps, 1):
			for j := range o {
				o[j] = float32(lo + (hi-lo)*g.Float64())
			}
			continue
		case tm.Norm == Linf:
			for j := range o {
				o[j] = a[j] + float32(tm.Eps*(2*g.Float64()-1))
			}
		case tm.Norm == L2:
			var s float64
			for j := 0; j < d; j++ {
				buf[j] = g.NormFloat64()
				s += buf[j] * buf[j]
			}
			r := tm.Eps * math.Pow(g.Float64(), 1/float64(d)) / math.Max(math.Sqrt(s), 1e-300)
			for j := range o {
				o[j] = a[j] + float32(buf[j]*r)
			}
		case tm.Norm == L1:
			var s float64
			for j := 0; j <= d; j++ {
				buf[j] = -math.Log(1 - g.Float64()) // Exp(1)
				s += buf[j]
			}
			for j := range o {
				v := tm.Eps * buf[j] / s
				if g.Float64() < 0.5 {
					v = -v
				}
				o[j] = a[j] + float32(v)
			}
		}
		for j := range o {
			o[j] = float32(math.Min(math.Max(float64(o[j]), lo), hi))
		}
		shrinkToBall(tm.Norm, tm.Eps, a, o)
	}
	return out
}
