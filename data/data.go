package data

import (
	"context"
	"iter"

	"github.com/fastgo-ml/fastgo/tensor"
)

// Batch is one mini-batch: X is [N, ...] float32 input (images [N,C,H,W] in
// [0,1] pixels), Y the N integer targets and Index the items' positions in
// their data set (nil when unknown).
type Batch struct {
	// X is the input [N, ...].
	X *tensor.Tensor
	// Y holds the N targets.
	Y []int
	// Index holds the items' positions in their data set, or nil.
	Index []int
}

// Len returns the number of items in the batch.
func (b Batch) Len() int { return len(b.Y) }

// Loader serves a data set's batches, one epoch at a time.
type Loader interface {
	// Len returns the number of batches per epoch.
	Len() int
	// Epoch serves the given epoch's batches; the same epoch gives the same
	// batches. A non-nil error ends the epoch.
	Epoch(ctx context.Context, epoch int) iter.Seq2[Batch, error]
}

// Data is what a Learner trains on: fastai's DataLoaders.
type Data interface {
	// TrainLoader serves the training set (shuffled, augmented).
	TrainLoader() Loader
	// ValidLoader serves the validation set (in order, not augmented).
	ValidLoader() Loader
	// Classes returns the class names; target i is Classes()[i].
	Classes() []string
}

// Augmented is implemented by Data that can serve the validation set with
// the training transforms, for test-time augmentation (fastai's tta).
type Augmented interface {
	// AugmentedValid serves the validation items with the training
	// transforms, in order; pass different epochs for different draws.
	AugmentedValid() Loader
}
