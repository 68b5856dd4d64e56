package optim

import (
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/internal/kernels"
)

// SGD is stochastic gradient descent with momentum, as torch.optim.SGD:
//
//	d = grad + wd*p
//	buf = d (first step), else buf = mom*buf + (1-dampening)*d
//	d = d + mom*buf (Nesterov), else d = buf      (when mom != 0)
//	p = p - lr*d
//
// It keeps a "momentum_buffer" per parameter when mom is not 0.
type SGD struct {
	base
}

var sgdSpecs = []hyperSpec{
	{name: "lr", def: 1e-3, hi: math.Inf(1)},
	{name: "mom", def: 0, hi: math.Inf(1)},
	{name: "dampening", def: 0, hi: 1},
	{name: "wd", def: 0, hi: math.Inf(1)},
	{name: "nesterov", def: 0, hi: 1, boolean: true},
}

// NewSGD returns SGD over groups. opts set the defaults of every group that
// does not set its own: lr 1e-3 (PyTorch has no default; pass LR), mom 0,
// dampening 0, wd 0, Nesterov off. It panics on invalid values, and when a
// group has Nesterov on with mom 0 or dampening not 0, as PyTorch does.
func NewSGD(groups []*ParamGroup, opts ...Option) *SGD {
	o := &SGD{newBase("optim.NewSGD", "SGD", sgdSpecs, []string{"momentum_buffer"}, groups, opts)}
	for _, g := range groups {
		if g.Get("nesterov") != 0 && (g.Get("mom") == 0 || g.Get("dampening") != 0) {
			panic(fastgo.Errorf("optim.NewSGD: Nesterov momentum needs mom > 0 and dampening 0"))
		}
	}
	return o
}

// Step updates every parameter that requires a gradient and has one.
func (o *SGD) Step() {
	for _, g := range o.groups {
		lr, mom, damp, wd := g.Get("lr"), g.Get("mom"), g.Get("dampening"), g.Get("wd")
		nesterov := g.Get("nesterov") != 0
		for _, p := range g.Params {
			grad, st := o.next("optim.SGD.Step", p)
			if grad == nil {
				continue
			}
			pd := p.Data().Data()
			d := grad
			if wd != 0 {
				d = o.scratchCopy(grad)
				kernels.Axpy(float32(wd), pd, d)
			}
			if mom != 0 {
				d = o.momentum(p, st, d, wd != 0, float32(mom), float32(1-damp), nesterov)
			}
			kernels.Axpy(float32(-lr), d, pd)
		}
	}
}

// momentum updates p's momentum buffer with d and returns the direction to
// step along: the buffer, or d + mom*buf for Nesterov, computed in the
// scratch buffer (d is copied there first unless inScratch says it is
// already) so that the gradient is not changed.
func (o *SGD) momentum(p *autograd.Value, st *paramState, d []float32, inScratch bool, mom, oneMinusDamp float32, nesterov bool) []float32 {
	buf, ok := st.bufs["momentum_buffer"]
	if !ok {
		b := st.buf("momentum_buffer", p)
		copy(b, d)
	} else {
		kernels.Scale(mom, buf.Data())
		kernels.Axpy(oneMinusDamp, d, buf.Data())
	}
	b := st.bufs["momentum_buffer"].Data()
	if !nesterov {
		return b
	}
	if !inScratch {
		d = o.scratchCopy(d)
	}
	kernels.Axpy(mom, b, d)
	return d
}
