package autograd

import (
	"fmt"
	"sync/atomic"

	"github.com/fastgo-ml/fastgo/tensor"
)

// Var is a node of the define-by-run graph: a tensor, its gradient, whether a
// gradient is wanted, and the operation that made it (nil for a leaf).
//
// A Var made by an op under grad mode, from at least one input that requires
// a gradient, records its op and requires a gradient itself. Otherwise it is a
// constant: no graph is kept and no backward work is done for it.
type Var[T tensor.Float] struct {
	data         *tensor.Dense[T]
	grad         *tensor.Dense[T]
	requiresGrad bool
	fn           *node[T]
	freed        bool
}

// Value is the float32 Var that models use.
type Value = Var[float32]

// node records how a Var was made.
type node[T tensor.Float] struct {
	op     string
	inputs []*Var[T]
	// backward maps the gradient of the output to one gradient per input, in
	// the order of inputs. It returns nil for an input that does not require a
	// gradient, and must not compute that gradient at all.
	backward func(g *tensor.Dense[T]) []*tensor.Dense[T]
}

// New returns a leaf Var wrapping data (no copy).
func New[T tensor.Float](data *tensor.Dense[T], requiresGrad bool) *Var[T] {
	return &Var[T]{data: data, requiresGrad: requiresGrad}
}

// Param returns a leaf that requires a gradient, as model parameters do.
func Param[T tensor.Float](data *tensor.Dense[T]) *Var[T] { return New(data, true) }

// Const returns a leaf that requires no gradient.
func Const[T tensor.Float](data *tensor.Dense[T]) *Var[T] { return New(data, false) }

// Data returns the Var's tensor.
func (v *Var[T]) Data() *tensor.Dense[T] { return v.data }

// SetData replaces the Var's tensor, as an optimizer step or weight loading
// does. The shape must stay the same.
func (v *Var[T]) SetData(d *tensor.Dense[T]) {
	if !tensor.SameShape(v.data.Shape(), d.Shape()) {
		panic(fmt.Sprintf("autograd.SetData: shape %v replaced by %v", v.data.Shape(), d.Shape()))
	}
	v.data = d
}

// Shape returns the shape of the Var's tensor.
func (v *Var[T]) Shape() []int { return v.data.Shape() }

// Grad returns the accumulated gradient of a leaf, or nil if none was computed.
func (v *Var[T]) Grad() *tensor.Dense[T] { return v.grad }

// SetGrad replaces the accumulated gradient (nil clears it).
func (v *Var[T]) SetGrad(g *tensor.Dense[T]) { v.grad = g }

// ZeroGrad clears the accumulated gradient.
func (v *Var[T]) ZeroGrad() { v.grad = nil }

// RequiresGrad reports whether a gradient flows to this Var.
func (v *Var[T]) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad sets whether a leaf wants a gradient. Freezing a parameter
// this way removes its gradient work from backward. It panics on a non-leaf.
func (v *Var[T]) SetRequiresGrad(b bool) {
	if v.fn != nil {
		panic("autograd.SetRequiresGrad: not a leaf (made by " + v.fn.op + ")")
	}
	v.requiresGrad = b
}

// IsLeaf reports whether the Var was not made by a recorded op.
func (v *Var[T]) IsLeaf() bool { return v.fn == nil }

// Op returns the name of the op that made v, or "" for a leaf.
func (v *Var[T]) Op() string {
	if v.fn == nil {
		return ""
	}
	return v.fn.op
}

// Detach returns a constant leaf sharing v's data.
func (v *Var[T]) Detach() *Var[T] { return Const(v.data) }

// gradDisabled counts nested NoGrad calls; while non-zero, ops record nothing.
var gradDisabled atomic.Int64

// NoGrad runs fn with graph recording off, as torch.no_grad does. It is
// process-wide: no other goroutine should record a graph meanwhile.
func NoGrad(fn func()) {
	gradDisabled.Add(1)
	defer gradDisabled.Add(-1)
	fn()
}

// GradEnabled reports whether ops currently record a graph.
func GradEnabled() bool { return gradDisabled.Load() == 0 }

// Record returns the Var for out, made by op from inputs. If grad mode is on
// and some input requires a gradient, the result records backward, which maps
// the output gradient to one gradient per input (nil where an input requires
// none; backward must check inputs[i].RequiresGrad() and skip that work).
// Otherwise the result is a constant and backward is dropped.
//
// Record is how every differentiable op is written, in this package and out.
func Record[T tensor.Float](op string, out *tensor.Dense[T], backward func(g *tensor.Dense[T]) []*tensor.Dense[T], inputs ...*Var[T]) *Var[T] {
	if !GradEnabled() {
		return Const(out)
	}
	need := false
	for _, in := range inputs {
		if in.requiresGrad {
			need = true
			break
		}
	}
	if !need {
		return Const(out)
	}
	return &Var[T]{data: out, requiresGrad: true, fn: &node[T]{op: op, inputs: inputs, backward: backward}}
}
