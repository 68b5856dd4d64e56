package autograd

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// BatchNorm normalises x per channel, as torch.nn.functional.batch_norm, for
// a 2-d input [N, C] or a 4-d input [N, C, H, W]:
//
//	y = (x - mean) / sqrt(var + eps) * weight + bias
//
// In training, mean and var are the batch statistics over every axis but C
// (var biased), and runningMean and runningVar, when not nil, are updated in
// place: running = (1-momentum)*running + momentum*stat, with the unbiased
// variance (PyTorch's semantics; momentum 0.1 is its default). In eval,
// runningMean and runningVar are used instead (the batch statistics if they
// are nil). weight and bias ([C]) may be nil (affine=false). Backward
// computes the gradients of x, weight and bias that are required, through
// the batch statistics in training.
func BatchNorm[T tensor.Float](x, weight, bias *Var[T], runningMean, runningVar *tensor.Dense[T], training bool, momentum, eps T) *Var[T] {
	nnRank("BatchNorm", "input", x, 2, 4)
	xs := x.Shape()
	n, c := xs[0], xs[1]
	inner := 1
	if len(xs) == 4 {
		inner = xs[2] * xs[3]
	}
	for _, p := range []struct {
		name string
		s    []int
	}{{"weight", nnShapeOf(weight)}, {"bias", nnShapeOf(bias)}, {"running mean", nnDenseShape(runningMean)}, {"running var", nnDenseShape(runningVar)}} {
		if p.s != nil && (len(p.s) != 1 || p.s[0] != c) {
			panic(fmt.Sprintf("autograd.BatchNorm: %s %v does not match input %v (want [%d])", p.name, p.s, xs, c))
		}
	}
	if (runningMean == nil) != (runningVar == nil) {
		panic("autograd.BatchNorm: running mean and running var must both be given or both be nil")
	}
	m := n * inner
	useBatch := training || runningMean == nil
	if useBatch && m <= 1 && training {
		panic(fmt.Sprintf("autograd.BatchNorm: expected more than 1 value per channel when training, got input %v", xs))
	}
	out := tensor.New[T](xs...)
	xd, od := x.data.Data(), out.Data()
	mean := make([]T, c)
	invstd := make([]T, c)
	var gamma, beta []T
	if weight != nil {
		gamma = weight.data.Data()
	}
	if bias != nil {
		beta = bias.data.Data()
	}
	chanStride := c * inner
	parallel.For(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var mu, v float64
			if useBatch {
				var s float64
				for i := 0; i < n; i++ {
					s += float64(bnSum(xd[i*chanStride+ch*inner : i*chanStride+(ch+1)*inner]))
				}
				mu = s / float64(m)
				var ss float64
				for i := 0; i < n; i++ {
					ss += float64(bnSumSqDev(xd[i*chanStride+ch*inner:i*chanStride+(ch+1)*inner], T(mu)))
				}
				// Correct for the rounding of mu to T: sum (x-mu')^2 =
				// sum (x-mu)^2 + m*(mu-mu')^2.
				dm := mu - float64(T(mu))
				ss -= float64(m) * dm * dm
				ss = max(ss, 0)
				v = ss / float64(m)
				if training && runningMean != nil {
					rm, rv := runningMean.Data(), runningVar.Data()
					mom := float64(momentum)
					rm[ch] = T((1-mom)*float64(rm[ch]) + mom*mu)
					rv[ch] = T((1-mom)*float64(rv[ch]) + mom*ss/float64(m-1))
				}
			} else {
				mu, v = float64(runningMean.Data()[ch]), float64(runningVar.Data()[ch])
			}
			is := 1 / math.Sqrt(v+float64(eps))
			mean[ch], invstd[ch] = T(mu), T(is)
			// y = x*scale + shift
			scale, shift := is, -mu*is
			if gamma != nil {
				scale *= float64(gamma[ch])
				shift *= float64(gamma[ch])
			}
			if beta != nil {
				shift += float64(beta[ch])
			}
			sc, sf := T(scale), T(shift)
			for i := 0; i < n; i++ {
				off := i*chanStride + ch*inner
				src := xd[off : off+inner]
				dst := od[off : off+inner]
				for j, xv := range src {
					dst[j] = xv*sc + sf
				}
			}
		}
	})
	return Record("BatchNorm", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		var gx, gw, gb *tensor.Dense[T]
		if x.RequiresGrad() {
			gx = tensor.New[T](xs...)
		}
		if nnNeeds(weight) {
			gw = tensor.New[T](c)
		}
		if nnNeeds(bias) {
			gb = tensor.New[T](c)
		}
		gyd := gy.Data()
		parallel.For(c, 1, func(lo, hi int) {
			for ch := lo; ch < hi; ch++ {
				mu, is := float64(mean[ch]), float64(invstd[ch])
				var sdy, sdyx float64 // sum dy, sum dy*xhat
				for i := 0; i < n; i++ {
					off := i*chanStride + ch*inner
					a, b := bnSumDot(gyd[off:off+inner], xd[off:off+inner], T(mu))
					sdy += float64(a)
					sdyx += float64(b)
				}
				// sum dy*(x - mu) from sum dy*(x - mu'), mu' = T(mu).
				sdyx = (sdyx - (mu-float64(T(mu)))*sdy) * is
				if gw != nil {
					gw.Data()[ch] = T(sdyx)
				}
				if gb != nil {
					gb.Data()[ch] = T(sdy)
				}
				if gx == nil {
					continue
				}
				k := is
				if gamma != nil {
					k *= float64(gamma[ch])
				}
				// dx = k*(dy - a - xhat*bcoef), with a, bcoef zero in eval.
				var a, bcoef float64
				if useBatch {
					a, bcoef = sdy/float64(m), sdyx/float64(m)
				}
				// dx = k*dy - k*a - k*bcoef*is*(x - mu) = c1*dy + c2*x + c3
				c1 := T(k)
				c2 := T(-k * bcoef * is)
				c3 := T(-k*a + k*bcoef*is*mu)
				gxd := gx.Data()
				for i := 0; i < n; i++ {
					off := i*chanStride + ch*inner
					g := gyd[off : off+inner]
					dst := gxd[off : off+inner]
					for j, xv := range xd[off : off+inner] {
						dst[j] = c1*g[j] + c2*xv + c3
					}
				}
			}
		})
		return nnGrads([]*Var[T]{x, weight, bias}, gx, gw, gb)
	}, nnInputs(x, weight, bias)...)
}

// nnShapeOf returns v's shape, or nil for a nil v.
func nnShapeOf[T tensor.Float](v *Var[T]) []int {
	if v == nil {
		return nil
	}
	return v.Shape()
}

// nnDenseShape returns t's shape, or nil for a nil t.
func nnDenseShape[T tensor.Float](t *tensor.Dense[T]) []int {
	if t == nil {
		return nil
	}
	return t.Shape()
}

// bnSum returns the sum of row with four accumulators (a fixed order).
func bnSum[T tensor.Float](row []T) T {
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(row); i += 4 {
		r := row[i : i+4 : i+4]
		s0 += r[0]
		s1 += r[1]
		s2 += r[2]
		s3 += r[3]
	}
	for ; i < len(row); i++ {
		s0 += row[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// bnSumSqDev returns the sum of (x - mu)^2 over row.
func bnSumSqDev[T tensor.Float](row []T, mu T) T {
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(row); i += 4 {
		r := row[i : i+4 : i+4]
		d0, d1, d2, d3 := r[0]-mu, r[1]-mu, r[2]-mu, r[3]-mu
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(row); i++ {
		d := row[i] - mu
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// bnSumDot returns the sums of g and of g*(x - mu) over a row.
func bnSumDot[T tensor.Float](g, x []T, mu T) (T, T) {
	x = x[:len(g)]
	var a0, a1, b0, b1 T
	i := 0
	for ; i+2 <= len(g); i += 2 {
		g0, g1 := g[i], g[i+1]
		a0 += g0
		a1 += g1
		b0 += g0 * (x[i] - mu)
		b1 += g1 * (x[i+1] - mu)
	}
	for ; i < len(g); i++ {
		a0 += g[i]
		b0 += g[i] * (x[i] - mu)
	}
	return a0 + a1, b0 + b1
}
