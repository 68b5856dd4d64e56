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
// Linear weights are kaiming-normal (fan in, gain sqrt 2), as vision_learner
// initialises its head with nn.init.kaiming_normal_; the BatchNorms are
// fastai's BatchNorm: weight 1 and bias 1e-3. The head takes [N, nf, h, w]
// features of any h, w. rng (nil: the default generator) draws the weights
// and then the Dropout masks.
func Head(nf, nOut int, rng *tensor.RNG) *layers.Sequential {
	rng = layers.OrDefault(rng)
	lin := func(in, out int) *layers.Linear {
		l := layers.NewLinear(in, out, rng, layers.NoBias())
		layers.KaimingNormal(l.Weight.Data(), rng)
		return l
	}
	bn := func(c int) *layers.BatchNorm {
		b := layers.NewBatchNorm1d(c)
		for i := range b.Bias.Data().Data() {
			b.Bias.Data().Data()[i] = 1e-3
		}
		return b
	}
	return layers.NewSequential(
		layers.NewAdaptiveConcatPool2d(1),
		layers.NewFlatten(),
		bn(2*nf),
		layers.NewDropout(0.25, rng),
		lin(2*nf, 512),
		&layers.ReLU{},
		bn(512),
		layers.NewDropout(0.5, rng),
		lin(512, nOut),
	)
}
