package autograd_test

import (
	"fmt"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Backward fills the Grad of every leaf that requires one; broadcasting
// operands get their gradient summed back to their own shape.
func ExampleVar_Backward() {
	x := autograd.Param(tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3))
	b := autograd.Param(tensor.FromSlice([]float32{10, 20, 30}, 3))
	loss := autograd.MeanAll(autograd.Square(autograd.Add(x, b)))
	loss.Backward()
	fmt.Printf("%.4g\n", loss.Data().Item())
	fmt.Println(x.Grad())
	fmt.Println(b.Grad())
	// Output:
	// 635.2
	// tensor([[3.66667, 7.33333,      11],
	//         [4.66667, 8.33333,      12]], shape=[2 3])
	// tensor([8.33333, 15.6667,      23], shape=[3])
}

// Grads differentiates with respect to chosen Vars, such as an attack's
// input, without touching any Grad; the frozen weights cost no gradient
// work.
func ExampleGrads() {
	w := autograd.Const(tensor.FromSlice([]float32{1, -1, 2, 0.5}, 2, 2))
	x := autograd.Param(tensor.FromSlice([]float32{0.5, 0.25}, 1, 2))
	loss := autograd.CrossEntropy(autograd.Linear(x, w, nil), []int{0})
	g := autograd.Grads(loss, x)
	fmt.Printf("%.4f\n", g[0])
	fmt.Println(x.Grad() == nil, w.Grad() == nil)
	// Output:
	// tensor([[0.7058, 1.0587]], shape=[1 2])
	// true true
}

// NoGrad runs inference without recording a graph.
func ExampleNoGrad() {
	w := autograd.Param(tensor.FromSlice([]float32{2}, 1, 1))
	var y *autograd.Value
	autograd.NoGrad(func() {
		y = autograd.Linear(autograd.Const(tensor.FromSlice([]float32{3}, 1, 1)), w, nil)
	})
	fmt.Println(y.Data().Item(), y.RequiresGrad(), autograd.GradEnabled())
	// Output: 6 false true
}

// CheckGrad compares an op's backward with central finite differences in
// float64; every differentiable op of the package is checked this way.
func ExampleCheckGrad() {
	x := tensor.Uniform[float64](tensor.NewRNG(1), -2, 2, 2, 3, 5, 5)
	w := tensor.Uniform[float64](tensor.NewRNG(2), -1, 1, 4, 3, 3, 3)
	err := autograd.CheckGrad(func(v []*autograd.Var[float64]) *autograd.Var[float64] {
		y := autograd.Conv2d(v[0], v[1], nil, autograd.Conv2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
		return autograd.Tanh(y)
	}, []*tensor.Tensor64{x, w}, autograd.CheckOptions{})
	fmt.Println(err)
	// Output: <nil>
}
