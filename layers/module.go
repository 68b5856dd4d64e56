package layers

import (
	"strings"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Module is a layer or a model: a forward function over float32 Values, with
// its parameters, buffers and sub-modules held by an embedded Base.
//
// A type becomes a Module by embedding Base (by value), registering what it
// owns in its constructor, and defining Forward:
//
//	type Block struct {
//		layers.Base
//		fc *layers.Linear
//	}
//
//	func NewBlock() *Block {
//		b := &Block{}
//		b.fc = layers.Register(&b.Base, "fc", layers.NewLinear(4, 4, rng))
//		return b
//	}
//
//	func (b *Block) Forward(x *autograd.Value) *autograd.Value { return b.fc.Forward(x) }
type Module interface {
	// Forward computes the module's output for x.
	Forward(x *autograd.Value) *autograd.Value
	// Core returns the module's Base: its registered parameters, buffers,
	// children and mode.
	Core() *Base
}

// Base holds what a Module owns, in registration order, which is the order of
// PyTorch's named_parameters and state_dict when modules register in the
// order PyTorch's __init__ assigns them. The zero value is a module in
// training mode with nothing registered.
type Base struct {
	params   []namedParam
	buffers  []namedBuffer
	ints     []namedInt
	children []namedModule
	eval     bool
	hook     func(m Module, in, out *autograd.Value)
}

type namedParam struct {
	name string
	p    *autograd.Value
}

type namedBuffer struct {
	name string
	t    *tensor.Tensor
}

type namedInt struct {
	name string
	v    *int64
}

type namedModule struct {
	name string
	m    Module
}

// Core returns b itself, so that embedding Base satisfies Module's Core.
func (b *Base) Core() *Base { return b }

// Training reports whether the module is in training mode (the default).
func (b *Base) Training() bool { return !b.eval }

// checkName panics on an empty, dotted or duplicate name.
func (b *Base) checkName(kind, name string) {
	if name == "" || strings.Contains(name, ".") {
		panic(fastgo.Errorf("layers: %s name %q must be non-empty and contain no dot", kind, name))
	}
	for _, p := range b.params {
		if p.name == name {
			panic(fastgo.Errorf("layers: %s name %q is already a parameter", kind, name))
		}
	}
	for _, t := range b.buffers {
		if t.name == name {
			panic(fastgo.Errorf("layers: %s name %q is already a buffer", kind, name))
		}
	}
	for _, t := range b.ints {
		if t.name == name {
			panic(fastgo.Errorf("layers: %s name %q is already a buffer", kind, name))
		}
	}
	for _, c := range b.children {
		if c.name == name {
			panic(fastgo.Errorf("layers: %s name %q is already a sub-module", kind, name))
		}
	}
}

// AddParam registers a parameter under name and returns it.
func (b *Base) AddParam(name string, p *autograd.Value) *autograd.Value {
	b.checkName("parameter", name)
	b.params = append(b.params, namedParam{name, p})
	return p
}

// AddBuffer registers a float32 buffer (state that is saved but not trained,
// such as BatchNorm's running mean) under name and returns it.
func (b *Base) AddBuffer(name string, t *tensor.Tensor) *tensor.Tensor {
	b.checkName("buffer", name)
	b.buffers = append(b.buffers, namedBuffer{name, t})
	return t
}

// AddIntBuffer registers an integer scalar buffer (BatchNorm's
// num_batches_tracked, saved as I64) under name.
func (b *Base) AddIntBuffer(name string, v *int64) {
	b.checkName("buffer", name)
	b.ints = append(b.ints, namedInt{name, v})
}

// AddModule registers a sub-module under name.
func (b *Base) AddModule(name string, m Module) {
	b.checkName("sub-module", name)
	b.children = append(b.children, namedModule{name, m})
}

// Register registers m as a sub-module of b under name and returns m, typed.
func Register[M Module](b *Base, name string, m M) M {
	b.AddModule(name, m)
	return m
}

// NamedParam is a parameter with its dotted PyTorch-style name.
type NamedParam struct {
	// Name is the dotted path, as in PyTorch's named_parameters.
	Name string
	// Param is the parameter itself (not a copy).
	Param *autograd.Value
}

// NamedModule is a module with its dotted name ("" for the root).
type NamedModule struct {
	// Name is the dotted path from the root, "" for the root itself.
	Name string
	// Module is the module itself.
	Module Module
}

// Children returns m's direct sub-modules in registration order.
func Children(m Module) []NamedModule {
	var out []NamedModule
	for _, c := range m.Core().children {
		out = append(out, NamedModule{c.name, c.m})
	}
	return out
}

// Modules returns m and all its descendants, pre-order, as PyTorch's
// named_modules does.
func Modules(m Module) []NamedModule {
	var out []NamedModule
	var walk func(prefix string, m Module)
	walk = func(prefix string, m Module) {
		out = append(out, NamedModule{prefix, m})
		for _, c := range m.Core().children {
			walk(join(prefix, c.name), c.m)
		}
	}
	walk("", m)
	return out
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// NamedParameters returns every parameter of m with its dotted name, in
// PyTorch's order (each module's own parameters, then its children's).
func NamedParameters(m Module) []NamedParam {
	var out []NamedParam
	for _, nm := range Modules(m) {
		for _, p := range nm.Module.Core().params {
			out = append(out, NamedParam{join(nm.Name, p.name), p.p})
		}
	}
	return out
}

// Parameters returns the parameters of m in NamedParameters' order.
func Parameters(m Module) []*autograd.Value {
	nps := NamedParameters(m)
	out := make([]*autograd.Value, len(nps))
	for i, np := range nps {
		out[i] = np.Param
	}
	return out
}

// NumParams returns the number of scalar parameters of m.
func NumParams(m Module) int {
	n := 0
	for _, p := range Parameters(m) {
		n += p.Data().Len()
	}
	return n
}

// SetTraining puts m and all its descendants in training (true) or
// evaluation (false) mode, as PyTorch's train() and eval() do.
func SetTraining(m Module, training bool) {
	for _, nm := range Modules(m) {
		nm.Module.Core().eval = !training
	}
}

// Train puts m in training mode.
func Train(m Module) { SetTraining(m, true) }

// Eval puts m in evaluation mode.
func Eval(m Module) { SetTraining(m, false) }

// SetRequiresGrad freezes (false) or unfreezes (true) every parameter of m.
func SetRequiresGrad(m Module, requires bool) {
	for _, p := range Parameters(m) {
		p.SetRequiresGrad(requires)
	}
}

// ZeroGrad clears the gradients of every parameter of m.
func ZeroGrad(m Module) {
	for _, p := range Parameters(m) {
		p.ZeroGrad()
	}
}
