package optim

import (
	"math"

	"github.com/fastgo-ml/fastgo/internal/kernels"
)

// RMSProp is the RMSProp optimizer, as torch.optim.RMSprop. With
// alpha = sqr_mom:
//
//	g = grad + wd*p
//	sq = alpha*sq + (1-alpha)*g*g
//	ga = alpha*ga + (1-alpha)*g            (centered)
//	avg = sqrt(sq - ga*ga) + eps           (centered), else sqrt(sq) + eps
//	buf = mom*buf + g/avg; p = p - lr*buf  (mom > 0)
//	p = p - lr*g/avg                       (mom = 0)
//
// It keeps "square_avg" per parameter, "grad_avg" when centered and
// "momentum_buffer" when mom > 0.
type RMSProp struct {
	base
}

var rmspropSpecs = []hyperSpec{
	{name: "lr", def: 1e-2, hi: math.Inf(1)},
	{name: "sqr_mom", def: 0.99, hi: math.Inf(1)},
	{name: "eps", def: 1e-8, hi: math.Inf(1)},
	{name: "wd", def: 0, hi: math.Inf(1)},
	{name: "mom", def: 0, hi: math.Inf(1)},
	{name: "centered", def: 0, hi: 1, boolean: true},
}

// NewRMSProp returns RMSProp over groups. Defaults are PyTorch's: lr 1e-2,
// alpha (sqr_mom) 0.99, eps 1e-8, wd 0, mom 0, not centered.
func NewRMSProp(groups []*ParamGroup, opts ...Option) *RMSProp {
	return &RMSProp{newBase("optim.NewRMSProp", "RMSProp", rmspropSpecs, []string{"square_avg", "grad_avg", "momentum_buffer"}, groups, opts)}
}

// Step updates every parameter that requires a gradient and has one.
func (o *RMSProp) Step() {
	for _, g := range o.groups {
		lr, alpha, eps, wd, mom := g.Get("lr"), g.Get("sqr_mom"), g.Get("eps"), g.Get("wd"), g.Get("mom")
		centered := g.Get("centered") != 0
		a, oneMinusA, e, m, negLR := float32(alpha), float32(1-alpha), float32(eps), float32(mom), float32(-lr)
		for _, p := range g.Params {
			grad, st := o.next("optim.RMSProp.Step", p)
			if grad == nil {
				continue
			}
			pd := p.Data().Data()
			if wd != 0 {
				grad = o.scratchCopy(grad)
				kernels.Axpy(float32(wd), pd, grad)
			}
			sq := st.buf("square_avg", p)
			var ga, buf []float32
			if centered {
				ga = st.buf("grad_avg", p)
			}
			if mom > 0 {
				buf = st.buf("momentum_buffer", p)
			}
			// Each operation rounds to float32 in PyTorch's order.
			for i, gi := range grad {
				s := sq[i] * a
				s = s + oneMinusA*gi*gi
				sq[i] = s
				var avg float32
				if centered {
					c := ga[i] * a
					c = c + oneMinusA*gi
					ga[i] = c
					avg = sqrt32(s - c*c)
				} else {
					avg = sqrt32(s)
				}
				avg += e
				if buf != nil {
					b := buf[i] * m
					b = b + gi/avg
					buf[i] = b
					pd[i] = pd[i] + negLR*b
				} else {
					pd[i] = pd[i] + negLR*gi/avg
				}
			}
		}
	}
}

// sqrt32 is a float32 square root, correctly rounded.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
