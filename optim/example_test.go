package optim_test

import (
	"fmt"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/optim"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Minimise (w - 3)^2 with SGD and Nesterov momentum. The gradient, 2(w - 3),
// is set by hand here; in a model, Backward sets it.
func ExampleSGD() {
	w := autograd.Param(tensor.FromSlice([]float32{0}, 1))
	opt := optim.NewSGD(optim.Params(w), optim.LR(0.1), optim.Momentum(0.5), optim.Nesterov())
	for step := 0; step < 40; step++ {
		opt.ZeroGrad()
		w.SetGrad(tensor.FromSlice([]float32{2 * (w.Data().Data()[0] - 3)}, 1))
		opt.Step()
	}
	fmt.Printf("w = %.4f\n", w.Data().Data()[0])
	// Output: w = 3.0000
}

// fastai's Adam: AdamW with betas (0.9, 0.99), eps 1e-5 and true weight
// decay 0.01, sparing biases and norm layers the decay, with a schedule
// setting lr and mom on every group before each step.
func ExampleFastaiAdam() {
	named := []optim.NamedParam{
		{Name: "fc.weight", Param: autograd.Param(tensor.FromSlice([]float32{1, -1, 2, -2}, 2, 2))},
		{Name: "fc.bias", Param: autograd.Param(tensor.FromSlice([]float32{0.5, -0.5}, 2))},
	}
	opt := optim.FastaiAdam(optim.SplitNoDecay(named, nil), optim.LR(1e-2))
	for i, g := range opt.ParamGroups() {
		fmt.Printf("group %d: %d param(s), wd %g\n", i, len(g.Params), g.Get("wd"))
	}
	for step := 0; step < 3; step++ {
		for _, g := range opt.ParamGroups() { // what a one-cycle schedule does
			g.Set("lr", 1e-2*float64(step+1))
			g.Set("mom", 0.95-0.05*float64(step))
		}
		for _, np := range named { // the gradient of sum(p^2)/2 is p
			np.Param.SetGrad(np.Param.Data().Clone())
		}
		opt.Step()
	}
	fmt.Printf("%.4f\n", named[0].Param.Data().Data())
	fmt.Printf("%.4f\n", named[1].Param.Data().Data())
	// Output:
	// group 0: 1 param(s), wd 0.01
	// group 1: 1 param(s), wd 0
	// [0.9530 -0.9530 1.9524 -1.9524]
	// [0.4538 -0.4538]
}

// torch.optim.Adam with L2 weight decay. Adam normalises each coordinate's
// step: the first step moves every parameter with a non-zero gradient by lr,
// even the third, whose gradient is only its weight decay.
func ExampleNewAdam() {
	w := autograd.Param(tensor.FromSlice([]float32{1, 2, 3}, 3))
	opt := optim.NewAdam(optim.Params(w), optim.LR(0.1), optim.WeightDecay(1e-4))
	w.SetGrad(tensor.FromSlice([]float32{0.5, -0.5, 0}, 3))
	opt.Step()
	fmt.Printf("%.4f\n", w.Data().Data())
	// Output: [0.9000 2.1000 2.9000]
}
