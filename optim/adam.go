package optim

import (
	"math"

	"github.com/fastgo-ml/fastgo/internal/kernels"
)

// Adam is the Adam optimizer, as torch.optim.Adam (L2 weight decay, made by
// NewAdam) or torch.optim.AdamW (decoupled weight decay, made by NewAdamW
// and FastaiAdam). With beta1 = mom, beta2 = sqr_mom and t the parameter's
// step count:
//
//	p = p * (1 - lr*wd)                    (AdamW)
//	g = grad + wd*p                        (Adam)
//	m = beta1*m + (1-beta1)*g
//	v = beta2*v + (1-beta2)*g*g
//	p = p - lr/(1-beta1^t) * m / (sqrt(v)/sqrt(1-beta2^t) + eps)
//
// It keeps "exp_avg" (m) and "exp_avg_sq" (v) per parameter.
type Adam struct {
	base
	decoupled bool
}

// adamSpecs returns Adam's hyper-parameters with wd defaulting to wd.
func adamSpecs(wd float64) []hyperSpec {
	return []hyperSpec{
		{name: "lr", def: 1e-3, hi: math.Inf(1)},
		{name: "mom", def: 0.9, hi: 1, hiOpen: true},
		{name: "sqr_mom", def: 0.999, hi: 1, hiOpen: true},
		{name: "eps", def: 1e-8, hi: math.Inf(1)},
		{name: "wd", def: wd, hi: math.Inf(1)},
	}
}

var adamBuffers = []string{"exp_avg", "exp_avg_sq"}

// NewAdam returns Adam with L2 weight decay (added to the gradient), as
// torch.optim.Adam. Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 0.
func NewAdam(groups []*ParamGroup, opts ...Option) *Adam {
	return &Adam{base: newBase("optim.NewAdam", "Adam", adamSpecs(0), adamBuffers, groups, opts)}
}

// NewAdamW returns Adam with decoupled weight decay, as torch.optim.AdamW.
// Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 0.01.
func NewAdamW(groups []*ParamGroup, opts ...Option) *Adam {
	return &Adam{base: newBase("optim.NewAdamW", "AdamW", adamSpecs(0.01), adamBuffers, groups, opts), decoupled: true}
}

// FastaiAdam returns AdamW with fastai's defaults: lr 1e-3, betas
// (0.9, 0.99), eps 1e-5 and decoupled ("true") weight decay 0.01. opts
// override them. Pair it with SplitNoDecay to spare biases and norm layers
// the weight decay, as fastai does.
func FastaiAdam(groups []*ParamGroup, opts ...Option) *Adam {
	defaults := []Option{Betas(0.9, 0.99), Eps(1e-5), WeightDecay(0.01)}
	return &Adam{base: newBase("optim.FastaiAdam", "AdamW", adamSpecs(0.01), adamBuffers, groups, append(defaults, opts...)), decoupled: true}
}

// Decoupled reports whether the weight decay is decoupled (AdamW).
func (o *Adam) Decoupled() bool { return o.decoupled }

// Step updates every parameter that requires a gradient and has one.
func (o *Adam) Step() {
	for _, g := range o.groups {
		lr, beta1, beta2, eps, wd := g.Get("lr"), g.Get("mom"), g.Get("sqr_mom"), g.Get("eps"), g.Get("wd")
		for _, p := range g.Params {
			grad, st := o.next("optim.Adam.Step", p)
			if grad == nil {
				continue
			}
			pd := p.Data().Data()
			if wd != 0 {
				if o.decoupled {
					kernels.Scale(float32(1-lr*wd), pd)
				} else {
					grad = o.scratchCopy(grad)
					kernels.Axpy(float32(wd), pd, grad)
				}
			}
			m, v := st.buf("exp_avg", p), st.buf("exp_avg_sq", p)
			t := float64(st.step)
			stepSize := lr / (1 - math.Pow(beta1, t))
			sqrtBias2 := math.Sqrt(1 - math.Pow(beta2, t))
			kernels.AdamUpdate(pd, grad, m, v, float32(beta1), float32(beta2), float32(stepSize), float32(sqrtBias2), float32(eps))
		}
	}
}
