package main

import (
	"context"
	"iter"

	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/vision"
)

// smallData is how -small cuts the work: the learner's data serves only
// the first batches of each epoch, so every call of the flows runs, fast.
type smallData struct {
	*vision.DataLoaders
	train, valid int
}

// TrainLoader serves the first s.train training batches of each epoch.
func (s smallData) TrainLoader() learner.Loader { return firstBatches{s.Train, s.train} }

// ValidLoader serves the first s.valid validation batches.
func (s smallData) ValidLoader() learner.Loader { return firstBatches{s.Valid, s.valid} }

// firstBatches serves the first n batches of each epoch of a Loader.
type firstBatches struct {
	learner.Loader
	n int
}

// Len returns the number of batches served per epoch.
func (f firstBatches) Len() int { return min(f.n, f.Loader.Len()) }

// Epoch serves the first Len batches of epoch e.
func (f firstBatches) Epoch(ctx context.Context, e int) iter.Seq2[learner.Batch, error] {
	return func(yield func(learner.Batch, error) bool) {
		k := 0
		for b, err := range f.Loader.Epoch(ctx, e) {
			if k == f.Len() || !yield(b, err) {
				return
			}
			k++
		}
	}
}
