package attacks

import "math"

// normOf returns the n-norm of v.
func normOf(n Norm, v []float64) float64 {
	var s float64
	for _, x := range v {
		switch n {
		case Linf:
			s = math.Max(s, math.Abs(x))
		case L2:
			s += x * x
		default:
			s += math.Abs(x)
		}
	}
	if n == L2 {
		return math.Sqrt(s)
	}
	return s
}

// dualNorm returns the norm dual to n of v: L1 for Linf, L2 for L2, Linf
// for L1. |w.z + c| / ||w||_dual is the n-distance to the hyperplane.
func dualNorm(n Norm, v []float64) float64 {
	switch n {
	case Linf:
		return normOf(L1, v)
	case L1:
		return normOf(Linf, v)
	}
	return normOf(L2, v)
}

// fabScratch holds the buffers of fabProject.
type fabScratch struct {
	key  []float64
	idx  []int
	capv []float64
}

// fabProject writes into d the smallest perturbation, in norm n, that takes
// the point t onto the hyperplane {z : w.z = b} without leaving the box
// [lo, hi]: the minimiser of ||d|| subject to w.(t + d) = b and lo <= t + d
// <= hi. When no point of the box lies on the hyperplane it writes the
// perturbation to the box's point nearest to it (every coordinate moved as
// far as the box allows in the direction that reduces |w.z - b|).
//
// With r = b - w.t and each coordinate moved by m_j >= 0 in the direction
// sign(r w_j), up to cap_j (the distance to the box's face on that side),
// the constraint is sum_j |w_j| m_j = |r|, and:
//
//   - Linf: m_j = min(lambda, cap_j), the smallest lambda that meets it;
//   - L2: m_j = min(mu |w_j|, cap_j) (the KKT conditions), the smallest mu;
//   - L1: the coordinates of largest |w_j| first, each filled to cap_j,
//     until the constraint is met (the cheapest in L1 per unit of w.d).
//
// In each case the constraint's left side is piecewise linear and
// increasing in the parameter, and a sorted sweep over its breakpoints
// solves it exactly.
func fabProject(n Norm, t []float32, w []float64, b, lo, hi float64, d []float64, sc *fabScratch) {
	var wt float64
	for j := range w {
		wt += w[j] * float64(t[j])
	}
	r := b - wt
	for j := range d {
		d[j] = 0
	}
	if r == 0 || math.IsNaN(r) {
		return
	}
	sr := math.Copysign(1, r)
	need := math.Abs(r)
	cp, total := sc.caps(t, w, sr, lo, hi)
	if total <= need {
		for j := range w {
			if w[j] != 0 {
				d[j] = fabDir(sr, w[j]) * cp[j]
			}
		}
		return
	}
	if n == L1 {
		fabFillL1(w, cp, sr, need, d, sc)
		return
	}
	fabSweep(n, w, cp, sr, need, d, sc)
}

// fabDir is the direction, +1 or -1, in which a coordinate of weight wj
// moves to change w.z by the sign sr of the residual.
func fabDir(sr, wj float64) float64 { return sr * math.Copysign(1, wj) }

// caps returns, for each coordinate of t with a nonzero weight, how far it
// can move toward the box's face in its direction fabDir(sr, w_j) (0 for a
// zero weight), and the total sum_j |w_j| cap_j that moving every
// coordinate to its face would change w.z by. It sizes the scratch buffers
// for len(t) coordinates; the returned slice is one of them.
func (sc *fabScratch) caps(t []float32, w []float64, sr, lo, hi float64) ([]float64, float64) {
	dim := len(t)
	if cap(sc.key) < dim {
		sc.key = make([]float64, dim)
		sc.idx = make([]int, dim)
		sc.capv = make([]float64, dim)
	}
	cp := sc.capv[:dim]
	var total float64
	for j := range w {
		if w[j] == 0 {
			cp[j] = 0
			continue
		}
		if sr*w[j] > 0 {
			cp[j] = hi - float64(t[j])
		} else {
			cp[j] = float64(t[j]) - lo
		}
		cp[j] = math.Max(cp[j], 0)
		total += math.Abs(w[j]) * cp[j]
	}
	return cp, total
}

// fabFillL1 is fabProject's L1 case: the coordinates of largest |w_j|
// first, each moved up to its cap cp[j], until w.d has changed by need.
func fabFillL1(w, cp []float64, sr, need float64, d []float64, sc *fabScratch) {
	key, idx := sc.key[:0], sc.idx[:0]
	for j := range w {
		if w[j] != 0 {
			key = append(key, -math.Abs(w[j]))
			idx = append(idx, j)
		}
	}
	sortByKey(key, idx)
	for _, j := range idx {
		aw := math.Abs(w[j])
		m := math.Min(cp[j], need/aw)
		d[j] = fabDir(sr, w[j]) * m
		need -= aw * m
		if need <= 0 {
			break
		}
	}
}

// fabSweep is fabProject's Linf and L2 case: m_j = min(tau k_j, cap_j),
// k_j = 1 (Linf) or |w_j| (L2), with the smallest tau at which F(tau) =
// sum_j |w_j| min(tau k_j, cap_j) reaches need, found by a sorted sweep
// over the breakpoints cap_j / k_j where coordinate j saturates.
func fabSweep(n Norm, w, cp []float64, sr, need float64, d []float64, sc *fabScratch) {
	key, idx := sc.key[:0], sc.idx[:0]
	kOf := func(j int) float64 {
		if n == Linf {
			return 1
		}
		return math.Abs(w[j])
	}
	var slope float64
	for j := range w {
		if w[j] == 0 {
			continue
		}
		key = append(key, cp[j]/kOf(j))
		idx = append(idx, j)
		slope += math.Abs(w[j]) * kOf(j)
	}
	sortByKey(key, idx)
	var f, tau float64 // F at tau
	tauOpt := math.Inf(1)
	for p, j := range idx {
		next := key[p]
		if fn := f + slope*(next-tau); fn >= need {
			tauOpt = tau + (need-f)/slope
			break
		} else {
			f = fn
		}
		tau = next
		slope -= math.Abs(w[j]) * kOf(j)
	}
	if math.IsInf(tauOpt, 1) { // rounding: total > need but the sweep ended
		tauOpt = tau
	}
	for j := range w {
		if w[j] != 0 {
			d[j] = fabDir(sr, w[j]) * math.Min(tauOpt*kOf(j), cp[j])
		}
	}
}
