package tensor_test

import (
	"fmt"

	"github.com/fastgo-ml/fastgo/tensor"
)

func ExampleAdd() {
	x := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	bias := tensor.FromSlice([]float32{10, 20, 30}, 3)
	fmt.Println(tensor.Add(x, bias))
	// Output:
	// tensor([[11, 22, 33],
	//         [14, 25, 36]], shape=[2 3])
}

func ExampleSum() {
	x := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	fmt.Println(tensor.Sum(x, 0))
	fmt.Println(tensor.KeepDims(tensor.Sum(x, -1), x.Shape(), -1)) // keepdim
	fmt.Println(tensor.ArgMax(x, 1))
	// Output:
	// tensor([5, 7, 9], shape=[3])
	// tensor([[ 6],
	//         [15]], shape=[2 1])
	// [2 2]
}

func ExampleMatMul() {
	a := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b := tensor.FromSlice([]float32{7, 8, 9, 10, 11, 12}, 3, 2)
	fmt.Println(tensor.MatMul(a, b))
	// A batch of two matrices times one matrix: the batch broadcasts.
	batch := tensor.Stack(0, a, a)
	fmt.Println(tensor.MatMul(batch, b).Shape())
	// Output:
	// tensor([[ 58,  64],
	//         [139, 154]], shape=[2 2])
	// [2 2 2]
}

func ExampleSoftmax() {
	logits := tensor.FromSlice([]float64{1, 2, 3}, 3)
	fmt.Printf("%.4f\n", tensor.Softmax(logits, -1))
	// Output:
	// tensor([0.0900, 0.2447, 0.6652], shape=[3])
}

func ExampleUniform() {
	g := tensor.NewRNG(42)
	w := tensor.Uniform[float32](g, -1, 1, 2, 3)
	fmt.Printf("%.4f\n", w)
	// The same seed gives the same draws, on every platform.
	fmt.Println(tensor.Uniform[float32](tensor.NewRNG(42), -1, 1, 2, 3).Data()[0] == w.Data()[0])
	// Output:
	// tensor([[ 0.5804,  0.8789, -0.3229],
	//         [ 0.8985, -0.2557,  0.7150]], shape=[2 3])
	// true
}

func ExampleIndexSelect() {
	x := tensor.Arange[float32](0, 6, 1).Reshape(3, 2)
	fmt.Println(tensor.IndexSelect(x, 0, []int{2, 0, 2}))
	fmt.Println(tensor.Narrow(x, 1, 1, 1))
	fmt.Println(tensor.Concat(1, x, x).Shape(), tensor.Stack(0, x, x).Shape())
	// Output:
	// tensor([[4, 5],
	//         [0, 1],
	//         [4, 5]], shape=[3 2])
	// tensor([[1],
	//         [3],
	//         [5]], shape=[3 1])
	// [3 4] [2 3 2]
}
