package tensor

import (
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/parallel"
)

// unKind names a unary element-wise operation; some take parameters p, q.
type unKind uint8

const (
	unNeg unKind = iota
	unExp
	unLog
	unSqrt
	unAbs
	unSign
	unSquare
	unReciprocal
	unClamp // clamp to [p, q]
	unAddS  // x + p
	unSubS  // x - p
	unRSubS // p - x
	unMulS  // x * p
	unDivS  // x / p
	unPowS  // x ** p
)

func (k unKind) grain() int {
	switch k {
	case unExp, unLog, unSqrt, unPowS:
		return grainExpensive
	}
	return grainCheap
}

// unRun computes d = f(a) for one range; d may alias a.
func unRun[T Float](k unKind, d, a []T, p, q T) {
	a = a[:len(d)]
	switch k {
	case unNeg:
		for i, x := range a {
			d[i] = -x
		}
	case unExp:
		for i, x := range a {
			d[i] = T(math.Exp(float64(x)))
		}
	case unLog:
		for i, x := range a {
			d[i] = T(math.Log(float64(x)))
		}
	case unSqrt:
		for i, x := range a {
			d[i] = T(math.Sqrt(float64(x)))
		}
	case unAbs:
		for i, x := range a {
			if x < 0 {
				d[i] = -x
			} else {
				d[i] = x + 0 // -0 becomes +0
			}
		}
	case unSign:
		for i, x := range a {
			switch {
			case x > 0:
				d[i] = 1
			case x < 0:
				d[i] = -1
			default:
				d[i] = x // 0 or NaN
			}
		}
	case unSquare:
		for i, x := range a {
			d[i] = x * x
		}
	case unReciprocal:
		for i, x := range a {
			d[i] = 1 / x
		}
	case unClamp:
		for i, x := range a {
			switch {
			case x < p:
				d[i] = p
			case x > q:
				d[i] = q
			default:
				d[i] = x
			}
		}
	case unAddS:
		for i, x := range a {
			d[i] = x + p
		}
	case unSubS:
		for i, x := range a {
			d[i] = x - p
		}
	case unRSubS:
		for i, x := range a {
			d[i] = p - x
		}
	case unMulS:
		for i, x := range a {
			d[i] = x * p
		}
	case unDivS:
		for i, x := range a {
			d[i] = x / p
		}
	case unPowS:
		switch p {
		case 1:
			copy(d, a)
		case 2:
			for i, x := range a {
				d[i] = x * x
			}
		default:
			for i, x := range a {
				d[i] = T(math.Pow(float64(x), float64(p)))
			}
		}
	}
}

// unary returns f(a) in a new tensor.
func unary[T Float](k unKind, a *Dense[T], p, q T) *Dense[T] {
	out := Empty[T](a.shape...) // every element is written
	d, s := out.data, a.data
	parallel.For(len(d), k.grain(), func(lo, hi int) { unRun(k, d[lo:hi], s[lo:hi], p, q) })
	return out
}

// unInPlace computes dst = f(dst).
func unInPlace[T Float](k unKind, dst *Dense[T], p, q T) {
	d := dst.data
	parallel.For(len(d), k.grain(), func(lo, hi int) { unRun(k, d[lo:hi], d[lo:hi], p, q) })
}

func checkClamp[T Float](op string, lo, hi T) {
	if lo > hi {
		panic(fastgo.Errorf("%s: lo %v > hi %v", op, lo, hi))
	}
}

// Neg returns -a.
func Neg[T Float](a *Dense[T]) *Dense[T] { return unary(unNeg, a, 0, 0) }

// Exp returns e**a element-wise.
func Exp[T Float](a *Dense[T]) *Dense[T] { return unary(unExp, a, 0, 0) }

// Log returns the natural logarithm of a element-wise.
func Log[T Float](a *Dense[T]) *Dense[T] { return unary(unLog, a, 0, 0) }

// Sqrt returns the square root of a element-wise.
func Sqrt[T Float](a *Dense[T]) *Dense[T] { return unary(unSqrt, a, 0, 0) }

// Abs returns |a| element-wise.
func Abs[T Float](a *Dense[T]) *Dense[T] { return unary(unAbs, a, 0, 0) }

// Sign returns -1, 0 or 1 by the sign of each element (NaN stays NaN).
func Sign[T Float](a *Dense[T]) *Dense[T] { return unary(unSign, a, 0, 0) }

// Square returns a*a element-wise.
func Square[T Float](a *Dense[T]) *Dense[T] { return unary(unSquare, a, 0, 0) }

// Reciprocal returns 1/a element-wise.
func Reciprocal[T Float](a *Dense[T]) *Dense[T] { return unary(unReciprocal, a, 0, 0) }

// Clamp returns a with every element limited to [lo, hi] (NaN stays NaN). It
// panics if lo > hi.
func Clamp[T Float](a *Dense[T], lo, hi T) *Dense[T] {
	checkClamp("tensor.Clamp", lo, hi)
	return unary(unClamp, a, lo, hi)
}

// AddScalar returns a + s.
func AddScalar[T Float](a *Dense[T], s T) *Dense[T] { return unary(unAddS, a, s, 0) }

// SubScalar returns a - s.
func SubScalar[T Float](a *Dense[T], s T) *Dense[T] { return unary(unSubS, a, s, 0) }

// RSubScalar returns s - a.
func RSubScalar[T Float](s T, a *Dense[T]) *Dense[T] { return unary(unRSubS, a, s, 0) }

// MulScalar returns a * s.
func MulScalar[T Float](a *Dense[T], s T) *Dense[T] { return unary(unMulS, a, s, 0) }

// DivScalar returns a / s.
func DivScalar[T Float](a *Dense[T], s T) *Dense[T] { return unary(unDivS, a, s, 0) }

// PowScalar returns a raised to the power s element-wise.
func PowScalar[T Float](a *Dense[T], s T) *Dense[T] { return unary(unPowS, a, s, 0) }
