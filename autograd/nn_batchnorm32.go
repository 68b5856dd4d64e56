package autograd

import (
	"math"
	"sync"

	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// bnFastInner is the smallest plane (H*W) for which BatchNorm's float32
// path runs through the SIMD row kernels; smaller planes (BatchNorm1d's
// plane is 1) take the generic loop.
const bnFastInner = 16

// bnChunks is the number of sample ranges the float32 path's channel sums
// are split into. It depends on the batch only, never on GOMAXPROCS, and the
// ranges' sums are added in a fixed order, so the statistics are the same
// bits for any number of threads.
func bnChunks(n int) int { return min(n, 32) }

// bnFloat32 is BatchNorm's float32 path, through the SIMD row kernels: the
// input, its geometry and the per-channel statistics kept for backward.
//
// Every pass walks the tensor in memory order (sample by sample, each
// sample's channels in turn), so that each thread streams one contiguous
// range: a channel-major walk reads one plane per sample, a short run at a
// large stride that the hardware prefetchers follow poorly (1.8x slower on
// 28x28 planes on an AMD Zen 4). In W2's profiles on a Zen 4 the four
// batch-norm kernels took 5.9-7.0 s of CPU against 7.4-7.9 s channel by
// channel (3 runs each, of about 42 s in all).
type bnFloat32 struct {
	bnGeometry
	x            []float32
	gamma        []float32
	mean, invstd []float32
	// scale and shift are the forward's y = x*scale + shift per channel;
	// BatchNormReLU's backward recomputes its mask, y > 0, from them and x.
	scale, shift []float32
	relu         bool // BatchNormReLU: y = max(bn(x), 0)
	// gyPlane, if not nil, gives backward the output gradient plane by
	// plane in place of its gy argument: gyPlane(r0, buf) returns the
	// gradient of the plane that starts at r0, written into buf, a scratch
	// plane of the calling goroutine that starts out zero. A gradient made
	// on the fly from a smaller one (the pooled gradient of
	// BatchNormReLUMaxPool2x2) then never goes through memory at full size.
	gyPlane func(r0 int, buf []float32) []float32
	// stats, if not nil, are x's statistics, gathered by the op that wrote
	// x: setAffine takes them instead of reading x for them. Only the
	// forward reads them.
	stats *planeStats
}

// planeBuf returns a scratch plane for gyPlane, zeroed, and the tensor that
// holds it (to release); nil and nil without gyPlane.
func (b *bnFloat32) planeBuf() (*tensor.Tensor, []float32) {
	if b.gyPlane == nil {
		return nil, nil
	}
	t := tensor.Empty[float32](b.inner)
	d := t.Data()
	clear(d)
	return t, d
}

// gyRow returns the output gradient of the plane r0..r1: gy's, or
// gyPlane's in buf.
func (b *bnFloat32) gyRow(gy, buf []float32, r0, r1 int) []float32 {
	if b.gyPlane != nil {
		return b.gyPlane(r0, buf)
	}
	return gy[r0:r1]
}

// chunkSums returns, for each of bnChunks(n) fixed ranges of samples, the
// sums over the range of the two values row(i, ch) returns for each channel
// ch, in float64: sums[(k*c+ch)*2+j]. The ranges run in parallel; row gets
// its goroutine's planeBuf. The caller hands the buffer back with
// bnPutSums.
func (b *bnFloat32) chunkSums(row func(i, ch int, buf []float32) (float32, float32)) []float64 {
	nc := bnChunks(b.n)
	sums := bnGetSums(nc * b.c * 2)
	parallel.For(nc, 1, func(lo, hi int) {
		t, buf := b.planeBuf()
		for k := lo; k < hi; k++ {
			acc := sums[k*b.c*2 : (k+1)*b.c*2]
			for i := k * b.n / nc; i < (k+1)*b.n/nc; i++ {
				for ch := 0; ch < b.c; ch++ {
					a1, a2 := row(i, ch, buf)
					acc[2*ch] += float64(a1)
					acc[2*ch+1] += float64(a2)
				}
			}
		}
		if t != nil {
			t.Release()
		}
	})
	return sums
}

// bnSumsPool holds chunkSums' buffers between calls: a fresh one per call
// (up to 256 KiB for 512 channels) was garbage that a training step of
// pooled tensors otherwise never makes, and it held W5's peak RSS 113 MiB
// higher, in the heap growth before the collector ran.
var bnSumsPool sync.Pool

// bnGetSums returns n zeros from bnSumsPool.
func bnGetSums(n int) []float64 {
	p, _ := bnSumsPool.Get().(*[]float64)
	if p == nil || cap(*p) < n {
		return make([]float64, n)
	}
	s := (*p)[:n]
	clear(s)
	return s
}

// bnPutSums hands s back to bnSumsPool.
func bnPutSums(s []float64) { bnSumsPool.Put(&s) }

// channelSums adds up chunkSums' ranges for channel ch, in range order.
func (b *bnFloat32) channelSums(sums []float64, ch int) (s1, s2 float64) {
	for k := 0; k < bnChunks(b.n); k++ {
		s1 += sums[(k*b.c+ch)*2]
		s2 += sums[(k*b.c+ch)*2+1]
	}
	return s1, s2
}

// eachRow calls fn for every (sample, channel) plane in memory order, the
// planes split over the threads in contiguous ranges. (Measured on a Zen 4,
// W2's batch-norms: walking these ranges backwards, or channel by channel,
// made the pass 1.3-1.6x slower after a chunkSums pass in memory order.)
// fn gets its goroutine's planeBuf.
func (b *bnFloat32) eachRow(fn func(i, ch, r0, r1 int, buf []float32)) {
	parallel.For(b.n*b.c, 8, func(lo, hi int) {
		t, buf := b.planeBuf()
		for r := lo; r < hi; r++ {
			i, ch := r/b.c, r%b.c
			r0, r1 := b.row(i, ch)
			fn(i, ch, r0, r1, buf)
		}
		if t != nil {
			t.Release()
		}
	})
}

// forward computes y: setAffine, then y = x*scale + shift by the Affine
// (AffineRelu) kernel.
func (b *bnFloat32) forward(y []float32, training bool, runningMean, runningVar *tensor.Dense[float32], beta []float32, momentum, eps float64) {
	b.setAffine(training, runningMean, runningVar, beta, momentum, eps)
	b.eachRow(func(_, ch, r0, r1 int, _ []float32) {
		if b.relu {
			kernels.AffineRelu(y[r0:r1], b.x[r0:r1], b.scale[ch], b.shift[ch])
		} else {
			kernels.Affine(y[r0:r1], b.x[r0:r1], b.scale[ch], b.shift[ch])
		}
	})
}

// setAffine computes each channel's scale and shift (y = x*scale + shift)
// and stores its mean and 1/std for backward: from the batch statistics
// (when useBatch), one pass of the BNStats kernel per plane, shifted by the
// mean of the channel's first plane (its pivot) so that the variance suffers
// no cancellation, accumulated in float64; else from the running ones.
func (b *bnFloat32) setAffine(training bool, runningMean, runningVar *tensor.Dense[float32], beta []float32, momentum, eps float64) {
	c := b.c
	buf := make([]float32, 3*c)
	b.scale, b.shift = buf[:c], buf[c:2*c]
	scale, shift, pivot := b.scale, b.shift, buf[2*c:]
	var sums []float64
	if b.useBatch {
		if st := b.stats; st != nil {
			copy(pivot, st.pivot)
			sums = b.chunkSums(func(i, ch int, _ []float32) (float32, float32) {
				pl := i*c + ch
				return st.sums[2*pl], st.sums[2*pl+1]
			})
		} else {
			for ch := 0; ch < c; ch++ {
				r0, r1 := b.row(0, ch)
				s0, _ := kernels.BNStats(b.x[r0:r1], 0)
				pivot[ch] = s0 / float32(b.inner)
			}
			sums = b.chunkSums(func(i, ch int, _ []float32) (float32, float32) {
				r0, r1 := b.row(i, ch)
				return kernels.BNStats(b.x[r0:r1], pivot[ch])
			})
		}
	}
	m := float64(b.count())
	for ch := 0; ch < c; ch++ {
		var mu, v float64
		if b.useBatch {
			s1, s2 := b.channelSums(sums, ch)
			d := s1 / m
			mu = float64(pivot[ch]) + d
			ss := max(s2-s1*d, 0) // the sum of (x - mu)^2
			v = ss / m
			if training && runningMean != nil {
				bnUpdateRunning(runningMean, runningVar, ch, momentum, mu, ss, m)
			}
		} else {
			mu, v = float64(runningMean.Data()[ch]), float64(runningVar.Data()[ch])
		}
		is := 1 / math.Sqrt(v+eps)
		b.mean[ch], b.invstd[ch] = float32(mu), float32(is)
		a, sf := bnAffine(mu, is, b.gamma, beta, ch)
		scale[ch], shift[ch] = float32(a), float32(sf)
	}
	if sums != nil {
		bnPutSums(sums)
	}
}

// backward computes the gradients that are not nil: the sums of dy and
// dy*(x - mu) from the SumDot kernel per plane (in float64 over planes),
// then dx = c1*dy + c2*x + c3 by the BNBackward kernel; in eval, where the
// statistics are constants, dx = k*dy.
//
// With relu, dy is masked on the fly to where the output y is positive,
// recomputed from x, scale and shift with the forward's rounding (the
// SumDotMask and BNBackwardMask kernels), so that the batch statistics' two
// passes read dy and x and not y as well; only the eval path, dx = k*dy
// masked, reads y.
func (b *bnFloat32) backward(gy, y, gx, gw, gb []float32) {
	c := b.c
	cs := make([]float32, 3*c)
	c1, c2, c3 := cs[:c], cs[c:2*c], cs[2*c:]
	sums := b.needSums(gy, gx, gw, gb)
	if sums != nil {
		defer bnPutSums(sums)
	}
	for ch := 0; ch < c; ch++ {
		mu, is := float64(b.mean[ch]), float64(b.invstd[ch])
		k := is
		if b.gamma != nil {
			k *= float64(b.gamma[ch])
		}
		c1[ch] = float32(k)
		if sums == nil {
			continue
		}
		sdy, sdyx := b.channelSums(sums, ch)
		sdyx *= is
		if gw != nil {
			gw[ch] = float32(sdyx)
		}
		if gb != nil {
			gb[ch] = float32(sdy)
		}
		if b.useBatch {
			m := float64(b.count())
			av, bcoef := sdy/m, sdyx/m
			c2[ch], c3[ch] = float32(-k*bcoef*is), float32(-k*av+k*bcoef*is*mu)
		}
	}
	if gx == nil {
		return
	}
	b.eachRow(func(_, ch, r0, r1 int, buf []float32) {
		gy := b.gyRow(gy, buf, r0, r1)
		switch {
		case b.useBatch && b.relu:
			kernels.BNBackwardMask(gx[r0:r1], gy, b.x[r0:r1], b.scale[ch], b.shift[ch], c1[ch], c2[ch], c3[ch])
		case b.useBatch:
			kernels.BNBackward(gx[r0:r1], gy, b.x[r0:r1], c1[ch], c2[ch], c3[ch])
		case b.relu:
			kernels.ReluBackward(gx[r0:r1], gy, y[r0:r1])
			kernels.Affine(gx[r0:r1], gx[r0:r1], c1[ch], 0) // as BatchNorm's k*dy + 0
		default:
			kernels.Affine(gx[r0:r1], gy, c1[ch], 0)
		}
	})
}

// needSums returns chunkSums of dy and dy*(x - mu) (dy masked where y > 0,
// by x, scale and shift, with relu) when a gradient needs them: the
// weight's, the bias's, or the input's through the batch statistics; nil
// otherwise.
func (b *bnFloat32) needSums(gy, gx, gw, gb []float32) []float64 {
	if gw == nil && gb == nil && (gx == nil || !b.useBatch) {
		return nil
	}
	return b.chunkSums(func(i, ch int, buf []float32) (float32, float32) {
		r0, r1 := b.row(i, ch)
		gy := b.gyRow(gy, buf, r0, r1)
		if b.relu {
			return kernels.SumDotMask(gy, b.x[r0:r1], b.mean[ch], b.scale[ch], b.shift[ch])
		}
		return kernels.SumDot(gy, b.x[r0:r1], b.mean[ch])
	})
}
