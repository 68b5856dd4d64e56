package vision

import (
	"fmt"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/tensor"
)

// BySplit returns an item transform that applies train to training items
// and valid to validation (and test) items, each in the form for its
// split: for example fastai's usual transfer-learning pipeline,
// RandomResizedCrop for training and Resize for validation,
//
//	vision.ItemTfms(vision.BySplit(vision.RandomResizedCrop(224, 224, 0.08), vision.Resize(224, 224, vision.Crop)))
//
// Both must give items of the same shape. An exported learner records the
// validation transform, which is what inference applies.
func BySplit(train, valid ItemTransform) ItemTransform {
	if train == nil || valid == nil {
		panic(fastgo.Errorf("vision.BySplit: a nil transform"))
	}
	return &bySplit{train: train, valid: valid}
}

type bySplit struct{ train, valid ItemTransform }

// String describes the transform.
func (b *bySplit) String() string {
	return fmt.Sprintf("BySplit(%s, %s)", describe(b.train), describe(b.valid))
}

func (b *bySplit) TransformItem(x *tensor.Tensor, rng *tensor.RNG, split Split) *tensor.Tensor {
	if split == TrainSplit {
		return b.train.TransformItem(x, rng, split)
	}
	return b.valid.TransformItem(x, rng, split)
}

// inferenceForm returns the transform that inference applies in t's place:
// the validation transform of a BySplit, t itself otherwise.
func inferenceForm(t ItemTransform) ItemTransform {
	if b, ok := t.(*bySplit); ok {
		return inferenceForm(b.valid)
	}
	return t
}
