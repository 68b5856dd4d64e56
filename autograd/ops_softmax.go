package autograd

import (
	"github.com/fastgo-ml/fastgo/tensor"
)

// Softmax returns the softmax of a along axis (negative counts from the
// end), computed stably.
func Softmax[T tensor.Float](a *Var[T], axis int) *Var[T] {
	out := tensor.Softmax(a.data, axis)
	return unaryOp("Softmax", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] {
		return tensor.SoftmaxGrad(out, g, axis)
	})
}

// LogSoftmax returns the log of the softmax of a along axis, computed stably;
// it is what a cross-entropy loss is built on.
func LogSoftmax[T tensor.Float](a *Var[T], axis int) *Var[T] {
	out := tensor.LogSoftmax(a.data, axis)
	return unaryOp("LogSoftmax", a, out, func(g *tensor.Dense[T]) *tensor.Dense[T] {
		return tensor.LogSoftmaxGrad(out, g, axis)
	})
}
