package models

import (
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Head returns fastai's create_head for nf body features and nOut classes,
// with its defaults (concat pooling, one hidden layer of 512, dropout 0.25
// then 0.5, first BatchNorm, no final BatchNorm): AdaptiveConcatPool2d,
// Flatten, BatchNorm1d(2nf), Dropout(0.25), Linear(2nf, 512, no bias), ReLU,
// BatchNorm1d(512), Dropout(0.5), Linear(512, nOut, no bias), named 0..8.
// Linear weights are kaiming-normal, as vision_learner initialises its head.
func Head(nf, nOut int, rng *tensor.RNG) *layers.Sequential {
	lin := func(in, out int) *layers.Linear {
		l := layers.NewLinear(in, out, false, rng)
		layers.KaimingNormal(l.Weight.Data(), rng)
		return l
	}
	return layers.NewSequential(
		layers.NewAdaptiveConcatPool2d(1),
		layers.NewFlatten(),
		layers.NewBatchNorm1d(2*nf),
		layers.NewDropout(0.25, rng),
		lin(2*nf, 512),
		&layers.ReLU{},
		layers.NewBatchNorm1d(512),
		layers.NewDropout(0.5, rng),
		lin(512, nOut),
	)
}
