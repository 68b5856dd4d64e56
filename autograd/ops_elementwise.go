package autograd

import (
	"github.com/fastgo-ml/fastgo/tensor"
)

// grads2 returns the gradients of a two-input op, calling fa and fb only for
// the inputs that require a gradient.
func grads2[T tensor.Float](a, b *Var[T], fa, fb func() *tensor.Dense[T]) []*tensor.Dense[T] {
	var ga, gb *tensor.Dense[T]
	if a.requiresGrad {
		ga = fa()
	}
	if b.requiresGrad {
		gb = fb()
	}
	return []*tensor.Dense[T]{ga, gb}
}

// unaryOp records a one-input op whose gradient is grad(g).
func unaryOp[T tensor.Float](op string, a *Var[T], out *tensor.Dense[T], grad func(g *tensor.Dense[T]) *tensor.Dense[T]) *Var[T] {
	return Record(op, out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		return []*tensor.Dense[T]{grad(g)}
	}, a)
}

// negated returns -t, reusing t (which must be a fresh tensor of the caller's).
func negated[T tensor.Float](t *tensor.Dense[T]) *tensor.Dense[T] {
	tensor.ScaleInPlace(t, -1)
	return t
}

// Add returns a + b, broadcasting as NumPy does; each input's gradient is
// summed back to its own shape.
func Add[T tensor.Float](a, b *Var[T]) *Var[T] {
	out := tensor.Add(a.data, b.data)
	return Record("Add", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		return grads2(a, b,
			func() *tensor.Dense[T] { return tensor.ReduceTo(g, a.Shape()) },
			func() *tensor.Dense[T] { return tensor.ReduceTo(g, b.Shape()) })
	}, a, b)
}

// Sub returns a - b, broadcasting.
func Sub[T tensor.Float](a, b *Var[T]) *Var[T] {
	out := tensor.Sub(a.data, b.data)
	return Record("Sub", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		return grads2(a, b,
			func() *tensor.Dense[T] { return tensor.ReduceTo(g, a.Shape()) },
			func() *tensor.Dense[T] { return tensor.Neg(tensor.ReduceTo(g, b.Shape())) })
	}, a, b)
}

// Mul returns the element-wise product a * b, broadcasting.
func Mul[T tensor.Float](a, b *Var[T]) *Var[T] {
	out := tensor.Mul(a.data, b.data)
	return Record("Mul", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		return grads2(a, b,
			func() *tensor.Dense[T] { return tensor.ReduceTo(tensor.Mul(g, b.data), a.Shape()) },
			func() *tensor.Dense[T] { return tensor.ReduceTo(tensor.Mul(g, a.data), b.Shape()) })
	}, a, b)
}

// Div returns a / b, broadcasting.
func Div[T tensor.Float](a, b *Var[T]) *Var[T] {
	out := tensor.Div(a.data, b.data)
	return Record("Div", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		return grads2(a, b,
			func() *tensor.Dense[T] { return tensor.ReduceTo(tensor.Div(g, b.data), a.Shape()) },
			func() *tensor.Dense[T] {
				// d(a/b)/db = -out/b
				return negated(tensor.ReduceTo(tensor.Div(tensor.Mul(g, out), b.data), b.Shape()))
			})
	}, a, b)
}

// Pow returns a raised to the power b element-wise, broadcasting. The
// gradient with respect to b is g * a**b * log(a), taken as 0 where a is 0.
func Pow[T tensor.Float](a, b *Var[T]) *Var[T] {
	out := tensor.Pow(a.data, b.data)
	return Record("Pow", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		return grads2(a, b,
			func() *tensor.Dense[T] {
				d := tensor.Mul(b.data, tensor.Pow(a.data, tensor.SubScalar(b.data, 1)))
				return tensor.ReduceTo(tensor.Mul(g, d), a.Shape())
			},
			func() *tensor.Dense[T] {
				zero := tensor.Scalar[T](0)
				logA := tensor.Where(tensor.Eq(a.data, zero), zero, tensor.Log(a.data))
				return tensor.ReduceTo(tensor.Mul(tensor.Mul(g, out), logA), b.Shape())
			})
	}, a, b)
}

// Maximum returns the element-wise maximum of a and b, broadcasting. The
// gradient goes to the larger input; on ties it is split equally, as in
// PyTorch.
func Maximum[T tensor.Float](a, b *Var[T]) *Var[T] {
	out := tensor.Maximum(a.data, b.data)
	return Record("Maximum", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		return pickGrads(g, a, b, tensor.Gt(a.data, b.data))
	}, a, b)
}

// Minimum returns the element-wise minimum of a and b, broadcasting, with
// gradients as Maximum.
func Minimum[T tensor.Float](a, b *Var[T]) *Var[T] {
	out := tensor.Minimum(a.data, b.data)
	return Record("Minimum", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		return pickGrads(g, a, b, tensor.Lt(a.data, b.data))
	}, a, b)
}

// pickGrads gives g to a where won is 1, to b where a and b tie or won is 0,
// splitting ties in half.
func pickGrads[T tensor.Float](g *tensor.Dense[T], a, b *Var[T], won *tensor.Dense[T]) []*tensor.Dense[T] {
	wa := tensor.Add(won, tensor.MulScalar(tensor.Eq(a.data, b.data), 0.5))
	return grads2(a, b,
		func() *tensor.Dense[T] { return tensor.ReduceTo(tensor.Mul(g, wa), a.Shape()) },
		func() *tensor.Dense[T] { return tensor.ReduceTo(tensor.Mul(g, tensor.RSubScalar(1, wa)), b.Shape()) })
}

// Where returns a where cond is non-zero and b elsewhere, the three
// broadcasting together. cond takes no gradient; a and b get g where they
// were chosen.
func Where[T tensor.Float](cond *tensor.Dense[T], a, b *Var[T]) *Var[T] {
	out := tensor.Where(cond, a.data, b.data)
	return Record("Where", out, func(g *tensor.Dense[T]) []*tensor.Dense[T] {
		zero := tensor.Scalar[T](0)
		return grads2(a, b,
			func() *tensor.Dense[T] { return tensor.ReduceTo(tensor.Where(cond, g, zero), a.Shape()) },
			func() *tensor.Dense[T] { return tensor.ReduceTo(tensor.Where(cond, zero, g), b.Shape()) })
	}, a, b)
}

// AddScalar returns a + s.
func AddScalar[T tensor.Float](a *Var[T], s T) *Var[T] {
	return unaryOp("AddScalar", a, tensor.AddScalar(a.data, s), func(g *tensor.Dense[T]) *tensor.Dense[T] { return g })
}

// SubScalar returns a - s.
func SubScalar[T tensor.Float](a *Var[T], s T) *Var[T] {
	return unaryOp("SubScalar", a, tensor.SubScalar(a.data, s), func(g *tensor.Dense[T]) *tensor.Dense[T] { return g })
}

// RSubScalar returns s - a.
func RSubScalar[T tensor.Float](s T, a *Var[T]) *Var[T] {
	return unaryOp("RSubScalar", a, tensor.RSubScalar(s, a.data), tensor.Neg[T])
}

// MulScalar returns a * s.
func MulScalar[T tensor.Float](a *Var[T], s T) *Var[T] {
	return unaryOp("MulScalar", a, tensor.MulScalar(a.data, s), func(g *tensor.Dense[T]) *tensor.Dense[T] {
		return tensor.MulScalar(g, s)
	})
}

// DivScalar returns a / s.
func DivScalar[T tensor.Float](a *Var[T], s T) *Var[T] {
	return unaryOp("DivScalar", a, tensor.DivScalar(a.data, s), func(g *tensor.Dense[T]) *tensor.Dense[T] {
		return tensor.DivScalar(g, s)
	})
}

// PowScalar returns a raised to the power s element-wise.
func PowScalar[T tensor.Float](a *Var[T], s T) *Var[T] {
	return unaryOp("PowScalar", a, tensor.PowScalar(a.data, s), func(g *tensor.Dense[T]) *tensor.Dense[T] {
		d := tensor.PowScalar(a.data, s-1)
		tensor.ScaleInPlace(d, s)
		tensor.MulInPlace(d, g)
		return d
	})
}

// Neg returns -a.
func Neg[T tensor.Float](a *Var[T]) *Var[T] {
	return unaryOp("Neg", a, tensor.Neg(a.data), tensor.Neg[T])
}

// Exp returns e**a element-wise.
func Exp[T tensor.Float](a *Var[T]) *Var[T] {
	out := tensor.Exp(a.data)
	return unaryOp("Exp", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] { return tensor.Mul(g, out) })
}

// Log returns the natural logarithm of a element-wise.
func Log[T tensor.Float](a *Var[T]) *Var[T] {
	return unaryOp("Log", a, tensor.Log(a.data), func(g *tensor.Dense[T]) *tensor.Dense[T] { return tensor.Div(g, a.data) })
}

// Sqrt returns the square root of a element-wise.
func Sqrt[T tensor.Float](a *Var[T]) *Var[T] {
	out := tensor.Sqrt(a.data)
	return unaryOp("Sqrt", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] {
		d := tensor.Div(g, out)
		tensor.ScaleInPlace(d, 0.5)
		return d
	})
}

// Abs returns |a| element-wise; its gradient at 0 is 0.
func Abs[T tensor.Float](a *Var[T]) *Var[T] {
	return unaryOp("Abs", a, tensor.Abs(a.data), func(g *tensor.Dense[T]) *tensor.Dense[T] {
		return tensor.Mul(g, tensor.Sign(a.data))
	})
}

// Clamp limits a to [lo, hi] element-wise. The gradient passes where
// lo <= a <= hi (edges included, as in PyTorch) and is 0 elsewhere.
func Clamp[T tensor.Float](a *Var[T], lo, hi T) *Var[T] {
	return unaryOp("Clamp", a, tensor.Clamp(a.data, lo, hi), func(g *tensor.Dense[T]) *tensor.Dense[T] {
		in := tensor.Mul(tensor.Ge(a.data, tensor.Scalar(lo)), tensor.Le(a.data, tensor.Scalar(hi)))
		tensor.MulInPlace(in, g)
		return in
	})
}

// Square returns a*a element-wise.
func Square[T tensor.Float](a *Var[T]) *Var[T] {
	return unaryOp("Square", a, tensor.Square(a.data), func(g *tensor.Dense[T]) *tensor.Dense[T] {
		d := tensor.MulScalar(a.data, 2)
		tensor.MulInPlace(d, g)
		return d
	})
}

// Reciprocal returns 1/a element-wise.
func Reciprocal[T tensor.Float](a *Var[T]) *Var[T] {
	out := tensor.Reciprocal(a.data)
	return unaryOp("Reciprocal", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] {
		return negated(tensor.Mul(g, tensor.Square(out)))
	})
}
