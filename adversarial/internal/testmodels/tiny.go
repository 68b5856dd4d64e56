package testmodels

import (
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// TinyLinear is a linear classifier of 2x2 grey images into 3 classes, with
// hand-set weights: class 0 likes the left column, class 1 the right one,
// class 2 the bottom row.
func TinyLinear() layers.Module {
	lin := layers.NewLinear(4, 3, tensor.NewRNG(1))
	copy(lin.Weight.Data().Data(), []float32{
		4, -4, 4, -4, // class 0
		-4, 4, -4, 4, // class 1
		-4, -4, 4, 4, // class 2
	})
	lin.Bias.Data().Fill(0)
	return layers.NewSequential(layers.NewFlatten(), lin)
}
