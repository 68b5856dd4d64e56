package data

import (
	"context"
	"iter"

	"github.com/fastgo-ml/fastgo/tensor"
)

// SliceLoader serves an in-memory tensor and labels as batches, in order, or
// shuffled per epoch from a seed (then dropping the last partial batch, as a
// training loader does). It is useful for tests and for data that is
// already tensors.
type SliceLoader struct {
	// X holds the items along its first axis; Y their targets.
	X *tensor.Tensor
	Y []int
	// BatchSize is the number of items per batch.
	BatchSize int
	// Shuffle serves each epoch in another order, drawn from Seed and
	// the epoch.
	Shuffle bool
	Seed    uint64
}

// Len returns the number of batches per epoch.
func (s *SliceLoader) Len() int {
	n, bs := s.X.Dim(0), s.bs()
	if s.Shuffle {
		return n / bs
	}
	return (n + bs - 1) / bs
}

// bs is BatchSize, at least 1.
func (s *SliceLoader) bs() int { return max(s.BatchSize, 1) }

// Epoch serves the batches of epoch e.
func (s *SliceLoader) Epoch(ctx context.Context, e int) iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		n := s.X.Dim(0)
		row := s.X.Len() / max(n, 1)
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		if s.Shuffle {
			order = tensor.NewRNG(s.Seed*0x9e3779b97f4a7c15 + uint64(e) + 1).Perm(n)
		}
		for b := 0; b < s.Len(); b++ {
			if err := ctx.Err(); err != nil {
				yield(Batch{}, err)
				return
			}
			idx := order[b*s.bs() : min((b+1)*s.bs(), n)]
			shape := append([]int{len(idx)}, s.X.Shape()[1:]...)
			x := tensor.New[float32](shape...)
			y := make([]int, len(idx))
			for i, j := range idx {
				copy(x.Data()[i*row:(i+1)*row], s.X.Data()[j*row:(j+1)*row])
				y[i] = s.Y[j]
			}
			if !yield(Batch{X: x, Y: y, Index: append([]int(nil), idx...)}, nil) {
				return
			}
		}
	}
}

// SliceData is a Data made of two SliceLoaders.
type SliceData struct {
	// Train and Valid are the loaders; Vocab the class names.
	Train, Valid *SliceLoader
	Vocab        []string
}

// TrainLoader returns d.Train.
func (d *SliceData) TrainLoader() Loader { return d.Train }

// ValidLoader returns d.Valid.
func (d *SliceData) ValidLoader() Loader { return d.Valid }

// Classes returns d.Vocab.
func (d *SliceData) Classes() []string { return d.Vocab }
