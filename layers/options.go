package layers

import (
	"strings"

	"github.com/fastgo-ml/fastgo"
)

// Option configures a layer's constructor (NewLinear, NewConv2d), the
// loading of a state dict (LoadStateDict, LoadFile) or FreezeGroups; each
// option's documentation says where it applies. Passing an option where it
// does not apply panics with a fastgo.Error naming it.
type Option struct {
	name  string
	scope scope
	apply func(*settings)
}

type scope uint8

const (
	inLinear scope = 1 << iota
	inConv
	inLoad
	inFreeze
)

// settings collects what the options of one call set.
type settings struct {
	noBias                            bool
	stride, padding, dilation, groups int
	nonStrict                         bool
	freezeNorm                        bool
}

func resolve(call string, where scope, opts []Option) settings {
	s := settings{stride: 1, dilation: 1, groups: 1}
	for _, o := range opts {
		if o.apply == nil {
			continue
		}
		if o.scope&where == 0 {
			panic(fastgo.Errorf("layers.%s: %s is not one of its options (it applies to %s)", call, o.name, o.scope))
		}
		o.apply(&s)
	}
	return s
}

func (s scope) String() string {
	var out []string
	for _, n := range []struct {
		s    scope
		name string
	}{{inLinear, "NewLinear"}, {inConv, "NewConv2d"}, {inLoad, "LoadStateDict and LoadFile"}, {inFreeze, "FreezeGroups"}} {
		if s&n.s != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, ", ")
}

// NoBias leaves out the layer's bias (PyTorch's bias=False): an option of
// NewLinear and NewConv2d.
func NoBias() Option {
	return Option{"NoBias", inLinear | inConv, func(s *settings) { s.noBias = true }}
}

// Stride sets a convolution's stride, both spatial dimensions (default 1).
func Stride(n int) Option { return Option{"Stride", inConv, func(s *settings) { s.stride = n }} }

// Padding sets a convolution's zero padding, both spatial dimensions
// (default 0).
func Padding(n int) Option { return Option{"Padding", inConv, func(s *settings) { s.padding = n }} }

// Dilation sets a convolution's dilation, both spatial dimensions (default
// 1).
func Dilation(n int) Option { return Option{"Dilation", inConv, func(s *settings) { s.dilation = n }} }

// Groups sets a convolution's number of groups (default 1).
func Groups(n int) Option { return Option{"Groups", inConv, func(s *settings) { s.groups = n }} }

// NonStrict lets LoadStateDict and LoadFile skip names the module and the
// state dict do not share (PyTorch's strict=False), reporting them in the
// LoadReport; by default a missing or unexpected name is an error. A shape
// mismatch is an error either way.
func NonStrict() Option {
	return Option{"NonStrict", inLoad, func(s *settings) { s.nonStrict = true }}
}

// FreezeNorm makes FreezeGroups freeze the norm layers of a frozen group
// too (fastai's train_bn=False); by default they keep training.
func FreezeNorm() Option {
	return Option{"FreezeNorm", inFreeze, func(s *settings) { s.freezeNorm = true }}
}
