package autograd

import (
	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// planeStats are BatchNorm's statistics of a float32 [N, C, H, W] tensor,
// gathered by the op that writes the tensor, plane by plane while each
// plane is in cache: for each channel its pivot (the mean of the channel's
// first plane), and for each plane the BNStats kernel's two sums about that
// pivot. They are what bnFloat32.setAffine computes in a pass of its own
// over the tensor, the same bits, so a batch-norm given them skips that
// pass.
type planeStats struct {
	buf   *tensor.Tensor // holds pivot and sums, from the tensor pool
	pivot []float32      // [C]
	sums  []float32      // [N*C*2]: plane n*C+c's two sums at 2*(n*C+c)
	inner int            // H*W
	ok    bool           // filled: set by start, whose callers record every plane
}

// start readies s for n*c planes of inner values.
func (s *planeStats) start(n, c, inner int) {
	s.buf = tensor.Empty[float32](c + 2*n*c)
	d := s.buf.Data()
	s.pivot, s.sums, s.inner, s.ok = d[:c], d[c:], inner, true
}

// plane records the statistics of plane pl (sample sn, channel sc), d. The
// planes of sample 0 must all be recorded before any other: they set the
// pivots, as setAffine does.
func (s *planeStats) plane(d []float32, pl, sn, sc int) {
	if sn == 0 {
		s0, _ := kernels.BNStats(d, 0)
		s.pivot[sc] = s0 / float32(s.inner)
	}
	s.sums[2*pl], s.sums[2*pl+1] = kernels.BNStats(d, s.pivot[sc])
}

// forSamples runs samples over n samples (c output planes of inner values
// each) in parallel, one sample per task. With st it readies st first and
// runs sample 0 before the others: its planes give the pivots the others
// need (see plane).
func forSamples(n, c, inner int, st *planeStats, samples func(lo, hi int)) {
	if st == nil {
		parallel.For(n, 1, samples)
		return
	}
	st.start(n, c, inner)
	samples(0, 1)
	parallel.For(n-1, 1, func(lo, hi int) { samples(1+lo, 1+hi) })
}

// release hands the buffer back to the tensor pool.
func (s *planeStats) release() {
	if s.buf != nil {
		s.buf.Release()
		*s = planeStats{}
	}
}

// Conv2dBatchNormReLUMaxPool2x2 is
//
//	BatchNormReLUMaxPool2x2(Conv2d(x, w, b, convOpts), bnWeight, bnBias, runningMean, runningVar, bnOpts)
//
// and returns the convolution's output (conv, which the caller may hand to
// Consumed) and the op's (out): the Conv → BatchNorm → ReLU → MaxPool block
// of small CNNs, with the same values bit for bit. When the convolution
// takes a float32 path that writes its output plane by plane (stride-1
// "same" convolutions, and small ones computed sample by sample) and the
// batch-norm normalises with the batch statistics, the convolution gathers
// the batch-norm's statistics of each output plane as it writes the plane,
// so the batch-norm does not read its input once more for them. The arguments
// are those of Conv2d and BatchNormReLUMaxPool2x2, which panic on them as
// they would alone; float64 runs the ops in turn.
func Conv2dBatchNormReLUMaxPool2x2[T tensor.Float](x, w, b *Var[T], convOpts Conv2dOptions, bnWeight, bnBias *Var[T], runningMean, runningVar *tensor.Dense[T], bnOpts BatchNormOptions) (conv, out *Var[T]) {
	var st planeStats
	defer st.release()
	var want *planeStats
	if bnOpts.Training || runningMean == nil {
		want = &st
	}
	conv = conv2d(x, w, b, &convOpts, false, want)
	if !st.ok {
		want = nil
	}
	return conv, bnReLUPool2x2(conv, bnWeight, bnBias, runningMean, runningVar, bnOpts, want)
}
