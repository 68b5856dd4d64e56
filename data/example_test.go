package data_test

import (
	"context"
	"fmt"

	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/tensor"
)

// A SliceLoader serves tensors already in memory; Take keeps the first
// batches of each epoch and First gathers the first items into one batch.
func Example() {
	x := tensor.New[float32](10, 3) // 10 items of 3 features
	y := []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 0}
	train := &data.SliceLoader{X: x, Y: y, BatchSize: 4, Shuffle: true, Seed: 1}
	fmt.Println(train.Len(), data.Take(train, 1).Len())

	b, err := data.First(context.Background(), &data.SliceLoader{X: x, Y: y, BatchSize: 4}, 6)
	if err != nil {
		panic(err)
	}
	fmt.Println(b.X.Shape(), b.Y)
	// Output:
	// 2 1
	// [6 3] [0 1 2 0 1 2]
}
