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

// DeepFool is the minimum-norm attack of Moosavi-Dezfooli, Fawzi and
// Frossard ("DeepFool: a simple and accurate method to fool deep neural
// networks", 2016), for L2 and Linf. At each step it linearises the model
// around the current point x and moves to the nearest linearised decision
// boundary: for each candidate class k, with f_k = z_k - z_y (negative
// while y wins) and w_k = grad_x f_k,
//
//	distance_k = |f_k| / ||w_k||_q      (q = 2 for L2, q = 1 for Linf)
//	r          = (distance_k* + 1e-4) * w_k* / ||w_k*||_2   (L2)
//	r          = (distance_k* + 1e-4) * sign(w_k*)          (Linf)
//
// for the class k* of the smallest distance, accumulates r into r_total and
// sets x = clip(x0 + (1 + Overshoot) * r_total). A sample stops at the
// first point that is adversarial; on a linear model that is after one step,
// at distance (1 + Overshoot) * (min_k |f_k|/||w_k||_q + 1e-4). The
// candidates are the Candidates classes the clean input scores highest, the
// label aside (Foolbox's choice, which bounds the cost: one input gradient
// per candidate per step).
//
// Under Targeted(t) the only boundary of interest is the one between t and
// the class currently ahead of it: at each step k* = t and y is replaced by
// the top class other than t at the current point (the same step, aimed at
// the target).
//
// Each sample returns the first adversarial point (or, if Steps run out,
// the point of largest margin). As a MinimumNormAttack DeepFool is run by
// RunEps once without a bound and its result is projected onto each
// eps-ball; a finite Eps given to Perturb projects every iterate.
type DeepFool struct {
	// Steps is the maximal number of steps (0: 50).
	Steps int
	// Candidates is the number of most likely classes considered, the
	// label included (0: 10; the number of classes or more: all).
	Candidates int
	// Overshoot is how far past the linearised boundary each point is
	// placed, relative to the accumulated step (0: 0.02).
	Overshoot float64
}

// Name returns "DeepFool".
func (DeepFool) Name() string { return "DeepFool" }

// MinimumNorm returns true: DeepFool searches for the smallest perturbation.
func (DeepFool) MinimumNorm() bool { return true }

// Perturb implements Attack, for Linf and L2 threat models.
func (a DeepFool) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	if tm.Norm != L2 && tm.Norm != Linf {
		return nil, fmt.Errorf("DeepFool supports L2 and Linf, not %v", tm.Norm)
	}
	targeted := false
	switch c.(type) {
	case Untargeted:
	case Targeted:
		targeted = true
	default:
		return nil, fmt.Errorf("DeepFool: unsupported criterion %T", c)
	}
	steps := batch.OrDefault(a.Steps, 50)
	over := a.Overshoot
	if over == 0 {
		over = 0.02
	}
	if over < 0 || math.IsNaN(over) || math.IsInf(over, 0) {
		return nil, fmt.Errorf("DeepFool: Overshoot %v must be finite and >= 0", over)
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	n := x.Dim(0)
	d := x.Len() / n
	out, err := m.Outputs(x)
	if err != nil {
		return nil, err
	}
	if err := checkClasses(c, out.Dim(1)); err != nil {
		return nil, err
	}
	var cand [][]int
	if !targeted {
		cand = candidates(out, c.Classes(), batch.OrDefault(a.Candidates, 10))
	}
	b := newBest(x)
	cur := x.Clone()
	total := make([]float64, n*d)
	rows := batch.All(n)
	// xs/crit are the active rows' points and criterion; out their outputs.
	xs, crit := cur, c
	for step := 0; ; step++ {
		adv := crit.IsAdversarial(out)
		b.offer(xs, adv, Margins(out, crit), rows)
		var keep []int
		for k, i := range rows {
			if !adv[k] {
				keep = append(keep, i)
			}
		}
		if step == steps || len(keep) == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(keep) < len(rows) {
			xs = batch.Select(cur, keep)
			out = batch.Select(out, keepIndex(rows, keep))
		}
		rows = keep
		src, to := deepFoolPairs(rows, c.Classes(), cand, out, targeted)
		dist, dir, err := nearestBoundary(m, xs, src, to, tm.Norm)
		if err != nil {
			return nil, err
		}
		for k, i := range rows {
			t := total[i*d : (i+1)*d]
			addDeepFoolStep(t, dir[k], dist[k]+1e-4, tm.Norm)
			x0 := x.Data()[i*d : (i+1)*d]
			ci := cur.Data()[i*d : (i+1)*d]
			for j := range ci {
				ci[j] = float32(float64(x0[j]) + (1+over)*t[j])
			}
		}
		xs = batch.Select(cur, rows)
		tm.ProjectThenClip(batch.Select(x, rows), xs)
		crit = c.Select(rows)
		if out, err = m.Outputs(xs); err != nil {
			return nil, err
		}
		// Keep cur in step with the projected points.
		for k, i := range rows {
			copy(cur.Data()[i*d:(i+1)*d], xs.Data()[k*d:(k+1)*d])
		}
	}
	return b.x, nil
}

// candidates returns, for each sample, the k-1 classes other than its label
// with the largest clean scores out [N, C], by decreasing score (at least
// one).
func candidates(out *tensor.Tensor, labels []int, k int) [][]int {
	nc := out.Dim(1)
	cand := make([][]int, len(labels))
	for i, y := range labels {
		row := out.Data()[i*nc : (i+1)*nc]
		order := make([]int, 0, nc-1)
		for j := 0; j < nc; j++ {
			if j != y {
				order = append(order, j)
			}
		}
		slices.SortStableFunc(order, func(p, q int) int {
			switch {
			case row[p] > row[q]:
				return -1
			case row[p] < row[q]:
				return 1
			}
			return 0
		})
		cand[i] = order[:min(max(k-1, 1), len(order))]
	}
	return cand
}

// deepFoolPairs returns, for the samples rows with outputs out, the class
// src[k] each step moves away from and, per candidate slot s, the class
// to[s][k] it moves toward: targeted, from the top other class to the
// target; untargeted, from the label to each candidate.
func deepFoolPairs(rows, classes []int, cand [][]int, out *tensor.Tensor, targeted bool) (src []int, to [][]int) {
	na, nc := len(rows), out.Dim(1)
	src = make([]int, na)
	if targeted {
		tgt := make([]int, na)
		for k, i := range rows {
			tgt[k] = classes[i]
			src[k] = topOther(out.Data()[k*nc:(k+1)*nc], classes[i])
		}
		return src, [][]int{tgt}
	}
	slots := 0
	for k, i := range rows {
		src[k] = classes[i]
		slots = max(slots, len(cand[i]))
	}
	to = make([][]int, slots)
	for s := range to {
		to[s] = make([]int, na)
		for k, i := range rows {
			// A sample with fewer candidates repeats its last one.
			to[s][k] = cand[i][min(s, len(cand[i])-1)]
		}
	}
	return src, to
}

// nearestBoundary returns, for each row of xs, the distance to the nearest
// linearised boundary between src and a class of to (|f| / ||w||_q, q the
// dual norm of norm) and that boundary's gradient w.
func nearestBoundary(m *Model, xs *tensor.Tensor, src []int, to [][]int, norm Norm) ([]float64, [][]float32, error) {
	na := len(src)
	d := xs.Len() / na
	bestDist := make([]float64, na)
	bestGrad := make([][]float32, na)
	for k := range bestDist {
		bestDist[k] = math.Inf(1)
	}
	for s := range to {
		var fv []float64
		g, _, err := m.InputGradient(xs, func(o *autograd.Value) *autograd.Value {
			f := classDiff(o, to[s], src)
			fv = accumulateValues(fv, f.Data().Data(), m.Samples())
			return f
		})
		if err != nil {
			return nil, nil, err
		}
		gd := g.Data()
		for k := range na {
			w := gd[k*d : (k+1)*d]
			var dn float64
			if norm == L2 {
				dn = l2Norm(w)
			} else {
				for _, v := range w {
					dn += math.Abs(float64(v))
				}
			}
			dist := math.Abs(fv[k]) / (dn + 1e-8)
			if dist < bestDist[k] {
				bestDist[k], bestGrad[k] = dist, w
			}
		}
	}
	return bestDist, bestGrad, nil
}

// addDeepFoolStep adds to the accumulated perturbation t the step of length
// r toward the boundary of gradient w: along w (L2) or its sign (Linf).
func addDeepFoolStep(t []float64, w []float32, r float64, norm Norm) {
	if norm == L2 {
		s := r / (l2Norm(w) + 1e-8)
		for j, v := range w {
			t[j] += s * float64(v)
		}
		return
	}
	for j, v := range w {
		switch {
		case v > 0:
			t[j] += r
		case v < 0:
			t[j] -= r
		}
	}
}

// keepIndex returns the positions in rows of the elements of keep (both in
// increasing order, keep a subset of rows).
func keepIndex(rows, keep []int) []int {
	out := make([]int, 0, len(keep))
	k := 0
	for p, i := range rows {
		if k < len(keep) && keep[k] == i {
			out = append(out, p)
			k++
		}
	}
	return out
}

// topOther returns the first largest class of row other than t (NaNs
// skipped).
func topOther(row []float32, t int) int {
	best := -1
	for j, v := range row {
		if j == t || math.IsNaN(float64(v)) {
			continue
		}
		if best < 0 || v > row[best] {
			best = j
		}
	}
	if best < 0 {
		best = (t + 1) % len(row)
	}
	return best
}

// classDiff returns z[k, to[k]] - z[k, from[k]] per row of out.
func classDiff(out *autograd.Value, to, from []int) *autograd.Value {
	n, c := out.Shape()[0], out.Shape()[1]
	mask := tensor.New[float32](n, c)
	for k := range to {
		mask.Data()[k*c+to[k]] += 1
		mask.Data()[k*c+from[k]] -= 1
	}
	return autograd.Sum(autograd.Mul(out, autograd.Const(mask)), 1)
}

func l2Norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}
