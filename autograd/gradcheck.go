package autograd

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/tensor"
)

// CheckOptions sets the step and tolerances of CheckGrad. The zero value uses
// Eps 1e-6, ATol 1e-6 and RTol 1e-4.
type CheckOptions struct {
	// Eps is the finite-difference step; ATol and RTol are the absolute and
	// relative tolerances of the comparison.
	Eps, ATol, RTol float64
	// Seed chooses the random projection of the output (default 1).
	Seed uint64
}

// CheckGrad compares the gradients that backward computes for f with central
// finite differences, in float64. f maps the inputs (each a leaf requiring a
// gradient) to an output of any shape; the checked scalar is sum(f(x) * r)
// for a fixed random r, so every output element takes part.
//
// It returns nil when, for every element of every input, the analytic and
// numeric derivatives agree within ATol + RTol*|numeric|, else an error naming
// the first input and element that do not.
func CheckGrad(f func(xs []*Var[float64]) *Var[float64], inputs []*tensor.Tensor64, opt CheckOptions) error {
	if opt.Eps == 0 {
		opt.Eps = 1e-6
	}
	if opt.ATol == 0 {
		opt.ATol = 1e-6
	}
	if opt.RTol == 0 {
		opt.RTol = 1e-4
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	vars := make([]*Var[float64], len(inputs))
	for i, x := range inputs {
		vars[i] = Param(x.Clone())
	}
	out := f(vars)
	r := tensor.Uniform[float64](tensor.NewRNG(opt.Seed), -1, 1, out.Shape()...)
	if !out.RequiresGrad() {
		return fmt.Errorf("autograd.CheckGrad: output does not require a gradient")
	}
	out.BackwardWith(r)
	project := func() float64 {
		consts := make([]*Var[float64], len(inputs))
		for i := range inputs {
			consts[i] = Const(vars[i].Data())
		}
		var y *tensor.Tensor64
		NoGrad(func() { y = f(consts).Data() })
		s := 0.0
		for i, v := range y.Data() {
			s += v * r.Data()[i]
		}
		return s
	}
	for i, v := range vars {
		x := v.Data().Data()
		var analytic []float64
		if g := v.Grad(); g != nil {
			analytic = g.Data()
		} else {
			analytic = make([]float64, len(x))
		}
		for j := range x {
			orig := x[j]
			x[j] = orig + opt.Eps
			up := project()
			x[j] = orig - opt.Eps
			down := project()
			x[j] = orig
			num := (up - down) / (2 * opt.Eps)
			if d := math.Abs(num - analytic[j]); !(d <= opt.ATol+opt.RTol*math.Abs(num)) {
				return fmt.Errorf("autograd.CheckGrad: input %d (shape %v) element %d: backward %.8g, finite difference %.8g", i, v.Shape(), j, analytic[j], num)
			}
		}
	}
	return nil
}
