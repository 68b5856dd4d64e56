package tensor

import (
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/parallel"
)

// redKind names a reduction.
type redKind uint8

const (
	redSum redKind = iota
	redMean
	redVar
	redMax
	redMin
)

// reducePlan describes a reduction of a contiguous tensor over some axes. The
// kept and reduced dimensions are each coalesced; the reduced elements of one
// output are visited as segments (segOffs, each segLen long at segStride) in
// row-major order of the reduced dimensions.
type reducePlan struct {
	outShape               []int
	keptShape, keptStrides []int
	segOffs                []int
	segLen, segStride      int
	nOut, nRed             int
}

// normAxes normalises axes (negative counts from the end; none means all)
// into a mask over the dimensions of shape, panicking on a bad or repeated
// axis.
func normAxes(op string, shape []int, axes []int) []bool {
	mask := make([]bool, len(shape))
	if len(axes) == 0 {
		for i := range mask {
			mask[i] = true
		}
		return mask
	}
	for _, ax := range axes {
		a := ax
		if a < 0 {
			a += len(shape)
		}
		if a < 0 || a >= len(shape) {
			panic(fastgo.Errorf("%s: axis %d out of range for shape %v", op, ax, shape))
		}
		if mask[a] {
			panic(fastgo.Errorf("%s: axis %d repeated in %v for shape %v", op, ax, axes, shape))
		}
		mask[a] = true
	}
	return mask
}

// appendDim appends a dimension to a coalesced (shape, strides) list,
// merging it into the previous one when they are contiguous.
func appendDim(shape, strides []int, d, st int) ([]int, []int) {
	if d == 1 {
		return shape, strides
	}
	if r := len(shape); r > 0 && strides[r-1] == st*d {
		shape[r-1] *= d
		strides[r-1] = st
		return shape, strides
	}
	return append(shape, d), append(strides, st)
}

func newReducePlan(op string, shape []int, keepdim bool, axes []int) *reducePlan {
	mask := normAxes(op, shape, axes)
	st := contiguousStrides(shape)
	p := &reducePlan{nOut: 1, nRed: 1}
	var redShape, redStrides []int
	for i, d := range shape {
		if mask[i] {
			p.nRed *= d
			redShape, redStrides = appendDim(redShape, redStrides, d, st[i])
			if keepdim {
				p.outShape = append(p.outShape, 1)
			}
			continue
		}
		p.nOut *= d
		p.outShape = append(p.outShape, d)
		p.keptShape, p.keptStrides = appendDim(p.keptShape, p.keptStrides, d, st[i])
	}
	if p.outShape == nil {
		p.outShape = []int{}
	}
	if len(redShape) == 0 {
		redShape, redStrides = []int{1}, []int{1}
	}
	r := len(redShape)
	p.segLen, p.segStride = redShape[r-1], redStrides[r-1]
	if p.nRed == 0 {
		return p
	}
	// Offsets of the segments: row-major over the reduced dimensions but the last.
	p.segOffs = []int{0}
	for d := r - 2; d >= 0; d-- {
		n := len(p.segOffs)
		next := make([]int, 0, n*redShape[d])
		for i := range redShape[d] {
			for _, o := range p.segOffs[:n] {
				next = append(next, i*redStrides[d]+o)
			}
		}
		p.segOffs = next
	}
	return p
}

// forOutputs calls fn(o, base) for each output o in [lo, hi) with base the
// offset in the input of its first reduced element.
func (p *reducePlan) forOutputs(lo, hi int, fn func(o, base int)) {
	r := len(p.keptShape)
	if r == 0 {
		for o := lo; o < hi; o++ {
			fn(o, 0)
		}
		return
	}
	idx := make([]int, r)
	rem := lo
	for d := r - 1; d >= 0; d-- {
		idx[d] = rem % p.keptShape[d]
		rem /= p.keptShape[d]
	}
	for o := lo; o < hi; o++ {
		base := 0
		for d, i := range idx {
			base += i * p.keptStrides[d]
		}
		fn(o, base)
		for d := r - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < p.keptShape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// grain returns the number of outputs a parallel range gets.
func (p *reducePlan) grain() int { return max(1, grainCheap/max(1, p.nRed)) }

// sumAt returns the float64 sum of the reduced elements of one output.
func sumAt[T Float](p *reducePlan, x []T, base int) float64 {
	s := 0.0
	n, st := p.segLen, p.segStride
	for _, so := range p.segOffs {
		seg := x[base+so:]
		if st == 1 {
			s += sumContiguous(seg[:n])
			continue
		}
		for j := 0; j < n*st; j += st {
			s += float64(seg[j])
		}
	}
	return s
}

// sumContiguous returns the float64 sum of x, over four interleaved partial
// sums (a fixed order, so the result is the same on every run).
func sumContiguous[T Float](x []T) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sqDevAt returns the sum of squared deviations from mean of one output's
// reduced elements.
func sqDevAt[T Float](p *reducePlan, x []T, base int, mean float64) float64 {
	s := 0.0
	n, st := p.segLen, p.segStride
	for _, so := range p.segOffs {
		seg := x[base+so:]
		for j := 0; j < n*st; j += st {
			d := float64(seg[j]) - mean
			s += d * d
		}
	}
	return s
}

// extremeAt returns the largest (or, with min, smallest) reduced element of
// one output and its offset in x; ties go to the first, and a NaN wins.
func extremeAt[T Float](p *reducePlan, x []T, base int, min bool) (T, int) {
	best, at := x[base+p.segOffs[0]], base+p.segOffs[0]
	n, st := p.segLen, p.segStride
	for _, so := range p.segOffs {
		off := base + so
		for j := 0; j < n; j++ {
			v := x[off]
			if best == best && (v != v || (!min && v > best) || (min && v < best)) {
				best, at = v, off
			}
			off += st
		}
	}
	return best, at
}

// sumBlock is the block size of the parallel whole-tensor sum.
const sumBlock = 1 << 14

// reduce computes a Sum, Mean or Var reduction.
func reduce[T Float](op string, k redKind, a *Dense[T], keepdim bool, correction int, axes []int) *Dense[T] {
	p := newReducePlan(op, a.shape, keepdim, axes)
	out := New[T](p.outShape...)
	if p.nRed == 0 {
		v := T(0)
		if k != redSum {
			v = T(math.NaN())
		}
		out.Fill(v)
		return out
	}
	x, o := a.data, out.data
	if k != redVar && p.nOut == 1 && len(p.segOffs) == 1 && p.segStride == 1 && p.segLen >= 4*sumBlock {
		// One long contiguous sum: partial sums over fixed blocks, so the
		// result does not depend on the number of goroutines.
		s := sumBlocks(x[:p.segLen])
		if k == redMean {
			s /= float64(p.nRed)
		}
		o[0] = T(s)
		return out
	}
	n := float64(p.nRed)
	if r := len(p.keptShape); k != redVar && r > 0 && p.keptStrides[r-1] == 1 && p.segStride != 1 {
		// Adjacent outputs read adjacent inputs (a sum over a batch axis):
		// accumulate whole rows of outputs at once. Each output still adds
		// its elements in the same order as sumAt.
		sumRows(p, x, o, k == redMean)
		return out
	}
	parallel.For(p.nOut, p.grain(), func(lo, hi int) {
		p.forOutputs(lo, hi, func(i, base int) {
			s := sumAt(p, x, base)
			switch k {
			case redSum:
				o[i] = T(s)
			case redMean:
				o[i] = T(s / n)
			case redVar:
				o[i] = T(sqDevAt(p, x, base, s/n) / (n - float64(correction)))
			}
		})
	})
	return out
}

// sumRows computes sums (means with mean) for plans whose innermost kept
// dimension is contiguous in x, a run of outputs at a time.
func sumRows[T Float](p *reducePlan, x, o []T, mean bool) {
	kept := newStridedPlan(p.keptShape, p.keptStrides)
	n, st := p.segLen, p.segStride
	parallel.For(p.nOut, p.grain(), func(lo, hi int) {
		acc := make([]float64, min(hi-lo, kept.shape[len(kept.shape)-1]))
		kept.walk(lo, hi, func(pos int, offs []int, m int) {
			a := acc[:m]
			clear(a)
			for _, so := range p.segOffs {
				for j := range n {
					row := x[offs[0]+so+j*st:]
					for i, v := range row[:m] {
						a[i] += float64(v)
					}
				}
			}
			out := o[pos : pos+m]
			for i, v := range a {
				if mean {
					v /= float64(p.nRed)
				}
				out[i] = T(v)
			}
		})
	})
}

// sumBlocks sums x in float64 over fixed blocks in parallel, adding the
// block sums in order.
func sumBlocks[T Float](x []T) float64 {
	nb := (len(x) + sumBlock - 1) / sumBlock
	part := make([]float64, nb)
	parallel.For(nb, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			part[b] = sumContiguous(x[b*sumBlock : min((b+1)*sumBlock, len(x))])
		}
	})
	s := 0.0
	for _, v := range part {
		s += v
	}
	return s
}

// reduceExtreme computes a Max or Min reduction and the flat offsets in a of
// the chosen elements.
func reduceExtreme[T Float](op string, a *Dense[T], min, keepdim bool, axes []int) (*Dense[T], []int) {
	p := newReducePlan(op, a.shape, keepdim, axes)
	if p.nRed == 0 {
		panic(fastgo.Errorf("%s: reduction over an empty dimension of shape %v", op, a.shape))
	}
	out := New[T](p.outShape...)
	at := make([]int, p.nOut)
	x, o := a.data, out.data
	parallel.For(p.nOut, p.grain(), func(lo, hi int) {
		p.forOutputs(lo, hi, func(i, base int) {
			o[i], at[i] = extremeAt(p, x, base, min)
		})
	})
	return out, at
}

// Sum returns the sum of a over axes (all axes when none are given; negative
// axes count from the end); the reduced axes are dropped (KeepDims keeps
// them as size 1).
// Sums are accumulated in float64.
func Sum[T Float](a *Dense[T], axes ...int) *Dense[T] {
	return reduce("tensor.Sum", redSum, a, false, 0, axes)
}

// Mean returns the mean of a over axes, as Sum does. The mean over no
// elements is NaN.
func Mean[T Float](a *Dense[T], axes ...int) *Dense[T] {
	return reduce("tensor.Mean", redMean, a, false, 0, axes)
}

// Var returns the variance of a over axes (all when none are given):
// sum((x-mean)^2) / (N - correction), where N is the number of elements
// reduced. correction 1 is the unbiased estimate (torch.var's default), 0 the
// population variance.
func Var[T Float](a *Dense[T], correction int, axes ...int) *Dense[T] {
	return reduce("tensor.Var", redVar, a, false, correction, axes)
}

// Max returns the largest element of a over axes (all when none are given),
// as Sum does. It panics when a reduced axis is empty.
func Max[T Float](a *Dense[T], axes ...int) *Dense[T] {
	out, _ := reduceExtreme("tensor.Max", a, false, false, axes)
	return out
}

// Min returns the smallest element of a over axes, as Max does.
func Min[T Float](a *Dense[T], axes ...int) *Dense[T] {
	out, _ := reduceExtreme("tensor.Min", a, true, false, axes)
	return out
}

// MaxWithIndex is Max that also returns, for each element of the result in
// row-major order, the flat (row-major) index in a of the element it came
// from. Ties go to the first element. Gradients of Max use it.
func MaxWithIndex[T Float](a *Dense[T], axes ...int) (*Dense[T], []int) {
	return reduceExtreme("tensor.MaxWithIndex", a, false, false, axes)
}

// MinWithIndex is MaxWithIndex for Min.
func MinWithIndex[T Float](a *Dense[T], axes ...int) (*Dense[T], []int) {
	return reduceExtreme("tensor.MinWithIndex", a, true, false, axes)
}

// KeepDims returns r, the result of reducing a tensor of shape over axes
// (all when none are given; negative axes count from the end), as a view
// with the reduced axes kept as size 1: PyTorch's keepdim=True, for a
// result that broadcasts back against the input.
//
//	m := tensor.KeepDims(tensor.Mean(x, 1), x.Shape(), 1) // [N, 1] for x [N, C]
func KeepDims[T Float](r *Dense[T], shape []int, axes ...int) *Dense[T] {
	p := newReducePlan("tensor.KeepDims", shape, true, axes)
	if numel("tensor.KeepDims", p.outShape) != r.Len() {
		panic(fastgo.Errorf("tensor.KeepDims: a result of shape %v is not shape %v reduced over %v", r.shape, shape, axes))
	}
	return r.Reshape(p.outShape...)
}

// ArgMax returns the index along axis of the largest element of each slice
// of a along axis, ties to the first, as torch.argmax(a, dim). The indices
// are listed in row-major order of a's shape with axis removed; for logits of
// shape [N, C] and axis 1 they are the N predicted classes.
func ArgMax[T Float](a *Dense[T], axis int) []int {
	return argExtreme("tensor.ArgMax", a, axis, false)
}

// ArgMin is ArgMax for the smallest element.
func ArgMin[T Float](a *Dense[T], axis int) []int {
	return argExtreme("tensor.ArgMin", a, axis, true)
}

func argExtreme[T Float](op string, a *Dense[T], axis int, min bool) []int {
	ax := a.axis(op, axis)
	_, at := reduceExtreme(op, a, min, false, []int{ax})
	st := contiguousStrides(a.shape)[ax]
	for i, off := range at {
		at[i] = off / st % a.shape[ax]
	}
	return at
}

// SumAll returns the sum of all elements, accumulated in float64.
func SumAll[T Float](a *Dense[T]) T { return reduce("tensor.SumAll", redSum, a, false, 0, nil).data[0] }

// MeanAll returns the mean of all elements (NaN for an empty tensor).
func MeanAll[T Float](a *Dense[T]) T {
	return reduce("tensor.MeanAll", redMean, a, false, 0, nil).data[0]
}
