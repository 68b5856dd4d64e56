package autograd

import (
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/kernels"
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

func batchNorm[T tensor.Float](x, weight, bias *Var[T], runningMean, runningVar *tensor.Dense[T], training bool, momentum, eps T, relu bool) *Var[T] {
	op := "BatchNorm"
	if relu {
		op = "BatchNormReLU"
	}
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
		panic(fastgo.Errorf("autograd."+"%s"+": running mean and running var must both be given or both be nil", op))
	}
	m := n * inner
	useBatch := training || runningMean == nil
	if useBatch && m <= 1 && training {
		panic(fastgo.Errorf("autograd.%s: expected more than 1 value per channel when training, got input %v", op, xs))
	}
	out := tensor.Empty[T](xs...)
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
	var f32 *bnFloat32
	if x32, ok := any(xd).([]float32); ok && inner >= bnFastInner {
		f32 = &bnFloat32{x: x32, n: n, inner: inner, chanStride: chanStride, useBatch: useBatch, gamma: any(gamma).([]float32),
			mean: any(mean).([]float32), invstd: any(invstd).([]float32), relu: relu}
		f32.forward(any(od).([]float32), training, any(runningMean).(*tensor.Dense[float32]), any(runningVar).(*tensor.Dense[float32]),
			any(beta).([]float32), float64(momentum), float64(eps))
	}
	parallel.For(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			if f32 != nil {
				break
			}
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
				if relu {
					for j, v := range dst {
						if !(v > 0) {
							dst[j] = 0
						}
					}
				}
			}
		}
	})
	return Record(op, out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		var gx, gw, gb *tensor.Dense[T]
		if x.RequiresGrad() {
			gx = tensor.Empty[T](xs...)
		}
		if nnNeeds(weight) {
			gw = tensor.New[T](c)
		}
		if nnNeeds(bias) {
			gb = tensor.New[T](c)
		}
		gyd := gy.Data()
		if f32 != nil {
			var gx32, gw32, gb32 []float32
			if gx != nil {
				gx32 = any(gx.Data()).([]float32)
			}
			if gw != nil {
				gw32 = any(gw.Data()).([]float32)
			}
			if gb != nil {
				gb32 = any(gb.Data()).([]float32)
			}
			f32.backward(any(gyd).([]float32), any(od).([]float32), gx32, gw32, gb32)
			return nnGrads([]*Var[T]{x, weight, bias}, gx, gw, gb)
		}
		if relu {
			// The generic path masks the incoming gradient by the output.
			masked := tensor.New[T](xs...)
			md := masked.Data()
			for i, v := range od {
				if v > 0 {
					md[i] = gyd[i]
				}
			}
			gyd = md
		}
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

// bnFastInner is the smallest plane (H*W) for which BatchNorm's float32
// path runs through the SIMD row kernels; smaller planes (BatchNorm1d's
// plane is 1) take the generic loop.
const bnFastInner = 16

// bnFloat32 is BatchNorm's float32 path, through the SIMD row kernels: the
// input, its geometry and the per-channel statistics kept for backward.
type bnFloat32 struct {
	x                    []float32
	n, inner, chanStride int
	useBatch             bool
	gamma                []float32
	mean, invstd         []float32
	relu                 bool // BatchNormReLU: y = max(bn(x), 0)
}

// row returns the bounds of sample i's plane of channel ch.
func (b *bnFloat32) row(i, ch int) (int, int) {
	o := i*b.chanStride + ch*b.inner
	return o, o + b.inner
}

// forward computes y over all channels in parallel: batch statistics (when
// useBatch) from one pass of the BNStats kernel per row, shifted by the mean
// of the channel's first row so that the variance suffers no cancellation,
// accumulated over rows in float64; then y = x*scale + shift by the Affine
// kernel. It stores each channel's mean and 1/std for backward.
func (b *bnFloat32) forward(y []float32, training bool, runningMean, runningVar *tensor.Dense[float32], beta []float32, momentum, eps float64) {
	parallel.For(len(b.mean), 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var mu, v float64
			if b.useBatch {
				m := float64(b.n * b.inner)
				r0, r1 := b.row(0, ch)
				s0, _ := kernels.BNStats(b.x[r0:r1], 0)
				shift := s0 / float32(b.inner)
				var s1, s2 float64
				for i := 0; i < b.n; i++ {
					r0, r1 := b.row(i, ch)
					a1, a2 := kernels.BNStats(b.x[r0:r1], shift)
					s1 += float64(a1)
					s2 += float64(a2)
				}
				d := s1 / m
				mu = float64(shift) + d
				ss := max(s2-s1*d, 0) // the sum of (x - mu)^2
				v = ss / m
				if training && runningMean != nil {
					rm, rv := runningMean.Data(), runningVar.Data()
					rm[ch] = float32((1-momentum)*float64(rm[ch]) + momentum*mu)
					rv[ch] = float32((1-momentum)*float64(rv[ch]) + momentum*ss/(m-1))
				}
			} else {
				mu, v = float64(runningMean.Data()[ch]), float64(runningVar.Data()[ch])
			}
			is := 1 / math.Sqrt(v+eps)
			b.mean[ch], b.invstd[ch] = float32(mu), float32(is)
			scale, shift := is, -mu*is
			if b.gamma != nil {
				scale *= float64(b.gamma[ch])
				shift *= float64(b.gamma[ch])
			}
			if beta != nil {
				shift += float64(beta[ch])
			}
			for i := 0; i < b.n; i++ {
				r0, r1 := b.row(i, ch)
				if b.relu {
					kernels.AffineRelu(y[r0:r1], b.x[r0:r1], float32(scale), float32(shift))
				} else {
					kernels.Affine(y[r0:r1], b.x[r0:r1], float32(scale), float32(shift))
				}
			}
		}
	})
}

// backward computes the gradients that are not nil, over all channels in
// parallel: the sums of dy and dy*(x - mu) from the SumDot kernel per row
// (in float64 over rows), then dx = c1*dy + c2*x + c3 by the BNBackward
// kernel; in eval, where the statistics are constants, dx = k*dy.
//
// With relu, y is the op's output and dy is masked to where y > 0 on the
// fly (the SumDotMask and BNBackwardMask kernels).
func (b *bnFloat32) backward(gy, y, gx, gw, gb []float32) {
	parallel.For(len(b.mean), 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mu, is := float64(b.mean[ch]), float64(b.invstd[ch])
			k := is
			if b.gamma != nil {
				k *= float64(b.gamma[ch])
			}
			if gw != nil || gb != nil || (gx != nil && b.useBatch) {
				var sdy, sdyx float64
				for i := 0; i < b.n; i++ {
					r0, r1 := b.row(i, ch)
					var a1, a2 float32
					if b.relu {
						a1, a2 = kernels.SumDotMask(gy[r0:r1], b.x[r0:r1], y[r0:r1], b.mean[ch])
					} else {
						a1, a2 = kernels.SumDot(gy[r0:r1], b.x[r0:r1], b.mean[ch])
					}
					sdy += float64(a1)
					sdyx += float64(a2)
				}
				sdyx *= is
				if gw != nil {
					gw[ch] = float32(sdyx)
				}
				if gb != nil {
					gb[ch] = float32(sdy)
				}
				if gx != nil && b.useBatch {
					m := float64(b.n * b.inner)
					av, bcoef := sdy/m, sdyx/m
					c1, c2, c3 := float32(k), float32(-k*bcoef*is), float32(-k*av+k*bcoef*is*mu)
					for i := 0; i < b.n; i++ {
						r0, r1 := b.row(i, ch)
						if b.relu {
							kernels.BNBackwardMask(gx[r0:r1], gy[r0:r1], b.x[r0:r1], y[r0:r1], c1, c2, c3)
						} else {
							kernels.BNBackward(gx[r0:r1], gy[r0:r1], b.x[r0:r1], c1, c2, c3)
						}
					}
					continue
				}
			}
			if gx != nil {
				for i := 0; i < b.n; i++ {
					r0, r1 := b.row(i, ch)
					if b.relu {
						kernels.ReluBackward(gx[r0:r1], gy[r0:r1], y[r0:r1])
						kernels.Affine(gx[r0:r1], gx[r0:r1], float32(k), 0) // as BatchNorm's k*dy + 0
					} else {
						kernels.Affine(gx[r0:r1], gy[r0:r1], float32(k), 0)
					}
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
