package autograd

import (
	"sync/atomic"

	"github.com/fastgo-ml/fastgo"
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
	made         bool // made by an op (Record), with or without a graph
	transient    bool // see Transient
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

// Param returns a leaf Var wrapping data (no copy) that requires a
// gradient, as model parameters and attacked inputs do.
func Param[T tensor.Float](data *tensor.Dense[T]) *Var[T] {
	return &Var[T]{data: data, requiresGrad: true}
}

// Const returns a leaf Var wrapping data (no copy) that requires no
// gradient.
func Const[T tensor.Float](data *tensor.Dense[T]) *Var[T] { return &Var[T]{data: data} }

// Data returns the Var's tensor.
func (v *Var[T]) Data() *tensor.Dense[T] { return v.data }

// SetData replaces the Var's tensor, as an optimizer step or weight loading
// does. The shape must stay the same.
func (v *Var[T]) SetData(d *tensor.Dense[T]) {
	if !tensor.SameShape(v.data.Shape(), d.Shape()) {
		panic(fastgo.Errorf("autograd.SetData: shape %v replaced by %v", v.data.Shape(), d.Shape()))
	}
	v.data = d
}

// Shape returns the shape of the Var's tensor.
func (v *Var[T]) Shape() []int { return v.data.Shape() }

// Grad returns the accumulated gradient of a leaf, or nil if none was computed.
func (v *Var[T]) Grad() *tensor.Dense[T] { return v.grad }

// SetGrad replaces the accumulated gradient (nil clears it).
func (v *Var[T]) SetGrad(g *tensor.Dense[T]) { v.grad = g }

// ZeroGrad clears the accumulated gradient, recycling its buffer when the
// backward pass made it from the tensor pool (see tensor.Empty): a gradient
// obtained from Grad must not be used after ZeroGrad, as in PyTorch, where
// zero_grad overwrites it.
func (v *Var[T]) ZeroGrad() {
	v.grad.Release()
	v.grad = nil
}

// RequiresGrad reports whether a gradient flows to this Var.
func (v *Var[T]) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad sets whether a leaf wants a gradient. Freezing a parameter
// this way removes its gradient work from backward. It panics on a non-leaf.
func (v *Var[T]) SetRequiresGrad(b bool) {
	if v.fn != nil {
		panic(fastgo.Errorf("autograd.SetRequiresGrad: not a leaf (made by "+"%s"+")", v.fn.op))
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

// Transient marks v as an intermediate value that no caller will read once
// the graph through it has been back-propagated: the backward pass then
// gives v's buffer back to the tensor pool (when v's tensor came from
// tensor.Empty, as the outputs of the hot ops do), and v must not be used
// afterwards. A model marks the values inside its Forward this way (the
// layers of a Sequential but the last, the inside of a residual block);
// what a model returns is never transient. Under NoGrad, Release recycles a
// transient value at once, for the caller that has consumed it. Transient
// returns v.
func Transient[T tensor.Float](v *Var[T]) *Var[T] {
	if v != nil && v.made {
		v.transient = true
	}
	return v
}

// IsTransient reports whether v was marked by Transient.
func (v *Var[T]) IsTransient() bool { return v.transient }

// ReleaseTransient recycles the buffer of a transient constant (a value made
// under NoGrad and marked by Transient) that its consumer has finished with,
// unless keep (the consumer's result, which may be a view of v, or v
// itself) shares its memory. It does nothing for any other Var.
func ReleaseTransient[T tensor.Float](v, keep *Var[T]) {
	if v == nil || !v.transient || v.fn != nil || v.requiresGrad || v == keep {
		return
	}
	if keep != nil && tensor.SharesMemory(v.data, keep.data) {
		return
	}
	v.data.Release()
}

// Consumed records that in, a value made by an op inside a model's Forward,
// has been consumed by the op or module that made out from it and is read by
// nothing else: in becomes Transient, and under NoGrad its buffer is
// recycled at once unless out is in or a view of it. It returns out, so a
// Forward reads as a chain:
//
//	h := layers.Call(b.conv1, x)            // x is the caller's: never marked
//	h = autograd.Consumed(h, layers.Call(b.bn1, h))
//	h = autograd.Consumed(h, autograd.ReLU(h))
func Consumed[T tensor.Float](in, out *Var[T]) *Var[T] {
	if in == nil || in == out || !in.made {
		return out
	}
	in.transient = true
	if !GradEnabled() {
		ReleaseTransient(in, out)
	}
	return out
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
		return &Var[T]{data: out, made: true}
	}
	need := false
	for _, in := range inputs {
		if in.requiresGrad {
			need = true
			break
		}
	}
	if !need {
		return &Var[T]{data: out, made: true}
	}
	return &Var[T]{data: out, requiresGrad: true, made: true, fn: &node[T]{op: op, inputs: inputs, backward: backward}}
}
