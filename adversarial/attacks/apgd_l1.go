package attacks

import (
	"context"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo/tensor"
)

// runL1 is one L1-APGD run on the batch x0 (the rows rows of the attacked
// batch): one phase at eps, or with LargeEps three at 3, 2 and 1 times eps.
func (s apgdSpec) runL1(ctx context.Context, m *Model, x0 *tensor.Tensor, c Criterion, tm ThreatModel, obj objective, rngs []*tensor.RNG, b *best, rows []int) error {
	n := x0.Dim(0)
	d := x0.Len() / n
	gauss := func(eps float64) *tensor.Tensor {
		xa := x0.Clone()
		for i := 0; i < n; i++ {
			g := rngs[i]
			for j := i * d; j < (i+1)*d; j++ {
				xa.Data()[j] += float32(g.NormFloat64())
			}
		}
		tm.WithEps(eps).Project(x0, xa)
		return xa
	}
	if !s.largeEps {
		_, err := s.l1Phase(ctx, m, x0, c, tm, obj, b, rows, gauss(tm.Eps), s.steps, false, true)
		return err
	}
	iters := []int{int(math.Ceil(0.3 * float64(s.steps))), int(math.Ceil(0.3 * float64(s.steps)))}
	iters = append(iters, s.steps-iters[0]-iters[1])
	xa := gauss(3 * tm.Eps)
	for p, f := range []float64{3, 2, 1} {
		ph := tm.WithEps(f * tm.Eps)
		ph.Project(x0, xa)
		if iters[p] <= 0 {
			continue
		}
		var err error
		if xa, err = s.l1Phase(ctx, m, x0, c, ph, obj, b, rows, xa, iters[p], true, p == 2); err != nil {
			return err
		}
	}
	return nil
}

// l1Phase runs steps L1-APGD steps at tm.Eps from xa (given: AutoAttack's
// x_init, which sets the first sparsity from xa's own), offering the
// iterates to b when offer, and returns the point of highest loss.
func (s apgdSpec) l1Phase(ctx context.Context, m *Model, x0 *tensor.Tensor, c Criterion, tm ThreatModel, obj objective, b *best, rows []int, xa *tensor.Tensor, steps int, given, offer bool) (*tensor.Tensor, error) {
	n := x0.Dim(0)
	d := x0.Len() / n
	eval := apgdEval(m, c, obj, b, rows, offer)
	grad, loss, err := eval(xa)
	if err != nil {
		return nil, err
	}
	xBest, gradBest := xa.Clone(), grad.Clone()
	lossBest := slices.Clone(loss)
	eps := tm.Eps
	step := make([]float64, n)
	topk := make([]float64, n)
	spOld := make([]float64, n)
	for i := range step {
		step[i] = eps
		if given {
			spOld[i] = float64(l0Norm(x0.Data()[i*d:(i+1)*d], xa.Data()[i*d:(i+1)*d]))
			topk[i] = spOld[i] / float64(d) / 1.5
		} else {
			topk[i], spOld[i] = 0.2, float64(d)
		}
	}
	k := max(int(0.04*float64(steps)), 1)
	counter := 0
	abs := make([]float32, d)
	for it := 0; it < steps; it++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		xd, gd := xa.Data(), grad.Data()
		for i := 0; i < n; i++ {
			g := gd[i*d : (i+1)*d]
			for j, v := range g {
				abs[j] = float32(math.Abs(float64(v)))
			}
			slices.Sort(abs)
			q := min(max(int((1-topk[i])*float64(d)), 0), d-1)
			thr := abs[q]
			cnt := 0
			for _, v := range g {
				if float32(math.Abs(float64(v))) >= thr && v != 0 {
					cnt++
				}
			}
			sz := step[i] / (float64(cnt) + 1e-10)
			for j, v := range g {
				if v != 0 && float32(math.Abs(float64(v))) >= thr {
					xd[i*d+j] = float32(float64(xd[i*d+j]) + math.Copysign(sz, float64(v)))
				}
			}
		}
		tm.Project(x0, xa)
		if grad, loss, err = eval(xa); err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			if loss[i] > lossBest[i] {
				lossBest[i] = loss[i]
				copy(xBest.Data()[i*d:(i+1)*d], xa.Data()[i*d:(i+1)*d])
				copy(gradBest.Data()[i*d:(i+1)*d], grad.Data()[i*d:(i+1)*d])
			}
		}
		if counter++; counter < k {
			continue
		}
		counter = 0
		for i := 0; i < n; i++ {
			sp := float64(l0Norm(x0.Data()[i*d:(i+1)*d], xBest.Data()[i*d:(i+1)*d]))
			sparser := spOld[i] > 0 && sp/spOld[i] < 0.95
			topk[i] = sp / float64(d) / 1.5
			if sparser {
				step[i] = eps
				copy(xa.Data()[i*d:(i+1)*d], xBest.Data()[i*d:(i+1)*d])
				copy(grad.Data()[i*d:(i+1)*d], gradBest.Data()[i*d:(i+1)*d])
			} else {
				step[i] /= 1.5
			}
			step[i] = math.Min(math.Max(step[i], eps/10), eps)
			spOld[i] = sp
		}
	}
	return xBest, nil
}

// l0Norm returns the number of coordinates where a and b differ.
func l0Norm(a, b []float32) int {
	n := 0
	for j := range a {
		if a[j] != b[j] {
			n++
		}
	}
	return n
}
