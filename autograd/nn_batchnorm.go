package autograd

import (
	"math"

	"github.com/fastgo-ml/fastgo"
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
// the batch statistics in training. opts says which mode and holds momentum
// and eps (no defaults: layers.BatchNorm supplies PyTorch's).
func BatchNorm[T tensor.Float](x, weight, bias *Var[T], runningMean, runningVar *tensor.Dense[T], opts BatchNormOptions) *Var[T] {
	return batchNorm(x, weight, bias, runningMean, runningVar, opts.Training, T(opts.Momentum), T(opts.Eps), false)
}

// BatchNormOptions are the settings of BatchNorm and BatchNormReLU:
// torch.nn.functional.batch_norm's training, momentum and eps.
type BatchNormOptions struct {
	// Training normalises with the batch statistics and updates the
	// running ones; otherwise the running statistics are used.
	Training bool
	// Momentum weighs the batch statistics in the running ones; Eps is
	// added to the variance.
	Momentum, Eps float64
}

// BatchNormReLU is ReLU(BatchNorm(...)) in one op, with the same arguments
// and results bit for bit, but one pass less over memory each way and no
// tensor in between: the ReLU is applied as the normalised values are
// written, and its mask is folded into the batch-norm backward. Models use
// it wherever a batch-norm feeds a ReLU.
func BatchNormReLU[T tensor.Float](x, weight, bias *Var[T], runningMean, runningVar *tensor.Dense[T], opts BatchNormOptions) *Var[T] {
	return batchNorm(x, weight, bias, runningMean, runningVar, opts.Training, T(opts.Momentum), T(opts.Eps), true)
}

// batchNorm is BatchNorm, or BatchNormReLU when relu is set: it checks the
// arguments, computes the output on the float32 path (bnFloat32, the SIMD
// row kernels) or the generic one (bnGeneric: float64, and float32 planes
// too small for the kernels), and records the matching backward.
func batchNorm[T tensor.Float](x, weight, bias *Var[T], runningMean, runningVar *tensor.Dense[T], training bool, momentum, eps T, relu bool) *Var[T] {
	op := "BatchNorm"
	if relu {
		op = "BatchNormReLU"
	}
	geo := bnCheck(op, x, weight, bias, runningMean, runningVar, training)
	c := geo.c
	out := tensor.Empty[T](x.Shape()...)
	od := out.Data()
	var gamma, beta []T
	if weight != nil {
		gamma = weight.data.Data()
	}
	if bias != nil {
		beta = bias.data.Data()
	}
	// backward fills the gradients that are not nil from gy.
	var backward func(gy, gx, gw, gb []T)
	if x32, ok := any(x.data.Data()).([]float32); ok && geo.inner >= bnFastInner {
		f32 := &bnFloat32{x: x32, bnGeometry: geo, gamma: any(gamma).([]float32),
			mean: make([]float32, c), invstd: make([]float32, c), relu: relu}
		f32.forward(any(od).([]float32), training, any(runningMean).(*tensor.Dense[float32]), any(runningVar).(*tensor.Dense[float32]),
			any(beta).([]float32), float64(momentum), float64(eps))
		backward = func(gy, gx, gw, gb []T) {
			f32.backward(any(gy).([]float32), any(od).([]float32), any(gx).([]float32), any(gw).([]float32), any(gb).([]float32))
		}
	} else {
		gen := &bnGeneric[T]{x: x.data.Data(), bnGeometry: geo, gamma: gamma, mean: make([]T, c), invstd: make([]T, c), relu: relu}
		gen.forward(od, training, runningMean, runningVar, beta, momentum, eps)
		backward = func(gy, gx, gw, gb []T) { gen.backward(gy, od, gx, gw, gb) }
	}
	return Record(op, out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		var gx, gw, gb *tensor.Dense[T]
		if x.RequiresGrad() {
			gx = tensor.Empty[T](x.Shape()...)
		}
		if nnNeeds(weight) {
			gw = tensor.New[T](c)
		}
		if nnNeeds(bias) {
			gb = tensor.New[T](c)
		}
		backward(gy.Data(), bnData(gx), bnData(gw), bnData(gb))
		return nnGrads([]*Var[T]{x, weight, bias}, gx, gw, gb)
	}, nnInputs(x, weight, bias)...)
}

// bnAffine returns the scale and shift of channel ch's y = x*scale +
// shift: 1/std and -mean/std (is = 1/std), times gamma[ch] and plus
// beta[ch] where they are given, in float64.
func bnAffine[T tensor.Float](mu, is float64, gamma, beta []T, ch int) (scale, shift float64) {
	scale, shift = is, -mu*is
	if gamma != nil {
		scale *= float64(gamma[ch])
		shift *= float64(gamma[ch])
	}
	if beta != nil {
		shift += float64(beta[ch])
	}
	return scale, shift
}

// bnUpdateRunning moves channel ch's running statistics toward the batch's
// mean mu and unbiased variance (ss, the sum of squared deviations of m
// values, over m-1) by momentum, as PyTorch does.
func bnUpdateRunning[T tensor.Float](runningMean, runningVar *tensor.Dense[T], ch int, momentum, mu, ss, m float64) {
	rm, rv := runningMean.Data(), runningVar.Data()
	rm[ch] = T((1-momentum)*float64(rm[ch]) + momentum*mu)
	rv[ch] = T((1-momentum)*float64(rv[ch]) + momentum*ss/(m-1))
}

// bnData returns t's data, or nil for a nil t.
func bnData[T tensor.Float](t *tensor.Dense[T]) []T {
	if t == nil {
		return nil
	}
	return t.Data()
}

// bnGeometry is the layout of a batch-norm input: n samples of c channels
// of inner values each (H*W, or 1 for a 2-d input), and whether the batch
// statistics are used (training, or no running statistics).
type bnGeometry struct {
	n, c, inner, chanStride int
	useBatch                bool
}

// row returns the bounds of sample i's plane of channel ch.
func (g bnGeometry) row(i, ch int) (int, int) {
	o := i*g.chanStride + ch*g.inner
	return o, o + g.inner
}

// count is the number of values per channel.
func (g bnGeometry) count() int { return g.n * g.inner }

// bnCheck panics with a message naming op unless x is 2-d or 4-d, the
// parameters and running statistics (each may be nil) are [C], the running
// statistics are both given or both nil, and training has more than one
// value per channel; it returns x's geometry.
func bnCheck[T tensor.Float](op string, x, weight, bias *Var[T], runningMean, runningVar *tensor.Dense[T], training bool) bnGeometry {
	nnRank(op, "input", x, 2, 4)
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
			panic(fastgo.Errorf("autograd.%s: %s %v does not match input %v (want [%d])", op, p.name, p.s, xs, c))
		}
	}
	if (runningMean == nil) != (runningVar == nil) {
		panic(fastgo.Errorf("autograd.%s: running mean and running var must both be given or both be nil", op))
	}
	geo := bnGeometry{n: n, c: c, inner: inner, chanStride: c * inner, useBatch: training || runningMean == nil}
	if geo.useBatch && geo.count() <= 1 && training {
		panic(fastgo.Errorf("autograd.%s: expected more than 1 value per channel when training, got input %v", op, xs))
	}
	return geo
}

// bnGeneric is BatchNorm's generic path, in T's arithmetic with float64
// sums: float64 inputs, and float32 ones whose planes are too small for the
// SIMD rows (BatchNorm1d). It keeps the input and each channel's mean and
// 1/std for backward.
type bnGeneric[T tensor.Float] struct {
	bnGeometry
	x            []T
	gamma        []T
	mean, invstd []T
	relu         bool // BatchNormReLU: y = max(bn(x), 0)
}

// forward computes y over all channels in parallel: the batch statistics
// (when useBatch) in two passes, mean then squared deviations, updating the
// running statistics in training; then y = x*scale + shift, and the ReLU.
func (b *bnGeneric[T]) forward(y []T, training bool, runningMean, runningVar *tensor.Dense[T], beta []T, momentum, eps T) {
	parallel.For(b.c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var mu, v float64
			if b.useBatch {
				var ss float64
				mu, ss = b.stats(ch)
				m := float64(b.count())
				v = ss / m
				if training && runningMean != nil {
					bnUpdateRunning(runningMean, runningVar, ch, float64(momentum), mu, ss, m)
				}
			} else {
				mu, v = float64(runningMean.Data()[ch]), float64(runningVar.Data()[ch])
			}
			is := 1 / math.Sqrt(v+float64(eps))
			b.mean[ch], b.invstd[ch] = T(mu), T(is)
			scale, shift := bnAffine(mu, is, b.gamma, beta, ch)
			sc, sf := T(scale), T(shift)
			for i := 0; i < b.n; i++ {
				r0, r1 := b.row(i, ch)
				dst := y[r0:r1]
				for j, xv := range b.x[r0:r1] {
					dst[j] = xv*sc + sf
				}
				if b.relu {
					for j, v := range dst {
						if !(v > 0) {
							dst[j] = 0
						}
					}
				}
			}
		}
	})
}

// stats returns channel ch's batch mean and the sum of its squared
// deviations from it.
func (b *bnGeneric[T]) stats(ch int) (mu, ss float64) {
	m := float64(b.count())
	var s float64
	for i := 0; i < b.n; i++ {
		r0, r1 := b.row(i, ch)
		s += float64(bnSum(b.x[r0:r1]))
	}
	mu = s / m
	for i := 0; i < b.n; i++ {
		r0, r1 := b.row(i, ch)
		ss += float64(bnSumSqDev(b.x[r0:r1], T(mu)))
	}
	// Correct for the rounding of mu to T: sum (x-mu')^2 =
	// sum (x-mu)^2 + m*(mu-mu')^2.
	dm := mu - float64(T(mu))
	ss -= m * dm * dm
	return mu, max(ss, 0)
}

// backward computes the gradients that are not nil, over all channels in
// parallel, from the sums of dy and dy*(x - mu); with relu, dy is first
// masked to where the output y is positive.
func (b *bnGeneric[T]) backward(gy, y, gx, gw, gb []T) {
	if b.relu {
		masked := make([]T, len(gy))
		for i, v := range y {
			if v > 0 {
				masked[i] = gy[i]
			}
		}
		gy = masked
	}
	m := float64(b.count())
	parallel.For(b.c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mu, is := float64(b.mean[ch]), float64(b.invstd[ch])
			var sdy, sdyx float64 // sum dy, sum dy*xhat
			for i := 0; i < b.n; i++ {
				r0, r1 := b.row(i, ch)
				a, c := bnSumDot(gy[r0:r1], b.x[r0:r1], T(mu))
				sdy += float64(a)
				sdyx += float64(c)
			}
			// sum dy*(x - mu) from sum dy*(x - mu'), mu' = T(mu).
			sdyx = (sdyx - (mu-float64(T(mu)))*sdy) * is
			if gw != nil {
				gw[ch] = T(sdyx)
			}
			if gb != nil {
				gb[ch] = T(sdy)
			}
			if gx == nil {
				continue
			}
			k := is
			if b.gamma != nil {
				k *= float64(b.gamma[ch])
			}
			// dx = k*(dy - a - xhat*bcoef), with a, bcoef zero in eval.
			var a, bcoef float64
			if b.useBatch {
				a, bcoef = sdy/m, sdyx/m
			}
			// dx = k*dy - k*a - k*bcoef*is*(x - mu) = c1*dy + c2*x + c3
			c1 := T(k)
			c2 := T(-k * bcoef * is)
			c3 := T(-k*a + k*bcoef*is*mu)
			for i := 0; i < b.n; i++ {
				r0, r1 := b.row(i, ch)
				g, dst := gy[r0:r1], gx[r0:r1]
				for j, xv := range b.x[r0:r1] {
					dst[j] = c1*g[j] + c2*xv + c3
				}
			}
		}
	})
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
