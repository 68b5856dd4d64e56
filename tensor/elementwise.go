package tensor

import (
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
)

// Grain sizes: the fewest elements a parallel range gets. Below them an
// operation runs on the calling goroutine.
const (
	grainCheap     = 1 << 14 // add, copy, compare...
	grainExpensive = 1 << 11 // exp, log, pow...
)

// binKind names a binary element-wise operation.
type binKind uint8

const (
	binAdd binKind = iota
	binSub
	binMul
	binDiv
	binPow
	binMax
	binMin
	binEq
	binNe
	binGt
	binGe
	binLt
	binLe
)

var binNames = [...]string{
	binAdd: "tensor.Add", binSub: "tensor.Sub", binMul: "tensor.Mul", binDiv: "tensor.Div",
	binPow: "tensor.Pow", binMax: "tensor.Maximum", binMin: "tensor.Minimum",
	binEq: "tensor.Eq", binNe: "tensor.Ne", binGt: "tensor.Gt", binGe: "tensor.Ge",
	binLt: "tensor.Lt", binLe: "tensor.Le",
}

func (k binKind) grain() int {
	if k == binPow {
		return grainExpensive
	}
	return grainCheap
}

// fastBinary returns the SIMD kernel for k on contiguous float32 operands, or
// nil when T is not float32 or k has none.
func fastBinary[T Float](k binKind) func(dst, a, b []T) {
	var f any
	switch k {
	case binAdd:
		f = kernels.Add
	case binMul:
		f = kernels.Mul
	default:
		return nil
	}
	g, _ := f.(func(dst, a, b []T))
	return g
}

// b2f converts a comparison result to 1 or 0.
func b2f[T Float](b bool) T {
	if b {
		return 1
	}
	return 0
}

// binRun computes d[i] = a[i*sa] op b[i*sb] for a run of outputs; sa and sb
// are 0 (broadcast) or the operand's stride along the run.
func binRun[T Float](k binKind, d, a, b []T, sa, sb int) {
	ia, ib := 0, 0
	switch k {
	case binAdd:
		for i := range d {
			d[i] = a[ia] + b[ib]
			ia += sa
			ib += sb
		}
	case binSub:
		for i := range d {
			d[i] = a[ia] - b[ib]
			ia += sa
			ib += sb
		}
	case binMul:
		for i := range d {
			d[i] = a[ia] * b[ib]
			ia += sa
			ib += sb
		}
	case binDiv:
		for i := range d {
			d[i] = a[ia] / b[ib]
			ia += sa
			ib += sb
		}
	case binPow:
		for i := range d {
			d[i] = T(math.Pow(float64(a[ia]), float64(b[ib])))
			ia += sa
			ib += sb
		}
	case binMax:
		for i := range d {
			x, y := a[ia], b[ib]
			if x >= y || x != x {
				d[i] = x
			} else {
				d[i] = y
			}
			ia += sa
			ib += sb
		}
	case binMin:
		for i := range d {
			x, y := a[ia], b[ib]
			if x <= y || x != x {
				d[i] = x
			} else {
				d[i] = y
			}
			ia += sa
			ib += sb
		}
	case binEq:
		for i := range d {
			d[i] = b2f[T](a[ia] == b[ib])
			ia += sa
			ib += sb
		}
	case binNe:
		for i := range d {
			d[i] = b2f[T](a[ia] != b[ib])
			ia += sa
			ib += sb
		}
	case binGt:
		for i := range d {
			d[i] = b2f[T](a[ia] > b[ib])
			ia += sa
			ib += sb
		}
	case binGe:
		for i := range d {
			d[i] = b2f[T](a[ia] >= b[ib])
			ia += sa
			ib += sb
		}
	case binLt:
		for i := range d {
			d[i] = b2f[T](a[ia] < b[ib])
			ia += sa
			ib += sb
		}
	case binLe:
		for i := range d {
			d[i] = b2f[T](a[ia] <= b[ib])
			ia += sa
			ib += sb
		}
	}
}

// binary returns a op b with broadcasting.
func binary[T Float](k binKind, a, b *Dense[T]) *Dense[T] {
	// Every element of out is written: its buffer may come from the pool.
	if SameShape(a.shape, b.shape) {
		out := Empty[T](a.shape...)
		binSame(k, out.data, a.data, b.data)
		return out
	}
	out := Empty[T](BroadcastShapes(binNames[k], a.shape, b.shape)...)
	binBroadcast(k, out, a, b)
	return out
}

// binSame computes d = a op b on equal-length contiguous slices.
func binSame[T Float](k binKind, d, a, b []T) {
	fast := fastBinary[T](k)
	parallel.For(len(d), k.grain(), func(lo, hi int) {
		if fast != nil {
			fast(d[lo:hi], a[lo:hi], b[lo:hi])
			return
		}
		binRun(k, d[lo:hi], a[lo:hi], b[lo:hi], 1, 1)
	})
}

// binBroadcast computes out = a op b where a and b broadcast to out's shape.
// a may be out itself.
func binBroadcast[T Float](k binKind, out, a, b *Dense[T]) {
	p := newStridedPlan(out.shape, broadcastStrides(a.shape, out.shape), broadcastStrides(b.shape, out.shape))
	sa, sb := p.inner(0), p.inner(1)
	fast := fastBinary[T](k)
	if sa != 1 || sb != 1 {
		fast = nil
	}
	parallel.For(len(out.data), k.grain(), func(lo, hi int) {
		p.walk(lo, hi, func(pos int, offs []int, n int) {
			d := out.data[pos : pos+n]
			if fast != nil && n >= 32 {
				fast(d, a.data[offs[0]:offs[0]+n], b.data[offs[1]:offs[1]+n])
				return
			}
			binRun(k, d, a.data[offs[0]:], b.data[offs[1]:], sa, sb)
		})
	})
}

// binInPlace computes dst = dst op src with src broadcast to dst's shape.
func binInPlace[T Float](op string, k binKind, dst, src *Dense[T]) {
	if SameShape(dst.shape, src.shape) {
		binSame(k, dst.data, dst.data, src.data)
		return
	}
	if !broadcastsTo(src.shape, dst.shape) {
		panic(fastgo.Errorf("%s: shape %v does not broadcast to %v", op, src.shape, dst.shape))
	}
	binBroadcast(k, dst, dst, src)
}

// Add returns a + b, broadcasting as NumPy does.
func Add[T Float](a, b *Dense[T]) *Dense[T] { return binary(binAdd, a, b) }

// Sub returns a - b, broadcasting.
func Sub[T Float](a, b *Dense[T]) *Dense[T] { return binary(binSub, a, b) }

// Mul returns the element-wise product a * b, broadcasting.
func Mul[T Float](a, b *Dense[T]) *Dense[T] { return binary(binMul, a, b) }

// Div returns a / b, broadcasting.
func Div[T Float](a, b *Dense[T]) *Dense[T] { return binary(binDiv, a, b) }

// Pow returns a raised to the power b element-wise (math.Pow), broadcasting.
func Pow[T Float](a, b *Dense[T]) *Dense[T] { return binary(binPow, a, b) }

// Maximum returns the element-wise maximum of a and b, broadcasting. A NaN in
// either operand gives NaN.
func Maximum[T Float](a, b *Dense[T]) *Dense[T] { return binary(binMax, a, b) }

// Minimum returns the element-wise minimum of a and b, broadcasting. A NaN in
// either operand gives NaN.
func Minimum[T Float](a, b *Dense[T]) *Dense[T] { return binary(binMin, a, b) }

// Eq returns 1 where a == b and 0 elsewhere, broadcasting.
func Eq[T Float](a, b *Dense[T]) *Dense[T] { return binary(binEq, a, b) }

// Ne returns 1 where a != b and 0 elsewhere, broadcasting.
func Ne[T Float](a, b *Dense[T]) *Dense[T] { return binary(binNe, a, b) }

// Gt returns 1 where a > b and 0 elsewhere, broadcasting.
func Gt[T Float](a, b *Dense[T]) *Dense[T] { return binary(binGt, a, b) }

// Ge returns 1 where a >= b and 0 elsewhere, broadcasting.
func Ge[T Float](a, b *Dense[T]) *Dense[T] { return binary(binGe, a, b) }

// Lt returns 1 where a < b and 0 elsewhere, broadcasting.
func Lt[T Float](a, b *Dense[T]) *Dense[T] { return binary(binLt, a, b) }

// Le returns 1 where a <= b and 0 elsewhere, broadcasting.
func Le[T Float](a, b *Dense[T]) *Dense[T] { return binary(binLe, a, b) }

// AddInPlace computes dst += src, with src broadcast to dst's shape.
func AddInPlace[T Float](dst, src *Dense[T]) { binInPlace("tensor.AddInPlace", binAdd, dst, src) }

// SubInPlace computes dst -= src, with src broadcast to dst's shape.
func SubInPlace[T Float](dst, src *Dense[T]) { binInPlace("tensor.SubInPlace", binSub, dst, src) }

// MulInPlace computes dst *= src, with src broadcast to dst's shape.
func MulInPlace[T Float](dst, src *Dense[T]) { binInPlace("tensor.MulInPlace", binMul, dst, src) }

// DivInPlace computes dst /= src, with src broadcast to dst's shape.
func DivInPlace[T Float](dst, src *Dense[T]) { binInPlace("tensor.DivInPlace", binDiv, dst, src) }

// AddScaledInPlace computes dst += alpha*src (BLAS axpy); the shapes must be
// equal.
func AddScaledInPlace[T Float](dst *Dense[T], alpha T, src *Dense[T]) {
	if !SameShape(dst.shape, src.shape) {
		panic(fastgo.Errorf("tensor.AddScaledInPlace: shapes %v and %v differ", dst.shape, src.shape))
	}
	d, s := dst.data, src.data
	fast, _ := any(kernels.Axpy).(func(alpha T, x, y []T))
	parallel.For(len(d), grainCheap, func(lo, hi int) {
		if fast != nil {
			fast(alpha, s[lo:hi], d[lo:hi])
			return
		}
		dd, ss := d[lo:hi], s[lo:hi]
		for i, v := range ss {
			dd[i] += alpha * v
		}
	})
}

// ScaleInPlace computes dst *= s.
func ScaleInPlace[T Float](dst *Dense[T], s T) {
	fast, _ := any(kernels.Scale).(func(alpha T, x []T))
	if fast == nil {
		unInPlace(unMulS, dst, s, 0)
		return
	}
	d := dst.data
	parallel.For(len(d), grainCheap, func(lo, hi int) { fast(s, d[lo:hi]) })
}

// AddScalarInPlace computes dst += s.
func AddScalarInPlace[T Float](dst *Dense[T], s T) { unInPlace(unAddS, dst, s, 0) }

// ClampInPlace limits every element of dst to [lo, hi]. It panics if lo > hi.
func ClampInPlace[T Float](dst *Dense[T], lo, hi T) {
	checkClamp("tensor.ClampInPlace", lo, hi)
	unInPlace(unClamp, dst, lo, hi)
}

// Where returns, element-wise, a where cond is non-zero and b elsewhere; the
// three operands broadcast together.
func Where[T Float](cond, a, b *Dense[T]) *Dense[T] {
	shape, ok := broadcast3(cond.shape, a.shape, b.shape)
	if !ok {
		panic(fastgo.Errorf("tensor.Where: shapes %v, %v and %v do not broadcast", cond.shape, a.shape, b.shape))
	}
	out := New[T](shape...)
	p := newStridedPlan(shape, broadcastStrides(cond.shape, shape), broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape))
	sc, sa, sb := p.inner(0), p.inner(1), p.inner(2)
	parallel.For(len(out.data), grainCheap, func(lo, hi int) {
		p.walk(lo, hi, func(pos int, offs []int, n int) {
			d := out.data[pos : pos+n]
			c, x, y := cond.data[offs[0]:], a.data[offs[1]:], b.data[offs[2]:]
			ic, ia, ib := 0, 0, 0
			for i := range d {
				if c[ic] != 0 {
					d[i] = x[ia]
				} else {
					d[i] = y[ib]
				}
				ic += sc
				ia += sa
				ib += sb
			}
		})
	})
	return out
}

// broadcast3 broadcasts three shapes together.
func broadcast3(a, b, c []int) (shape []int, ok bool) {
	defer func() {
		if recover() != nil {
			shape, ok = nil, false
		}
	}()
	return BroadcastShapes("", BroadcastShapes("", a, b), c), true
}
