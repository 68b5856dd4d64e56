package data

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/fastgo-ml/fastgo/tensor"
)

// Take returns a Loader that serves only the first n batches of each epoch
// of l (all of them when l has fewer, or when n <= 0).
func Take(l Loader, n int) Loader { return taken{l, n} }

type taken struct {
	Loader
	n int
}

// Len returns the number of batches served per epoch.
func (t taken) Len() int {
	if t.n <= 0 {
		return t.Loader.Len()
	}
	return min(t.n, t.Loader.Len())
}

// Epoch serves the first Len batches of epoch e.
func (t taken) Epoch(ctx context.Context, e int) iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		k, n := 0, t.Len()
		for b, err := range t.Loader.Epoch(ctx, e) {
			if k == n || !yield(b, err) || err != nil {
				return
			}
			k++
		}
	}
}

// TakeData returns a Data whose loaders serve only the first train and
// valid batches of each epoch of d (all of them for a count <= 0): a short
// run over a few batches. The result unwraps to d (Unwrap), so that what d
// offers beyond Data (the transforms an export records, say) stays
// reachable through As.
func TakeData(d Data, train, valid int) Data { return takenData{d, train, valid} }

type takenData struct {
	d            Data
	train, valid int
}

func (t takenData) TrainLoader() Loader { return Take(t.d.TrainLoader(), t.train) }
func (t takenData) ValidLoader() Loader { return Take(t.d.ValidLoader(), t.valid) }
func (t takenData) Classes() []string   { return t.d.Classes() }

// Unwrap returns the Data that TakeData cut.
func (t takenData) Unwrap() Data { return t.d }

// As finds the first Data in d's chain of Unwrap methods (d itself first)
// that implements T, as errors.As does for errors.
func As[T any](d Data) (T, bool) {
	for d != nil {
		if t, ok := d.(T); ok {
			return t, true
		}
		u, ok := d.(interface{ Unwrap() Data })
		if !ok {
			break
		}
		d = u.Unwrap()
	}
	var zero T
	return zero, false
}

// ErrEmpty is returned by First when the loader serves no item.
var ErrEmpty = errors.New("data: the loader serves no item")

// First returns the first n items of epoch 0 of l (all of them when it
// serves fewer) as one Batch: the images an attack or an evaluation looks
// at. It stops reading as soon as it has n items; a loader that serves none
// gives ErrEmpty.
func First(ctx context.Context, l Loader, n int) (Batch, error) {
	if n <= 0 {
		return Batch{}, fmt.Errorf("data.First: %d items asked for", n)
	}
	var xs []*tensor.Tensor
	var ys, idx []int
	hasIndex := true
	for b, err := range l.Epoch(ctx, 0) {
		if err != nil {
			return Batch{}, err
		}
		xs, ys = append(xs, b.X), append(ys, b.Y...)
		hasIndex = hasIndex && len(b.Index) == len(b.Y)
		idx = append(idx, b.Index...)
		if len(ys) >= n {
			break
		}
	}
	if len(ys) == 0 {
		return Batch{}, ErrEmpty
	}
	n = min(n, len(ys))
	out := Batch{X: tensor.Concat(0, xs...).Narrow0(0, n), Y: ys[:n:n]}
	if hasIndex {
		out.Index = idx[:n:n]
	}
	return out, nil
}
