package autograd

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/tensor"
)

// TestShapeMismatchPanicsNameOpAndShapes checks, for a representative set of
// ops of this package and of package tensor, that a shape mismatch is a
// panic whose message names the op and every shape involved (both operands'
// for binary ops), and is a string, not a runtime error from deep inside a
// loop.
func TestShapeMismatchPanicsNameOpAndShapes(t *testing.T) {
	p := func(shape ...int) *Value { return Param(tensor.Zeros(shape...)) }
	c := func(shape ...int) *tensor.Tensor { return tensor.Zeros(shape...) }
	cases := []struct {
		name  string
		f     func()
		wants []string
	}{
		{"Add", func() { Add(p(2, 3), p(4)) }, []string{"tensor.Add", "[2 3]", "[4]"}},
		{"Sub", func() { Sub(p(2, 3), p(3, 2)) }, []string{"tensor.Sub", "[2 3]", "[3 2]"}},
		{"Mul", func() { Mul(p(5, 1, 3), p(2, 4)) }, []string{"tensor.Mul", "[5 1 3]", "[2 4]"}},
		{"Div", func() { Div(p(2), p(3)) }, []string{"tensor.Div", "[2]", "[3]"}},
		{"Pow", func() { Pow(p(2, 3), p(2)) }, []string{"tensor.Pow", "[2 3]", "[2]"}},
		{"Maximum", func() { Maximum(p(4, 2), p(3)) }, []string{"tensor.Maximum", "[4 2]", "[3]"}},
		{"Minimum", func() { Minimum(p(4, 2), p(3)) }, []string{"tensor.Minimum", "[4 2]", "[3]"}},
		{"Where", func() { Where(c(2), p(3), p(1)) }, []string{"tensor.Where", "[2]", "[3]", "[1]"}},
		{"MatMul", func() { MatMul(p(2, 3), p(4, 5)) }, []string{"tensor.MatMul:", "[2 3]", "[4 5]"}},
		{"MatMul batch", func() { MatMul(p(2, 2, 3), p(3, 3, 4)) }, []string{"tensor.MatMul:", "[2 2 3]", "[3 3 4]"}},
		{"MatMulT", func() { MatMulT(p(2, 3), p(4, 3), tensor.Trans, tensor.Trans) }, []string{"tensor.MatMulT", "[2 3]", "[4 3]"}},
		{"Concat", func() { Concat(0, p(2, 2), p(2, 3)) }, []string{"tensor.Concat", "[2 2]", "[2 3]"}},
		{"Stack", func() { Stack(0, p(2, 2), p(2, 3)) }, []string{"tensor.Stack", "[2 2]", "[2 3]"}},
		{"Reshape", func() { Reshape(p(2, 3), 4, 2) }, []string{"tensor.Reshape", "[4 2]", "[2 3]"}},
		{"Permute", func() { Permute(p(2, 3, 4), 0, 1) }, []string{"tensor.Permute", "[0 1]", "[2 3 4]"}},
		{"Transpose", func() { Transpose(p(2, 3), 0, 2) }, []string{"tensor.Transpose", "axis 2", "[2 3]"}},
		{"IndexSelect", func() { IndexSelect(p(2, 3), 1, []int{3}) }, []string{"tensor.IndexSelect", "index 3", "[2 3]"}},
		{"Narrow", func() { Narrow(p(2, 3), 1, 2, 2) }, []string{"tensor.Narrow", "[2,4)", "[2 3]"}},
		{"BroadcastTo", func() { BroadcastTo(p(2, 3), 3, 3) }, []string{"tensor.BroadcastTo", "[2 3]", "[3 3]"}},
		{"Expand", func() { Expand(p(2, 3), 2, 4) }, []string{"tensor.Expand", "[2 3]", "[2 4]"}},
		{"Sum axis", func() { Sum(p(2, 3), 2) }, []string{"tensor.Sum", "axis 2", "[2 3]"}},
		{"Mean axis", func() { Mean(p(2, 3), -3) }, []string{"tensor.Mean", "axis -3", "[2 3]"}},
		{"Variance axis", func() { Variance(p(2, 3), 1, 5) }, []string{"tensor.Var", "axis 5", "[2 3]"}},
		{"Max axis", func() { Max(p(2, 3), 0, 0) }, []string{"tensor.Max", "repeated", "[2 3]"}},
		{"Softmax axis", func() { Softmax(p(2, 3), 2) }, []string{"tensor.Softmax", "axis 2", "[2 3]"}},
		{"LogSoftmax axis", func() { LogSoftmax(p(2, 3), -3) }, []string{"tensor.LogSoftmax", "axis -3", "[2 3]"}},
		{"Linear", func() { Linear(p(2, 4), p(3, 5), nil) }, []string{"autograd.Linear", "[2 4]", "[3 5]"}},
		{"Linear bias", func() { Linear(p(2, 5), p(3, 5), p(4)) }, []string{"autograd.Linear", "[4]", "[3 5]"}},
		{"Conv2d channels", func() { Conv2d(p(2, 3, 8, 8), p(4, 2, 3, 3), nil, Conv2dOptions{}) }, []string{"autograd.Conv2d", "[2 3 8 8]", "[4 2 3 3]"}},
		{"Conv2d rank", func() { Conv2d(p(3, 8, 8), p(4, 3, 3, 3), nil, Conv2dOptions{}) }, []string{"autograd.Conv2d", "[3 8 8]"}},
		{"Conv2d kernel", func() { Conv2d(p(1, 1, 2, 2), p(1, 1, 3, 3), nil, Conv2dOptions{}) }, []string{"autograd.Conv2d", "[1 1 2 2]"}},
		{"BatchNorm weight", func() {
			BatchNorm(p(4, 3), p(5), nil, nil, nil, BatchNormOptions{Training: true, Momentum: 0.1, Eps: 1e-5})
		}, []string{"autograd.BatchNorm", "[5]", "[4 3]"}},
		{"BatchNorm running", func() {
			BatchNorm(p(4, 3, 2, 2), nil, nil, c(2), c(2), BatchNormOptions{Training: false, Momentum: 0.1, Eps: 1e-5})
		}, []string{"autograd.BatchNorm", "[2]", "[4 3 2 2]"}},
		{"MaxPool2d", func() { MaxPool2d(p(1, 1, 3, 3), Pool2dOptions{Kernel: [2]int{4, 4}}) }, []string{"autograd.MaxPool2d", "[1 1 3 3]"}},
		{"AvgPool2d rank", func() { AvgPool2d(p(3, 3), Pool2dOptions{Kernel: [2]int{2, 2}}) }, []string{"autograd.AvgPool2d", "[3 3]"}},
		{"AdaptiveAvgPool2d", func() { AdaptiveAvgPool2d(p(2, 3, 4), 1, 1) }, []string{"autograd.AdaptiveAvgPool2d", "[2 3 4]"}},
		{"CrossEntropy targets", func() { CrossEntropy(p(3, 4), []int{0, 1}) }, []string{"autograd.CrossEntropy", "2 targets", "[3 4]"}},
		{"CrossEntropy rank", func() { CrossEntropy(p(3, 4, 2), []int{0, 1, 2}) }, []string{"autograd.CrossEntropy", "[3 4 2]"}},
		{"NLLLoss weights", func() { NLLLoss(p(3, 4), []int{0, 1, 2}, ClassWeights(1, 2)) }, []string{"autograd.NLLLoss", "2 class weights", "[3 4]"}},
		{"NLLLoss label smoothing", func() { NLLLoss(p(3, 4), []int{0, 1, 2}, LabelSmoothing(0.1)) }, []string{"autograd.NLLLoss", "LabelSmoothing does not apply"}},
		{"BCEWithLogits class weights", func() { BCEWithLogits(p(2, 3), p(2, 3), ClassWeights(1, 2, 3)) }, []string{"autograd.BCEWithLogits", "ClassWeights does not apply"}},
		{"Grads of a vector", func() { Grads(p(2, 3), p(1)) }, []string{"autograd.Grads", "[2 3]", "GradsWith"}},
		{"MSELoss", func() { MSELoss(p(2, 3), p(3, 2), ReductionMean) }, []string{"autograd.MSELoss", "[2 3]", "[3 2]"}},
		{"BCEWithLogits", func() { BCEWithLogits(p(2, 3), p(2, 4)) }, []string{"autograd.BCEWithLogits", "[2 3]", "[2 4]"}},
		{"KLDiv", func() { KLDiv(p(4), p(5), ReductionSum) }, []string{"autograd.KLDiv", "[4]", "[5]"}},
		{"BackwardWith", func() { Exp(p(2, 3)).BackwardWith(c(3, 2)) }, []string{"autograd.Backward", "[3 2]", "[2 3]"}},
		{"Backward non-scalar", func() { Exp(p(2, 3)).Backward() }, []string{"autograd.Backward", "[2 3]"}},
		{"SetData", func() { p(2, 3).SetData(c(6)) }, []string{"autograd.SetData", "[2 3]", "[6]"}},
		{"tensor.AddInPlace", func() { tensor.AddInPlace(c(3), c(2, 3)) }, []string{"tensor.AddInPlace", "[2 3]", "[3]"}},
		{"tensor.CopyFrom", func() { c(2, 3).CopyFrom(c(3, 2)) }, []string{"tensor.CopyFrom", "[2 3]", "[3 2]"}},
		{"tensor.FromSlice", func() { tensor.FromSlice(make([]float32, 5), 2, 3) }, []string{"tensor.FromSlice", "5 elements", "[2 3]"}},
		{"tensor.SoftmaxGrad", func() { tensor.SoftmaxGrad(c(2, 3), c(3, 2), 1) }, []string{"tensor.SoftmaxGrad", "[2 3]", "[3 2]"}},
		{"tensor.IndexAddInPlace", func() { tensor.IndexAddInPlace(c(2, 3), 1, []int{0}, c(2, 2)) }, []string{"tensor.IndexAddInPlace", "[2 2]", "[2 3]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r any
			func() {
				defer func() { r = recover() }()
				tc.f()
			}()
			if r == nil {
				t.Fatalf("no panic, want one naming %q", tc.wants)
			}
			if _, typed := r.(fastgo.Error); !typed {
				t.Fatalf("panic %v (%T) is not a fastgo.Error: a runtime error rather than the op's own message", r, r)
			}
			msg := fmt.Sprint(r)
			for _, w := range tc.wants {
				if !strings.Contains(msg, w) {
					t.Errorf("panic %q does not contain %q", msg, w)
				}
			}
		})
	}
}
