package layers

import (
	"strconv"

	"github.com/fastgo-ml/fastgo/autograd"
)

// Sequential is torch.nn.Sequential: it applies its children in order; they
// are named "0", "1", ... as in PyTorch.
type Sequential struct {
	Base
	mods []Module
}

// NewSequential returns a Sequential of mods.
func NewSequential(mods ...Module) *Sequential {
	s := &Sequential{}
	for _, m := range mods {
		s.Append(m)
	}
	return s
}

// Append adds m as the next child.
func (s *Sequential) Append(m Module) {
	s.AddModule(strconv.Itoa(len(s.mods)), m)
	s.mods = append(s.mods, m)
}

// Len returns the number of children.
func (s *Sequential) Len() int { return len(s.mods) }

// At returns child i.
func (s *Sequential) At(i int) Module { return s.mods[i] }

// Forward applies the children in order. The outputs of all children but
// the last are intermediate values that nothing else reads, so they are
// marked consumed (autograd.Consumed): their buffers are recycled after the
// backward pass, or at once under NoGrad. The caller's x and the result are
// never recycled. A Conv2d followed by a BatchNorm (and a ReLU without a
// hook) runs through CallConvBN, which folds them in eval mode when nothing
// needs their parameters' gradients.
func (s *Sequential) Forward(x *autograd.Value) *autograd.Value {
	for i := 0; i < len(s.mods); {
		out, n := s.convBN(i, x)
		if out == nil {
			out, n = Call(s.mods[i], x), 1
		}
		if i > 0 {
			autograd.Consumed(x, out)
		}
		x = out
		i += n
	}
	return x
}

// convBN runs children i, i+1 (and i+2) through CallConvBN when they are a
// foldable Conv2d, BatchNorm (and ReLU), returning the output and the number
// of children it covers, or nil.
func (s *Sequential) convBN(i int, x *autograd.Value) (*autograd.Value, int) {
	if i+1 >= len(s.mods) {
		return nil, 0
	}
	conv, ok1 := s.mods[i].(*Conv2d)
	bn, ok2 := s.mods[i+1].(*BatchNorm)
	if !ok1 || !ok2 || !foldable(conv, bn) {
		return nil, 0
	}
	if i+2 < len(s.mods) {
		if r, ok := s.mods[i+2].(*ReLU); ok && r.Core().hook == nil {
			return CallConvBNReLU(conv, bn, x), 3
		}
	}
	return CallConvBN(conv, bn, x), 2
}

// Call runs m.Forward(x) and then the hook installed on m, if any (Summary
// uses hooks). Containers and models call their children through Call.
func Call(m Module, x *autograd.Value) *autograd.Value {
	out := m.Forward(x)
	if h := m.Core().hook; h != nil {
		h(m, x, out)
	}
	return out
}
