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
// never recycled.
func (s *Sequential) Forward(x *autograd.Value) *autograd.Value {
	for i, m := range s.mods {
		out := Call(m, x)
		if i > 0 {
			autograd.Consumed(x, out)
		}
		x = out
	}
	return x
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
