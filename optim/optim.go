package optim

import (
	"fmt"
	"math"
	"sort"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Optimizer updates parameters from their gradients. SGD, Adam and RMSProp
// implement it.
type Optimizer interface {
	// Step updates every parameter that requires a gradient and has one.
	Step()
	// ZeroGrad clears the gradient of every parameter.
	ZeroGrad()
	// ParamGroups returns the optimizer's groups (not copies), whose
	// hyper-parameters schedules set.
	ParamGroups() []*ParamGroup
	// StateDict returns a deep copy of the optimizer's state.
	StateDict() *State
	// LoadStateDict replaces the optimizer's state with a copy of s, which
	// must come from an optimizer of the same kind over groups of the same
	// sizes and parameter shapes. On error the optimizer is unchanged.
	LoadStateDict(s *State) error
}

// The optimizers of this package.
var (
	_ Optimizer = (*SGD)(nil)
	_ Optimizer = (*Adam)(nil)
	_ Optimizer = (*RMSProp)(nil)
)

// State is a snapshot of an optimizer: its kind, and per group its
// hyper-parameters and per parameter (in group order) its step count and
// buffers.
type State struct {
	// Kind is the optimizer's name: "SGD", "Adam", "AdamW" or "RMSProp".
	Kind string
	// Groups holds each param group's state, in the optimizer's order.
	Groups []GroupState
}

// GroupState is the saved state of one parameter group.
type GroupState struct {
	// Hyper holds the group's hyper-parameters by fastai name.
	Hyper map[string]float64
	// Params holds each parameter's state, in the group's order.
	Params []ParamState
}

// ParamState is the saved state of one parameter.
type ParamState struct {
	// Step counts the steps that updated the parameter.
	Step int64
	// Buffers holds the optimizer's tensors for the parameter, by PyTorch's
	// names (momentum_buffer, exp_avg, exp_avg_sq, square_avg, grad_avg).
	// It is empty before the parameter's first step.
	Buffers map[string]*tensor.Tensor
}

// paramState is an optimizer's live state for one parameter.
type paramState struct {
	step int64
	bufs map[string]*tensor.Tensor
}

// buf returns the named buffer, made of zeros shaped like p if absent.
func (s *paramState) buf(name string, p *autograd.Value) []float32 {
	b, ok := s.bufs[name]
	if !ok {
		b = tensor.Zeros(p.Data().Shape()...)
		s.bufs[name] = b
	}
	return b.Data()
}

// base holds what every optimizer shares: groups, per-parameter state and a
// scratch buffer.
type base struct {
	kind    string
	groups  []*ParamGroup
	state   map[*autograd.Value]*paramState
	buffers map[string]bool // the buffer names this kind keeps
	scratch []float32
}

// hyperSpec is a hyper-parameter an optimizer uses, its default and the
// range of valid values.
type hyperSpec struct {
	name    string
	def     float64
	lo, hi  float64 // valid range
	hiOpen  bool    // hi itself is invalid
	boolean bool    // 0 or 1 only
}

// newBase validates groups and options against specs and returns the base
// of an optimizer called op (for panic messages).
func newBase(op, kind string, specs []hyperSpec, buffers []string, groups []*ParamGroup, opts []Option) base {
	defaults := map[string]float64{}
	for _, s := range specs {
		defaults[s.name] = s.def
	}
	for _, o := range opts {
		o(defaults)
	}
	known := map[string]hyperSpec{}
	for _, s := range specs {
		known[s.name] = s
	}
	seen := map[*autograd.Value]bool{}
	for gi, g := range groups {
		if g == nil {
			panic(fastgo.Errorf("%s: param group %d is nil", op, gi))
		}
		if g.hyper == nil {
			g.hyper = map[string]float64{}
		}
		for name, v := range defaults {
			if _, ok := g.hyper[name]; !ok {
				g.hyper[name] = v
			}
		}
		for name, v := range g.hyper {
			s, ok := known[name]
			if !ok {
				panic(fastgo.Errorf("%s: hyper-parameter %q does not apply (it uses %v)", op, name, sortedNames(known)))
			}
			if math.IsNaN(v) || v < s.lo || v > s.hi || (s.hiOpen && v == s.hi) || (s.boolean && v != 0 && v != 1) {
				panic(fastgo.Errorf("%s: invalid %s %v in param group %d", op, name, v, gi))
			}
		}
		for pi, p := range g.Params {
			if p == nil {
				panic(fastgo.Errorf("%s: param %d of group %d is nil", op, pi, gi))
			}
			if seen[p] {
				panic(fastgo.Errorf("%s: param %d of group %d appears more than once", op, pi, gi))
			}
			seen[p] = true
		}
	}
	bufs := map[string]bool{}
	for _, b := range buffers {
		bufs[b] = true
	}
	return base{kind: kind, groups: groups, state: map[*autograd.Value]*paramState{}, buffers: bufs}
}

func sortedNames(m map[string]hyperSpec) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// ParamGroups returns the optimizer's groups (not copies).
func (b *base) ParamGroups() []*ParamGroup { return b.groups }

// ZeroGrad clears the gradient of every parameter.
func (b *base) ZeroGrad() {
	for _, g := range b.groups {
		for _, p := range g.Params {
			p.ZeroGrad()
		}
	}
}

// next returns p's gradient data and state, advancing its step count, or
// nil if Step must skip p.
func (b *base) next(op string, p *autograd.Value) ([]float32, *paramState) {
	grad := p.Grad()
	if !p.RequiresGrad() || grad == nil {
		return nil, nil
	}
	if !tensor.SameShape(grad.Shape(), p.Data().Shape()) {
		panic(fastgo.Errorf("%s: gradient of shape %v for a parameter of shape %v", op, grad.Shape(), p.Data().Shape()))
	}
	s := b.state[p]
	if s == nil {
		s = &paramState{bufs: map[string]*tensor.Tensor{}}
		b.state[p] = s
	}
	s.step++
	return grad.Data(), s
}

// scratchCopy returns the optimizer's scratch buffer holding a copy of src.
func (b *base) scratchCopy(src []float32) []float32 {
	if cap(b.scratch) < len(src) {
		b.scratch = make([]float32, len(src))
	}
	s := b.scratch[:len(src)]
	copy(s, src)
	return s
}

// StateDict returns a deep copy of the optimizer's state.
func (b *base) StateDict() *State {
	s := &State{Kind: b.kind, Groups: make([]GroupState, len(b.groups))}
	for gi, g := range b.groups {
		gs := GroupState{Hyper: g.Hyper(), Params: make([]ParamState, len(g.Params))}
		for pi, p := range g.Params {
			ps := ParamState{Buffers: map[string]*tensor.Tensor{}}
			if st := b.state[p]; st != nil {
				ps.Step = st.step
				for name, t := range st.bufs {
					ps.Buffers[name] = t.Clone()
				}
			}
			gs.Params[pi] = ps
		}
		s.Groups[gi] = gs
	}
	return s
}

// LoadStateDict replaces the optimizer's hyper-parameters, step counts and
// buffers with copies of s's. s must come from an optimizer of the same kind
// over groups of the same sizes and parameter shapes; otherwise it returns
// an error and leaves the optimizer unchanged.
func (b *base) LoadStateDict(s *State) error {
	if s == nil {
		return fmt.Errorf("optim: loading %s state: nil state", b.kind)
	}
	if s.Kind != b.kind {
		return fmt.Errorf("optim: loading %s state into a %s optimizer", s.Kind, b.kind)
	}
	if len(s.Groups) != len(b.groups) {
		return fmt.Errorf("optim: loading %s state: %d param groups, the optimizer has %d", b.kind, len(s.Groups), len(b.groups))
	}
	for gi, gs := range s.Groups {
		g := b.groups[gi]
		if len(gs.Params) != len(g.Params) {
			return fmt.Errorf("optim: loading %s state: group %d has %d params, the optimizer's has %d", b.kind, gi, len(gs.Params), len(g.Params))
		}
		for name, v := range gs.Hyper {
			if math.IsNaN(v) {
				return fmt.Errorf("optim: loading %s state: group %d: %s is NaN", b.kind, gi, name)
			}
		}
		for pi, ps := range gs.Params {
			shape := g.Params[pi].Data().Shape()
			if ps.Step < 0 {
				return fmt.Errorf("optim: loading %s state: group %d param %d: negative step %d", b.kind, gi, pi, ps.Step)
			}
			for name, t := range ps.Buffers {
				if !b.buffers[name] {
					return fmt.Errorf("optim: loading %s state: group %d param %d: unknown buffer %q", b.kind, gi, pi, name)
				}
				if t == nil || !tensor.SameShape(t.Shape(), shape) {
					return fmt.Errorf("optim: loading %s state: group %d param %d: buffer %s does not have the parameter's shape %v", b.kind, gi, pi, name, shape)
				}
			}
		}
	}
	state := map[*autograd.Value]*paramState{}
	for gi, gs := range s.Groups {
		g := b.groups[gi]
		for name, v := range gs.Hyper {
			g.hyper[canonical(name)] = v
		}
		for pi, ps := range gs.Params {
			if ps.Step == 0 && len(ps.Buffers) == 0 {
				continue
			}
			st := &paramState{step: ps.Step, bufs: map[string]*tensor.Tensor{}}
			for name, t := range ps.Buffers {
				st.bufs[name] = t.Clone()
			}
			state[g.Params[pi]] = st
		}
	}
	b.state = state
	return nil
}
