package tensor

import (
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/parallel"
)

// lines calls fn(base, n, stride) in parallel for every 1-d slice ("line")
// of a tensor of the given shape along axis: its elements are at base,
// base+stride, ... base+(n-1)*stride.
func lines(op string, shape []int, axis int, fn func(base, n, stride int)) {
	r := len(shape)
	ax := axis
	if ax < 0 {
		ax += r
	}
	if ax < 0 || ax >= r {
		panic(fastgo.Errorf("%s: axis %d out of range for shape %v", op, axis, shape))
	}
	outer, n, inner := splitAt(shape, ax)
	parallel.For(outer*inner, max(1, grainExpensive/max(1, n)), func(lo, hi int) {
		for l := lo; l < hi; l++ {
			o, i := l/inner, l%inner
			fn(o*n*inner+i, n, inner)
		}
	})
}

// Softmax returns exp(a) / sum(exp(a)) along axis (negative counts from the
// end), computed stably by subtracting each line's maximum first.
func Softmax[T Float](a *Dense[T], axis int) *Dense[T] {
	out := New[T](a.shape...)
	x, y := a.data, out.data
	lines("tensor.Softmax", a.shape, axis, func(base, n, st int) {
		end := base + n*st
		m := math.Inf(-1)
		for j := base; j < end; j += st {
			m = max(m, float64(x[j]))
		}
		s := 0.0
		for j := base; j < end; j += st {
			e := math.Exp(float64(x[j]) - m)
			s += e
			y[j] = T(e)
		}
		inv := 1 / s
		for j := base; j < end; j += st {
			y[j] = T(float64(y[j]) * inv)
		}
	})
	return out
}

// LogSoftmax returns log(Softmax(a, axis)), computed stably as
// a - max - log(sum(exp(a - max))).
func LogSoftmax[T Float](a *Dense[T], axis int) *Dense[T] {
	out := New[T](a.shape...)
	x, y := a.data, out.data
	lines("tensor.LogSoftmax", a.shape, axis, func(base, n, st int) {
		end := base + n*st
		m := math.Inf(-1)
		for j := base; j < end; j += st {
			m = max(m, float64(x[j]))
		}
		s := 0.0
		for j := base; j < end; j += st {
			s += math.Exp(float64(x[j]) - m)
		}
		c := m + math.Log(s)
		for j := base; j < end; j += st {
			y[j] = T(float64(x[j]) - c)
		}
	})
	return out
}

// SoftmaxGrad returns the gradient with respect to the input of Softmax given
// its output y and the gradient g of its output: y * (g - sum(g*y)) along
// axis.
func SoftmaxGrad[T Float](y, g *Dense[T], axis int) *Dense[T] {
	checkSame("tensor.SoftmaxGrad", y, g)
	out := New[T](y.shape...)
	yd, gd, d := y.data, g.data, out.data
	lines("tensor.SoftmaxGrad", y.shape, axis, func(base, n, st int) {
		end := base + n*st
		s := 0.0
		for j := base; j < end; j += st {
			s += float64(gd[j]) * float64(yd[j])
		}
		for j := base; j < end; j += st {
			d[j] = T(float64(yd[j]) * (float64(gd[j]) - s))
		}
	})
	return out
}

// LogSoftmaxGrad returns the gradient with respect to the input of
// LogSoftmax given its output y and the gradient g of its output:
// g - exp(y) * sum(g) along axis.
func LogSoftmaxGrad[T Float](y, g *Dense[T], axis int) *Dense[T] {
	checkSame("tensor.LogSoftmaxGrad", y, g)
	out := New[T](y.shape...)
	yd, gd, d := y.data, g.data, out.data
	lines("tensor.LogSoftmaxGrad", y.shape, axis, func(base, n, st int) {
		end := base + n*st
		s := 0.0
		for j := base; j < end; j += st {
			s += float64(gd[j])
		}
		for j := base; j < end; j += st {
			d[j] = T(float64(gd[j]) - math.Exp(float64(yd[j]))*s)
		}
	})
	return out
}

// checkSame panics unless a and b have the same shape.
func checkSame[T Float](op string, a, b *Dense[T]) {
	if !SameShape(a.shape, b.shape) {
		panic(fastgo.Errorf("%s: shapes %v and %v differ", op, a.shape, b.shape))
	}
}
