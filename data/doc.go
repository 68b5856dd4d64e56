// Package data is what a training loop reads: batches of inputs and
// targets, the loaders that serve them one epoch at a time, and the pair of
// training and validation loaders with the class names that make fastai's
// DataLoaders.
//
// It sits below the training loop (package learner) and the data sets
// (package vision), so that each can use the other's batches without
// importing it:
//
//	type Loader interface {
//		Len() int
//		Epoch(ctx context.Context, epoch int) iter.Seq2[Batch, error]
//	}
//
// A Loader serves the same batches for the same epoch, so that a run
// repeats bit for bit from its seed. SliceLoader serves an in-memory tensor
// and its labels; vision's DataLoader decodes and augments images on a
// worker pool. Take cuts a Loader to its first batches and TakeData a whole
// Data (a quick run over a few batches, as fastai's ShortEpoch); First
// gathers the first items of a Loader into one Batch (the images an attack
// or an evaluation looks at).
package data
