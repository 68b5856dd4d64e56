package data_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/tensor"
)

// items returns n items of 2 values each, item i holding (i, -i), labelled i%3.
func items(n int) (*tensor.Tensor, []int) {
	x := tensor.New[float32](n, 2)
	y := make([]int, n)
	for i := range n {
		x.Data()[2*i], x.Data()[2*i+1] = float32(i), float32(-i)
		y[i] = i % 3
	}
	return x, y
}

func collect(t *testing.T, l data.Loader, epoch int) []data.Batch {
	t.Helper()
	var out []data.Batch
	for b, err := range l.Epoch(context.Background(), epoch) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) != l.Len() {
		t.Fatalf("served %d batches, Len says %d", len(out), l.Len())
	}
	return out
}

func TestSliceLoader(t *testing.T) {
	x, y := items(10)
	inOrder := &data.SliceLoader{X: x, Y: y, BatchSize: 4}
	bs := collect(t, inOrder, 0)
	if len(bs) != 3 || bs[2].Len() != 2 || !slices.Equal(bs[2].Index, []int{8, 9}) || bs[2].X.Data()[2] != 9 {
		t.Fatalf("in order: %d batches, last %v", len(bs), bs[len(bs)-1])
	}
	shuffled := &data.SliceLoader{X: x, Y: y, BatchSize: 4, Shuffle: true, Seed: 7}
	a, b, again := collect(t, shuffled, 0), collect(t, shuffled, 1), collect(t, shuffled, 0)
	if len(a) != 2 {
		t.Fatalf("shuffled: %d batches, want 2 (the partial batch dropped)", len(a))
	}
	if !slices.Equal(a[0].Index, again[0].Index) || slices.Equal(a[0].Index, b[0].Index) && slices.Equal(a[1].Index, b[1].Index) {
		t.Errorf("epoch 0 %v / %v, again %v, epoch 1 %v / %v", a[0].Index, a[1].Index, again[0].Index, b[0].Index, b[1].Index)
	}
	for _, bt := range a {
		for i, j := range bt.Index {
			if bt.Y[i] != y[j] || bt.X.Data()[2*i] != float32(j) {
				t.Fatalf("item %d of a batch is not item %d", i, j)
			}
		}
	}
}

func TestTake(t *testing.T) {
	x, y := items(10)
	l := &data.SliceLoader{X: x, Y: y, BatchSize: 3}
	for _, c := range []struct{ n, want int }{{2, 2}, {0, 4}, {-1, 4}, {9, 4}} {
		got := collect(t, data.Take(l, c.n), 0)
		if len(got) != c.want || got[0].Index[0] != 0 {
			t.Errorf("Take(%d): %d batches, want %d", c.n, len(got), c.want)
		}
	}
}

// transformer stands for what a Data offers beyond the interface.
type withExtra struct{ *data.SliceData }

func (withExtra) Extra() string { return "extra" }

func TestTakeDataAndAs(t *testing.T) {
	x, y := items(12)
	d := withExtra{&data.SliceData{Train: &data.SliceLoader{X: x, Y: y, BatchSize: 2, Shuffle: true}, Valid: &data.SliceLoader{X: x, Y: y, BatchSize: 5}, Vocab: []string{"a", "b", "c"}}}
	short := data.TakeData(d, 2, 1)
	if short.TrainLoader().Len() != 2 || short.ValidLoader().Len() != 1 || len(short.Classes()) != 3 {
		t.Fatalf("lengths %d %d %d", short.TrainLoader().Len(), short.ValidLoader().Len(), len(short.Classes()))
	}
	e, ok := data.As[interface{ Extra() string }](short)
	if !ok || e.Extra() != "extra" {
		t.Fatal("As does not reach the wrapped Data's methods")
	}
	if _, ok := data.As[data.Augmented](short); ok {
		t.Fatal("As found an interface no Data in the chain implements")
	}
}

func TestFirst(t *testing.T) {
	x, y := items(10)
	l := &data.SliceLoader{X: x, Y: y, BatchSize: 4}
	for _, n := range []int{1, 4, 5, 10, 30} {
		b, err := data.First(context.Background(), l, n)
		if err != nil {
			t.Fatal(err)
		}
		want := min(n, 10)
		if b.Len() != want || b.X.Dim(0) != want || len(b.Index) != want || b.X.Data()[2*(want-1)] != float32(want-1) {
			t.Errorf("First(%d): %d items, X %v", n, b.Len(), b.X.Shape())
		}
	}
	empty := &data.SliceLoader{X: tensor.New[float32](0, 2), BatchSize: 4}
	if _, err := data.First(context.Background(), empty, 3); !errors.Is(err, data.ErrEmpty) {
		t.Errorf("empty loader: %v, want ErrEmpty", err)
	}
	if _, err := data.First(context.Background(), l, 0); err == nil {
		t.Error("First(0) gave no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := data.First(ctx, l, 3); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
