package autograd_test

import (
	"fmt"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

func ExampleMatMul() {
	x := autograd.Param(tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2))
	w := autograd.Const(tensor.FromSlice([]float32{1, 0, 0, 2}, 2, 2)) // frozen
	loss := autograd.SumAll(autograd.MatMul(x, w))
	loss.Backward()
	fmt.Println(loss.Data().Item())
	fmt.Println(x.Grad())
	fmt.Println(w.Grad() == nil)
	// Output:
	// 16
	// tensor([[1, 2],
	//         [1, 2]], shape=[2 2])
	// true
}
