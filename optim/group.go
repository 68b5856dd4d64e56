package optim

import (
	"sort"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
)

// aliases maps PyTorch's hyper-parameter names to fastai's.
var aliases = map[string]string{
	"momentum":     "mom",
	"beta1":        "mom",
	"beta2":        "sqr_mom",
	"alpha":        "sqr_mom",
	"weight_decay": "wd",
}

// canonical returns the fastai name for a hyper-parameter name or alias.
func canonical(name string) string {
	if c, ok := aliases[name]; ok {
		return c
	}
	return name
}

// ParamGroup is a set of parameters that share hyper-parameters.
type ParamGroup struct {
	// Params are the group's parameters, updated in place by Step.
	Params []*autograd.Value
	hyper  map[string]float64
}

// NewGroup returns a group of params whose hyper-parameters opts set; the
// optimizer the group is given to fills in the others from its defaults, so
// a group belongs to one optimizer.
func NewGroup(params []*autograd.Value, opts ...Option) *ParamGroup {
	g := &ParamGroup{Params: params, hyper: map[string]float64{}}
	for _, o := range opts {
		o(g.hyper)
	}
	return g
}

// Params returns a single group holding params, for an optimizer whose
// parameters all share its hyper-parameters.
func Params(params ...*autograd.Value) []*ParamGroup {
	return []*ParamGroup{NewGroup(params)}
}

// Get returns the named hyper-parameter (or alias). It panics if the group
// has none of that name.
func (g *ParamGroup) Get(name string) float64 {
	v, ok := g.hyper[canonical(name)]
	if !ok {
		panic(fastgo.Errorf("optim: param group has no hyper-parameter %q (has %v)", name, g.Names()))
	}
	return v
}

// Lookup returns the named hyper-parameter (or alias) and whether the group
// has it.
func (g *ParamGroup) Lookup(name string) (float64, bool) {
	v, ok := g.hyper[canonical(name)]
	return v, ok
}

// Set sets the named hyper-parameter (or alias). Step uses the new value
// from its next call on.
func (g *ParamGroup) Set(name string, v float64) {
	if g.hyper == nil {
		g.hyper = map[string]float64{}
	}
	g.hyper[canonical(name)] = v
}

// Names returns the names of the group's hyper-parameters, sorted.
func (g *ParamGroup) Names() []string {
	names := make([]string, 0, len(g.hyper))
	for k := range g.hyper {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Hyper returns a copy of the group's hyper-parameters.
func (g *ParamGroup) Hyper() map[string]float64 {
	m := make(map[string]float64, len(g.hyper))
	for k, v := range g.hyper {
		m[k] = v
	}
	return m
}

// Option sets hyper-parameters, as an optimizer's default or a group's own.
type Option func(hyper map[string]float64)

// LR sets the learning rate, "lr".
func LR(v float64) Option { return Hyper("lr", v) }

// Momentum sets "mom": SGD's and RMSProp's momentum, Adam's beta1.
func Momentum(v float64) Option { return Hyper("mom", v) }

// SqrMom sets "sqr_mom": Adam's beta2, RMSProp's alpha.
func SqrMom(v float64) Option { return Hyper("sqr_mom", v) }

// Betas sets Adam's beta1 ("mom") and beta2 ("sqr_mom").
func Betas(beta1, beta2 float64) Option {
	return func(h map[string]float64) {
		h["mom"] = beta1
		h["sqr_mom"] = beta2
	}
}

// Eps sets "eps", the term added to Adam's and RMSProp's denominators.
func Eps(v float64) Option { return Hyper("eps", v) }

// WeightDecay sets "wd", the weight decay: L2 for SGD, Adam and RMSProp,
// decoupled for AdamW and FastaiAdam.
func WeightDecay(v float64) Option { return Hyper("wd", v) }

// Dampening sets SGD's "dampening" of the momentum.
func Dampening(v float64) Option { return Hyper("dampening", v) }

// Nesterov turns SGD's Nesterov momentum on ("nesterov" 1; off by
// default).
func Nesterov() Option { return Hyper("nesterov", 1) }

// Centered turns RMSProp's centered variant on ("centered" 1; off by
// default).
func Centered() Option { return Hyper("centered", 1) }

// Hyper sets the named hyper-parameter (or alias) to v.
func Hyper(name string, v float64) Option {
	return func(h map[string]float64) { h[canonical(name)] = v }
}

// NamedParam is a parameter with its dotted PyTorch-style name, such as
// "layer1.0.bn1.weight".
type NamedParam struct {
	// Name is the dotted path, such as "bn1.weight".
	Name string
	// Param is the parameter.
	Param *autograd.Value
}

// SplitNoDecay splits params into two groups: group 0 holds the parameters
// for which noDecay is false and takes the optimizer's weight decay; group 1
// holds the others and has "wd" set to 0, as fastai does for biases and norm
// layers. Either group may be empty. A nil noDecay means BiasOrNorm.
//
// params may be a []NamedParam or a slice of any struct type with the same
// fields, such as layers.NamedParameters returns.
func SplitNoDecay[P ~struct {
	Name  string
	Param *autograd.Value
}](params []P, noDecay func(name string, p *autograd.Value) bool) []*ParamGroup {
	if noDecay == nil {
		noDecay = BiasOrNorm
	}
	decay, no := NewGroup(nil), NewGroup(nil, WeightDecay(0))
	for _, x := range params {
		np := NamedParam(x)
		if noDecay(np.Name, np.Param) {
			no.Params = append(no.Params, np.Param)
		} else {
			decay.Params = append(decay.Params, np.Param)
		}
	}
	return []*ParamGroup{decay, no}
}

// BiasOrNorm reports whether p has at most one dimension, as biases and the
// weights and biases of norm layers do: fastai's rule for the parameters
// that get no weight decay.
func BiasOrNorm(name string, p *autograd.Value) bool {
	return len(p.Data().Shape()) <= 1
}
