package autograd

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// This file is the one table that runs the float64 gradient checker on every
// differentiable op of the package. TestGradCheckCoversEveryOp parses the
// package's source and fails when an exported function that returns a *Var
// has no case here, or when an op documented as broadcasting has no case
// whose inputs broadcast: adding an op without a gradient check fails the
// tests.

// notOps are the exported functions returning a *Var that are not
// differentiable ops: they make leaves or are the recording primitive every
// op is built on.
var notOps = map[string]string{
	"Param":     "makes a leaf",
	"Const":     "makes a leaf",
	"Record":    "the primitive that records an op; checked through every op built on it",
	"Transient": "marks a value for recycling and returns it unchanged",
	"Consumed":  "marks its first argument for recycling and returns the second unchanged",
}

// gradCase is one gradient check of op.
type gradCase struct {
	op     string // the exported function under test
	name   string // what the case exercises
	bcast  bool   // the inputs broadcast against each other or the output
	inputs []*tensor.Tensor64
	f      func(x vars) *Var[float64]
	opts   CheckOptions
}

// in is a shorthand for a list of inputs.
func in(ts ...*tensor.Tensor64) []*tensor.Tensor64 { return ts }

// probs returns values uniform in [0.05, 0.95): probabilities and BCE
// targets away from 0 and 1.
func probs(seed uint64, shape ...int) *tensor.Tensor64 { return uni(seed, 0.05, 0.95, shape...) }

// kinkFree returns uniform samples in [-2, 2) at least 0.05 from 0, where
// ReLU-like functions have a kink.
func kinkFree(seed uint64, shape ...int) *tensor.Tensor64 {
	return awayFrom(seed, -2, 2, 0.05, []float64{0}, shape...)
}

// everyOpCases lists the gradient checks, grouped as the ops are.
func everyOpCases() []gradCase {
	var cases []gradCase
	cases = append(cases, elementwiseOpCases()...)
	cases = append(cases, reductionOpCases()...)
	cases = append(cases, shapeOpCases()...)
	cases = append(cases, nnOpCases()...)
	cases = append(cases, convPoolOpCases()...)
	cases = append(cases, normOpCases()...)
	cases = append(cases, lossOpCases()...)
	return cases
}

// elementwiseOpCases lists the gradient checks of the element-wise ops:
// binary (broadcasting), with a scalar operand, unary.
func elementwiseOpCases() []gradCase {
	return []gradCase{
		// Element-wise binary ops; the second input of Maximum and Minimum
		// is shifted so that it never ties with the first.
		{op: "Add", name: "same shape", inputs: in(uni(1, -1, 1, 2, 3), uni(2, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return Add(x[0], x[1]) }},
		{op: "Add", name: "[2 3]+[3]", bcast: true, inputs: in(uni(1, -1, 1, 2, 3), uni(2, -1, 1, 3)), f: func(x vars) *Var[float64] { return Add(x[0], x[1]) }},
		{op: "Add", name: "[2 1 4]+[3 1]", bcast: true, inputs: in(uni(1, -1, 1, 2, 1, 4), uni(2, -1, 1, 3, 1)), f: func(x vars) *Var[float64] { return Add(x[0], x[1]) }},
		{op: "Add", name: "[]+[2 3]", bcast: true, inputs: in(uni(1, -1, 1), uni(2, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return Add(x[0], x[1]) }},
		{op: "Sub", name: "[2 1 4]-[3 1]", bcast: true, inputs: in(uni(1, -1, 1, 2, 1, 4), uni(2, -1, 1, 3, 1)), f: func(x vars) *Var[float64] { return Sub(x[0], x[1]) }},
		{op: "Sub", name: "[3]-[2 3]", bcast: true, inputs: in(uni(1, -1, 1, 3), uni(2, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return Sub(x[0], x[1]) }},
		{op: "Mul", name: "same shape", inputs: in(uni(1, -1, 1, 2, 3), uni(2, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return Mul(x[0], x[1]) }},
		{op: "Mul", name: "[2 1 4]*[3 1]", bcast: true, inputs: in(uni(1, -1, 1, 2, 1, 4), uni(2, -1, 1, 3, 1)), f: func(x vars) *Var[float64] { return Mul(x[0], x[1]) }},
		{op: "Mul", name: "[2 3]*[]", bcast: true, inputs: in(uni(1, -1, 1, 2, 3), uni(2, -1, 1)), f: func(x vars) *Var[float64] { return Mul(x[0], x[1]) }},
		{op: "Mul", name: "x*x", inputs: in(uni(1, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return Mul(x[0], x[0]) }},
		{op: "Div", name: "[2 3]/[3]", bcast: true, inputs: in(uni(1, -1, 1, 2, 3), uni(2, 0.5, 2, 3)), f: func(x vars) *Var[float64] { return Div(x[0], x[1]) }},
		{op: "Div", name: "[2 1]/[1 3]", bcast: true, inputs: in(uni(1, -1, 1, 2, 1), uni(2, -2, -0.5, 1, 3)), f: func(x vars) *Var[float64] { return Div(x[0], x[1]) }},
		{op: "Pow", name: "[2 3]**[3]", bcast: true, inputs: in(uni(1, 0.5, 2, 2, 3), uni(2, -1, 2, 3)), f: func(x vars) *Var[float64] { return Pow(x[0], x[1]) }},
		{op: "Pow", name: "[]**[2 2]", bcast: true, inputs: in(uni(1, 0.5, 2), uni(2, -1, 2, 2, 2)), f: func(x vars) *Var[float64] { return Pow(x[0], x[1]) }},
		{op: "Maximum", name: "[2 3],[3]", bcast: true, inputs: in(spread(1, 2, 3), tensor.AddScalar(spread(2, 3), 0.025)), f: func(x vars) *Var[float64] { return Maximum(x[0], x[1]) }},
		{op: "Maximum", name: "same shape", inputs: in(spread(3, 3, 4), tensor.AddScalar(spread(4, 3, 4), 0.025)), f: func(x vars) *Var[float64] { return Maximum(x[0], x[1]) }},
		{op: "Minimum", name: "[2 1 4],[3 1]", bcast: true, inputs: in(spread(1, 2, 1, 4), tensor.AddScalar(spread(2, 3, 1), 0.025)), f: func(x vars) *Var[float64] { return Minimum(x[0], x[1]) }},
		{op: "Where", name: "cond [2 1], a [2 3], b [3]", bcast: true, inputs: in(uni(1, -1, 1, 2, 3), uni(2, -1, 1, 3)), f: func(x vars) *Var[float64] {
			return Where(tensor.FromSlice([]float64{1, 0}, 2, 1), x[0], x[1])
		}},
		{op: "Where", name: "cond [3], a [2 1], b [1 3]", bcast: true, inputs: in(uni(1, -1, 1, 2, 1), uni(2, -1, 1, 1, 3)), f: func(x vars) *Var[float64] {
			return Where(tensor.FromSlice([]float64{1, 0, 1}, 3), x[0], x[1])
		}},

		// Ops with a scalar operand.
		{op: "AddScalar", inputs: in(uni(1, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return AddScalar(x[0], 2) }},
		{op: "SubScalar", inputs: in(uni(1, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return SubScalar(x[0], 2) }},
		{op: "RSubScalar", inputs: in(uni(1, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return RSubScalar(2, x[0]) }},
		{op: "MulScalar", inputs: in(uni(1, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return MulScalar(x[0], -3) }},
		{op: "DivScalar", inputs: in(uni(1, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return DivScalar(x[0], 4) }},
		{op: "PowScalar", name: "2.5", inputs: in(uni(1, 0.5, 2, 2, 3)), f: func(x vars) *Var[float64] { return PowScalar(x[0], 2.5) }},
		{op: "PowScalar", name: "3 on negatives", inputs: in(uni(1, -2, 2, 2, 3)), f: func(x vars) *Var[float64] { return PowScalar(x[0], 3) }},
		{op: "PowScalar", name: "-0.5", inputs: in(uni(1, 0.5, 2, 4)), f: func(x vars) *Var[float64] { return PowScalar(x[0], -0.5) }},

		// Element-wise unary ops, away from their kinks and poles.
		{op: "Neg", inputs: in(uni(1, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return Neg(x[0]) }},
		{op: "Exp", inputs: in(uni(1, -2, 2, 2, 3)), f: func(x vars) *Var[float64] { return Exp(x[0]) }},
		{op: "Log", inputs: in(uni(1, 0.2, 3, 2, 3)), f: func(x vars) *Var[float64] { return Log(x[0]) }},
		{op: "Sqrt", inputs: in(uni(1, 0.2, 3, 2, 3)), f: func(x vars) *Var[float64] { return Sqrt(x[0]) }},
		{op: "Abs", inputs: in(awayFrom(1, -1, 1, 0.05, []float64{0}, 2, 5)), f: func(x vars) *Var[float64] { return Abs(x[0]) }},
		{op: "Clamp", inputs: in(awayFrom(1, -1, 1, 0.05, []float64{-0.5, 0.5}, 3, 5)), f: func(x vars) *Var[float64] { return Clamp(x[0], -0.5, 0.5) }},
		{op: "Square", inputs: in(uni(1, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return Square(x[0]) }},
		{op: "Reciprocal", inputs: in(awayFrom(1, -2, 2, 0.3, []float64{0}, 2, 3)), f: func(x vars) *Var[float64] { return Reciprocal(x[0]) }},
	}
}

// reductionOpCases lists the gradient checks of the reductions.
func reductionOpCases() []gradCase {
	return []gradCase{
		// Reductions, over every axis pattern that has its own code path.
		{op: "Sum", name: "all", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Sum(x[0]) }},
		{op: "Sum", name: "axis 0", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Sum(x[0], 0) }},
		{op: "Sum", name: "axis -1 keepdim", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Reshape(Sum(x[0], -1), 2, 3, 1) }},
		{op: "Sum", name: "axes 0,2", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Sum(x[0], 0, 2) }},
		{op: "Sum", name: "axes 2,0 keepdim", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Reshape(Sum(x[0], 2, 0), 1, 3, 1) }},
		{op: "SumAll", inputs: in(uni(1, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return SumAll(x[0]) }},
		{op: "Mean", name: "axis -2", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Mean(x[0], -2) }},
		{op: "Mean", name: "axes 1,2 keepdim", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Reshape(Mean(x[0], 1, 2), 2, 1, 1) }},
		{op: "MeanAll", inputs: in(uni(1, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return MeanAll(x[0]) }},
		{op: "Variance", name: "unbiased axis 1", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Variance(x[0], 1, 1) }},
		{op: "Variance", name: "population axes 0,-1 keepdim", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Reshape(Variance(x[0], 0, 0, -1), 1, 3, 1) }},
		{op: "Variance", name: "all", inputs: in(uni(1, -1, 1, 3, 4)), f: func(x vars) *Var[float64] { return Variance(x[0], 1) }},
		{op: "Max", name: "axis 1", inputs: in(spread(1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Max(x[0], 1) }},
		{op: "Max", name: "all", inputs: in(spread(1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Max(x[0]) }},
		{op: "Max", name: "axes 0,-1 keepdim", inputs: in(spread(1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Reshape(Max(x[0], 0, -1), 1, 3, 1) }},
		{op: "Min", name: "axis -1", inputs: in(spread(1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Min(x[0], -1) }},
		{op: "Min", name: "axis 0 keepdim", inputs: in(spread(1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Reshape(Min(x[0], 0), 1, 3, 4) }},
	}
}

// shapeOpCases lists the gradient checks of the shape ops and the matrix
// products.
func shapeOpCases() []gradCase {
	return []gradCase{
		// Shape ops.
		{op: "Reshape", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Reshape(x[0], 4, -1) }},
		{op: "Squeeze", name: "all", inputs: in(uni(1, -1, 1, 2, 1, 3)), f: func(x vars) *Var[float64] { return Squeeze(x[0]) }},
		{op: "Squeeze", name: "axis -1", inputs: in(uni(1, -1, 1, 1, 3, 1)), f: func(x vars) *Var[float64] { return Squeeze(x[0], -1) }},
		{op: "Unsqueeze", inputs: in(uni(1, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return Unsqueeze(x[0], 1) }},
		{op: "Flatten", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Flatten(x[0], 1, -1) }},
		{op: "Transpose", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Transpose(x[0], 0, -1) }},
		{op: "Permute", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Permute(x[0], 1, -1, 0) }},
		{op: "IndexSelect", name: "repeated indices", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return IndexSelect(x[0], 1, []int{2, 0, 2, 2}) }},
		{op: "IndexSelect", name: "axis -1", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return IndexSelect(x[0], -1, []int{3, 1}) }},
		{op: "Narrow", name: "axis 0 (a view)", inputs: in(uni(1, -1, 1, 4, 3)), f: func(x vars) *Var[float64] { return Narrow(x[0], 0, 1, 2) }},
		{op: "Narrow", name: "axis -1 (a copy)", inputs: in(uni(1, -1, 1, 2, 3, 4)), f: func(x vars) *Var[float64] { return Narrow(x[0], -1, 1, 3) }},
		{op: "Concat", name: "axis 1", inputs: in(uni(1, -1, 1, 2, 1, 3), uni(2, -1, 1, 2, 2, 3), uni(3, -1, 1, 2, 3, 3)), f: func(x vars) *Var[float64] { return Concat(1, x[0], x[1], x[2]) }},
		{op: "Concat", name: "axis 0", inputs: in(uni(1, -1, 1, 1, 3), uni(2, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return Concat(0, x[0], x[1]) }},
		{op: "Stack", name: "axis -1", inputs: in(uni(1, -1, 1, 2, 3), uni(2, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return Stack(-1, x[0], x[1]) }},
		{op: "Stack", name: "axis 0", inputs: in(uni(1, -1, 1, 2, 3), uni(2, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return Stack(0, x[0], x[1]) }},
		{op: "BroadcastTo", name: "[4] to [3 4]", bcast: true, inputs: in(uni(1, -1, 1, 4)), f: func(x vars) *Var[float64] { return BroadcastTo(x[0], 3, 4) }},
		{op: "BroadcastTo", name: "[2 1] to [3 2 5]", bcast: true, inputs: in(uni(1, -1, 1, 2, 1)), f: func(x vars) *Var[float64] { return BroadcastTo(x[0], 3, 2, 5) }},
		{op: "Expand", name: "[3 1] to [2 -1 4]", bcast: true, inputs: in(uni(1, -1, 1, 3, 1)), f: func(x vars) *Var[float64] { return Expand(x[0], 2, -1, 4) }},

		// Matrix products, batched with broadcasting, 1-d operands, transposes.
		{op: "MatMul", name: "2-d", inputs: in(uni(1, -1, 1, 3, 4), uni(2, -1, 1, 4, 5)), f: func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{op: "MatMul", name: "[2 3 4]x[4 5]", bcast: true, inputs: in(uni(1, -1, 1, 2, 3, 4), uni(2, -1, 1, 4, 5)), f: func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{op: "MatMul", name: "[3 4]x[2 4 5]", bcast: true, inputs: in(uni(1, -1, 1, 3, 4), uni(2, -1, 1, 2, 4, 5)), f: func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{op: "MatMul", name: "[2 1 3 4]x[3 4 2]", bcast: true, inputs: in(uni(1, -1, 1, 2, 1, 3, 4), uni(2, -1, 1, 3, 4, 2)), f: func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{op: "MatMul", name: "[4]x[2 4 3]", bcast: true, inputs: in(uni(1, -1, 1, 4), uni(2, -1, 1, 2, 4, 3)), f: func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{op: "MatMul", name: "[2 3 4]x[4]", bcast: true, inputs: in(uni(1, -1, 1, 2, 3, 4), uni(2, -1, 1, 4)), f: func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{op: "MatMul", name: "[4]x[4]", inputs: in(uni(1, -1, 1, 4), uni(2, -1, 1, 4)), f: func(x vars) *Var[float64] { return MatMul(x[0], x[1]) }},
		{op: "MatMulT", name: "TN batched a", inputs: in(uni(1, -1, 1, 2, 4, 3), uni(2, -1, 1, 4, 5)), f: func(x vars) *Var[float64] { return MatMulT(x[0], x[1], tensor.Trans, tensor.NoTrans) }},
		{op: "MatMulT", name: "NT batched a", inputs: in(uni(1, -1, 1, 2, 3, 4), uni(2, -1, 1, 5, 4)), f: func(x vars) *Var[float64] { return MatMulT(x[0], x[1], tensor.NoTrans, tensor.Trans) }},
		{op: "MatMulT", name: "TT batched b", inputs: in(uni(1, -1, 1, 4, 3), uni(2, -1, 1, 2, 5, 4)), f: func(x vars) *Var[float64] { return MatMulT(x[0], x[1], tensor.Trans, tensor.Trans) }},
		{op: "MatMulT", name: "NT both batched", inputs: in(uni(1, -1, 1, 2, 3, 4), uni(2, -1, 1, 2, 5, 4)), f: func(x vars) *Var[float64] { return MatMulT(x[0], x[1], tensor.NoTrans, tensor.Trans) }},
	}
}

// nnOpCases lists the gradient checks of the softmaxes, the activations
// and Linear.
func nnOpCases() []gradCase {
	return []gradCase{
		{op: "Softmax", name: "axis -1", inputs: in(uni(1, -2, 2, 3, 5)), f: func(x vars) *Var[float64] { return Softmax(x[0], -1) }},
		{op: "Softmax", name: "axis 0", inputs: in(uni(1, -2, 2, 3, 5)), f: func(x vars) *Var[float64] { return Softmax(x[0], 0) }},
		{op: "LogSoftmax", name: "axis 1 of 3-d", inputs: in(uni(1, -2, 2, 2, 3, 4)), f: func(x vars) *Var[float64] { return LogSoftmax(x[0], 1) }},
		{op: "LogSoftmax", name: "axis -1", inputs: in(uni(2, -3, 3, 4, 6)), f: func(x vars) *Var[float64] { return LogSoftmax(x[0], -1) }},

		// Activations.
		{op: "ReLU", inputs: in(kinkFree(1, 3, 7)), f: func(x vars) *Var[float64] { return ReLU(x[0]) }},
		// AddReLU: |a| >= 0.05 and |b| <= 0.02 keep a+b off the kink.
		{op: "AddReLU", inputs: in(kinkFree(7, 2, 3, 5), uni(8, -0.02, 0.02, 2, 3, 5)), f: func(x vars) *Var[float64] { return AddReLU(x[0], x[1]) }},
		{op: "AddReLU", name: "same input twice", inputs: in(kinkFree(9, 3, 7)), f: func(x vars) *Var[float64] { return AddReLU(x[0], x[0]) }},
		{op: "LeakyReLU", name: "PyTorch's 0.01", inputs: in(kinkFree(2, 3, 7)), f: func(x vars) *Var[float64] { return LeakyReLU(x[0], 0.01) }},
		{op: "LeakyReLU", name: "0.3", inputs: in(kinkFree(3, 3, 7)), f: func(x vars) *Var[float64] { return LeakyReLU(x[0], 0.3) }},
		{op: "GELU", inputs: in(uni(4, -3, 3, 3, 7)), f: func(x vars) *Var[float64] { return GELU(x[0]) }},
		{op: "Sigmoid", inputs: in(uni(5, -4, 4, 3, 7)), f: func(x vars) *Var[float64] { return Sigmoid(x[0]) }},
		{op: "Tanh", inputs: in(uni(6, -2, 2, 3, 7)), f: func(x vars) *Var[float64] { return Tanh(x[0]) }},

		// Linear: x [.., in], w [out, in], b [out] or nil.
		{op: "Linear", name: "2-d with bias", inputs: in(uni(1, -1, 1, 3, 4), uni(2, -1, 1, 5, 4), uni(3, -1, 1, 5)), f: func(x vars) *Var[float64] { return Linear(x[0], x[1], x[2]) }},
		{op: "Linear", name: "3-d input", inputs: in(uni(1, -1, 1, 2, 3, 4), uni(2, -1, 1, 5, 4), uni(3, -1, 1, 5)), f: func(x vars) *Var[float64] { return Linear(x[0], x[1], x[2]) }},
		{op: "Linear", name: "1-d input, no bias", inputs: in(uni(1, -1, 1, 4), uni(2, -1, 1, 5, 4)), f: func(x vars) *Var[float64] { return Linear(x[0], x[1], nil) }},
	}
}

// convPoolOpCases lists the gradient checks of the convolutions and the
// pools.
func convPoolOpCases() []gradCase {
	convWith := func(op func(x, w, b *Var[float64], o Conv2dOptions) *Var[float64]) func(o Conv2dOptions, bias bool) func(x vars) *Var[float64] {
		return func(o Conv2dOptions, bias bool) func(x vars) *Var[float64] {
			return func(x vars) *Var[float64] {
				var b *Var[float64]
				if bias {
					b = x[2]
				}
				return op(x[0], x[1], b, o)
			}
		}
	}
	conv, convReLU, convReLUPool := convWith(Conv2d[float64]), convWith(Conv2dReLU[float64]), convWith(Conv2dReLUMaxPool2x2[float64])
	pool := func(max bool, o Pool2dOptions) func(x vars) *Var[float64] {
		return func(x vars) *Var[float64] {
			if max {
				return MaxPool2d(x[0], o)
			}
			return AvgPool2d(x[0], o)
		}
	}
	return []gradCase{
		// Conv2d: stride, padding, dilation, groups, bias, the 1x1 direct path.
		{op: "Conv2d", name: "3x3 with bias", inputs: in(uni(1, -1, 1, 2, 3, 6, 5), uni(2, -1, 1, 4, 3, 3, 3), uni(3, -1, 1, 4)), f: conv(Conv2dOptions{}, true)},
		{op: "Conv2d", name: "stride 2 padding 1", inputs: in(uni(1, -1, 1, 2, 3, 7, 6), uni(2, -1, 1, 2, 3, 3, 3)), f: conv(Conv2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}, false)},
		{op: "Conv2d", name: "dilation 2 padding (1,2)", inputs: in(uni(1, -1, 1, 1, 2, 8, 7), uni(2, -1, 1, 3, 2, 3, 3), uni(3, -1, 1, 3)), f: conv(Conv2dOptions{Dilation: [2]int{2, 2}, Padding: [2]int{1, 2}}, true)},
		{op: "Conv2d", name: "groups 2", inputs: in(uni(1, -1, 1, 2, 4, 5, 5), uni(2, -1, 1, 6, 2, 3, 3), uni(3, -1, 1, 6)), f: conv(Conv2dOptions{Groups: 2, Padding: [2]int{1, 1}}, true)},
		{op: "Conv2d", name: "depthwise stride (2,1)", inputs: in(uni(1, -1, 1, 1, 2, 5, 5), uni(2, -1, 1, 4, 1, 3, 3)), f: conv(Conv2dOptions{Groups: 2, Stride: [2]int{2, 1}}, false)},
		{op: "Conv2d", name: "non-square 2x3 kernel", inputs: in(uni(1, -1, 1, 2, 2, 6, 7), uni(2, -1, 1, 3, 2, 2, 3), uni(3, -1, 1, 3)), f: conv(Conv2dOptions{Stride: [2]int{1, 2}, Padding: [2]int{1, 0}}, true)},
		{op: "Conv2d", name: "1x1 direct", inputs: in(uni(1, -1, 1, 2, 3, 4, 5), uni(2, -1, 1, 4, 3, 1, 1), uni(3, -1, 1, 4)), f: conv(Conv2dOptions{}, true)},
		{op: "Conv2d", name: "1x1 stride 2", inputs: in(uni(1, -1, 1, 2, 3, 5, 5), uni(2, -1, 1, 2, 3, 1, 1)), f: conv(Conv2dOptions{Stride: [2]int{2, 2}}, false)},
		// Conv2dReLU: with these seeds no output lies within a
		// difference step of the kink at 0.
		{op: "Conv2dReLU", name: "3x3 padding 1 with bias", inputs: in(uni(80, -1, 1, 2, 3, 5, 5), uni(81, -1, 1, 4, 3, 3, 3), uni(82, -1, 1, 4)), f: convReLU(Conv2dOptions{Padding: [2]int{1, 1}}, true)},
		{op: "Conv2dReLU", name: "stride 2 no bias", inputs: in(uni(83, -1, 1, 2, 3, 7, 6), uni(84, -1, 1, 2, 3, 3, 3)), f: convReLU(Conv2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}, false)},
		{op: "Conv2dReLUMaxPool2x2", name: "3x3 padding 1 odd plane with bias", inputs: in(uni(85, -1, 1, 2, 3, 5, 6), uni(86, -1, 1, 4, 3, 3, 3), uni(87, -1, 1, 4)), f: convReLUPool(Conv2dOptions{Padding: [2]int{1, 1}}, true)},
		{op: "Conv2dReLUMaxPool2x2", name: "stride 2 no bias", inputs: in(uni(88, -1, 1, 2, 2, 9, 8), uni(89, -1, 1, 3, 2, 3, 3)), f: convReLUPool(Conv2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}, false)},

		// Pools. Distinct, well-separated values keep max pools off ties.
		{op: "MaxPool2d", name: "2x2", inputs: in(spread(1, 2, 3, 6, 6)), f: pool(true, Pool2dOptions{Kernel: [2]int{2, 2}})},
		{op: "MaxPool2d", name: "3x3 stride 2 padding 1", inputs: in(spread(2, 2, 2, 7, 6)), f: pool(true, Pool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})},
		{op: "MaxPool2d", name: "dilation 2", inputs: in(spread(3, 1, 2, 8, 8)), f: pool(true, Pool2dOptions{Kernel: [2]int{3, 2}, Stride: [2]int{1, 2}, Padding: [2]int{1, 0}, Dilation: [2]int{2, 2}})},
		{op: "AvgPool2d", name: "2x2 odd input", inputs: in(uni(4, -1, 1, 2, 2, 5, 7)), f: pool(false, Pool2dOptions{Kernel: [2]int{2, 2}})},
		{op: "AvgPool2d", name: "3x3 stride 2 padding 1", inputs: in(uni(5, -1, 1, 2, 2, 7, 6)), f: pool(false, Pool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})},
		{op: "AvgPool2d", name: "exclude padding", inputs: in(uni(6, -1, 1, 1, 2, 5, 6)), f: pool(false, Pool2dOptions{Kernel: [2]int{3, 2}, Stride: [2]int{1, 2}, Padding: [2]int{1, 1}, ExcludePad: true})},
		{op: "AdaptiveAvgPool2d", name: "7x5 to 3x2", inputs: in(uni(7, -1, 1, 2, 2, 7, 5)), f: func(x vars) *Var[float64] { return AdaptiveAvgPool2d(x[0], 3, 2) }},
		{op: "AdaptiveAvgPool2d", name: "global", inputs: in(uni(8, -1, 1, 2, 3, 4, 5)), f: func(x vars) *Var[float64] { return AdaptiveAvgPool2d(x[0], 1, 1) }},
		{op: "AdaptiveAvgPool2d", name: "3x3 up to 4x5", inputs: in(uni(9, -1, 1, 1, 2, 3, 3)), f: func(x vars) *Var[float64] { return AdaptiveAvgPool2d(x[0], 4, 5) }},
		{op: "AdaptiveMaxPool2d", name: "7x9 to 3x4", inputs: in(spread(10, 2, 2, 7, 9)), f: func(x vars) *Var[float64] { return AdaptiveMaxPool2d(x[0], 3, 4) }},
		{op: "AdaptiveMaxPool2d", name: "global", inputs: in(spread(11, 2, 2, 5, 5)), f: func(x vars) *Var[float64] { return AdaptiveMaxPool2d(x[0], 1, 1) }},
	}
}

// normOpCases lists the gradient checks of batch norm and dropout.
func normOpCases() []gradCase {
	bn := func(training, running bool) func(x vars) *Var[float64] {
		rm, rv := uni(60, -1, 1, 3), uni(61, 0.5, 2, 3)
		return func(x vars) *Var[float64] {
			var w, b *Var[float64]
			if len(x) == 3 {
				w, b = x[1], x[2]
			}
			m, v := rm.Clone(), rv.Clone()
			if !running {
				m, v = nil, nil
			}
			return BatchNorm(x[0], w, b, m, v, BatchNormOptions{Training: training, Momentum: 0.1, Eps: 1e-5})
		}
	}
	bnRelu := func(training bool) func(x vars) *Var[float64] {
		rm, rv := uni(62, -1, 1, 3), uni(63, 0.5, 2, 3)
		return func(x vars) *Var[float64] {
			return BatchNormReLU(x[0], x[1], x[2], rm.Clone(), rv.Clone(), BatchNormOptions{Training: training, Momentum: 0.1, Eps: 1e-5})
		}
	}
	bnReluPool := func(training bool) func(x vars) *Var[float64] {
		rm, rv := uni(64, -1, 1, 3), uni(65, 0.5, 2, 3)
		return func(x vars) *Var[float64] {
			return BatchNormReLUMaxPool2x2(x[0], x[1], x[2], rm.Clone(), rv.Clone(), BatchNormOptions{Training: training, Momentum: 0.1, Eps: 1e-5})
		}
	}
	convBnReluPool := func(training bool) func(x vars) *Var[float64] {
		rm, rv := uni(72, -1, 1, 3), uni(73, 0.5, 2, 3)
		return func(x vars) *Var[float64] {
			_, out := Conv2dBatchNormReLUMaxPool2x2(x[0], x[1], x[2], Conv2dOptions{Padding: [2]int{1, 1}}, x[3], x[4], rm.Clone(), rv.Clone(),
				BatchNormOptions{Training: training, Momentum: 0.1, Eps: 1e-5})
			return out
		}
	}
	return []gradCase{
		// BatchNorm: training (through the batch statistics) and eval.
		{op: "BatchNorm", name: "train 2-d", inputs: in(uni(1, -1, 1, 5, 3), uni(2, 0.5, 1.5, 3), uni(3, -1, 1, 3)), f: bn(true, true)},
		{op: "BatchNorm", name: "train 4-d", inputs: in(uni(4, -1, 1, 3, 3, 3, 4), uni(5, 0.5, 1.5, 3), uni(6, -1, 1, 3)), f: bn(true, true)},
		{op: "BatchNorm", name: "train 4-d no affine no running", inputs: in(uni(7, -1, 1, 2, 3, 2, 3)), f: bn(true, false)},
		{op: "BatchNorm", name: "eval 2-d", inputs: in(uni(8, -1, 1, 4, 3), uni(9, 0.5, 1.5, 3), uni(10, -1, 1, 3)), f: bn(false, true)},
		{op: "BatchNorm", name: "eval 4-d", inputs: in(uni(11, -1, 1, 2, 3, 3, 3), uni(12, 0.5, 1.5, 3), uni(13, -1, 1, 3)), f: bn(false, true)},
		{op: "BatchNormReLU", name: "train 4-d", inputs: in(uni(14, -1, 1, 3, 3, 3, 4), uni(15, 0.5, 1.5, 3), uni(16, -1, 1, 3)), f: bnRelu(true)},
		{op: "BatchNormReLU", name: "eval 4-d", inputs: in(uni(17, -1, 1, 2, 3, 3, 3), uni(18, 0.5, 1.5, 3), uni(19, -1, 1, 3)), f: bnRelu(false)},
		{op: "BatchNormReLUMaxPool2x2", name: "train odd plane", inputs: in(uni(66, -1, 1, 3, 3, 5, 4), uni(67, 0.5, 1.5, 3), uni(68, -1, 1, 3)), f: bnReluPool(true)},
		{op: "BatchNormReLUMaxPool2x2", name: "eval", inputs: in(uni(69, -1, 1, 2, 3, 4, 4), uni(70, 0.5, 1.5, 3), uni(71, -1, 1, 3)), f: bnReluPool(false)},
		{op: "Conv2dBatchNormReLUMaxPool2x2", name: "train odd plane", inputs: in(uni(74, -1, 1, 2, 2, 5, 4), uni(75, -0.5, 0.5, 3, 2, 3, 3), uni(76, -1, 1, 3), uni(77, 0.5, 1.5, 3), uni(78, -1, 1, 3)), f: convBnReluPool(true)},
		{op: "Conv2dBatchNormReLUMaxPool2x2", name: "eval", inputs: in(uni(79, -1, 1, 2, 2, 4, 4), uni(80, -0.5, 0.5, 3, 2, 3, 3), uni(81, -1, 1, 3), uni(82, 0.5, 1.5, 3), uni(83, -1, 1, 3)), f: convBnReluPool(false)},
		{op: "BatchNorm", name: "eval without running stats", inputs: in(uni(14, -1, 1, 4, 3, 2, 2), uni(15, 0.5, 1.5, 3), uni(16, -1, 1, 3)), f: bn(false, false)},

		// Dropout: every call draws the same mask from a fresh seeded RNG.
		{op: "Dropout", name: "p 0.4", inputs: in(uni(1, -1, 1, 3, 4, 5)), f: func(x vars) *Var[float64] {
			return Dropout(x[0], 0.4, tensor.NewRNG(11))
		}},
	}
}

// lossOpCases lists the gradient checks of the losses.
func lossOpCases() []gradCase {
	ig := 1
	ce := func(targets []int, o ceOpts) func(x vars) *Var[float64] {
		return func(x vars) *Var[float64] { return CrossEntropy(x[0], targets, o.options()...) }
	}
	return []gradCase{
		// Losses.
		{op: "CrossEntropy", name: "mean", inputs: in(uni(1, -3, 3, 4, 5)), f: ce([]int{0, 3, 2, 4}, ceOpts{})},
		{op: "CrossEntropy", name: "sum", inputs: in(uni(2, -3, 3, 4, 5)), f: ce([]int{1, 3, 2, 4}, ceOpts{Reduction: ReductionSum})},
		{op: "CrossEntropy", name: "none", inputs: in(uni(3, -3, 3, 4, 5)), f: ce([]int{1, 0, 2, 4}, ceOpts{Reduction: ReductionNone})},
		{op: "CrossEntropy", name: "label smoothing 0.2", inputs: in(uni(4, -3, 3, 4, 5)), f: ce([]int{0, 3, 2, 1}, ceOpts{LabelSmoothing: 0.2})},
		{op: "CrossEntropy", name: "class weights and smoothing, sum", inputs: in(uni(5, -3, 3, 4, 4)), f: ce([]int{0, 3, 2, 3}, ceOpts{Weight: []float64{0.5, 2, 1, 3}, LabelSmoothing: 0.1, Reduction: ReductionSum})},
		{op: "CrossEntropy", name: "default ignore index", inputs: in(uni(6, -3, 3, 4, 4)), f: ce([]int{0, DefaultIgnoreIndex, 2, 1}, ceOpts{LabelSmoothing: 0.1})},
		{op: "CrossEntropy", name: "ignore index 1, weights, none", inputs: in(uni(7, -3, 3, 4, 4)), f: ce([]int{0, 1, 2, 1}, ceOpts{IgnoreIndex: &ig, Weight: []float64{1, 2, 3, 4}, Reduction: ReductionNone})},
		{op: "NLLLoss", name: "mean", inputs: in(uni(1, -3, 0, 5, 3)), f: func(x vars) *Var[float64] { return NLLLoss(x[0], []int{0, 2, 1, 1, 0}) }},
		{op: "NLLLoss", name: "weights, ignore 0, sum", inputs: in(uni(2, -3, 0, 5, 3)), f: func(x vars) *Var[float64] {
			zero := 0
			return NLLLoss(x[0], []int{0, 2, 1, 1, 0}, ClassWeights(1, 2, 0.5), IgnoreIndex(zero), ReductionSum)
		}},
		{op: "NLLLoss", name: "none", inputs: in(uni(3, -3, 0, 5, 3)), f: func(x vars) *Var[float64] {
			return NLLLoss(x[0], []int{0, 2, 1, 1, 0}, ReductionNone)
		}},
		{op: "MSELoss", name: "mean, both inputs", inputs: in(uni(1, -1, 1, 3, 4), uni(2, -1, 1, 3, 4)), f: func(x vars) *Var[float64] { return MSELoss(x[0], x[1], ReductionMean) }},
		{op: "MSELoss", name: "sum", inputs: in(uni(3, -1, 1, 3, 4), uni(4, -1, 1, 3, 4)), f: func(x vars) *Var[float64] { return MSELoss(x[0], x[1], ReductionSum) }},
		{op: "MSELoss", name: "none", inputs: in(uni(5, -1, 1, 2, 3), uni(6, -1, 1, 2, 3)), f: func(x vars) *Var[float64] { return MSELoss(x[0], x[1], ReductionNone) }},
		{op: "BCEWithLogits", name: "mean, both inputs", inputs: in(uni(1, -4, 4, 3, 4), probs(2, 3, 4)), f: func(x vars) *Var[float64] { return BCEWithLogits(x[0], x[1]) }},
		{op: "BCEWithLogits", name: "pos weight, sum", inputs: in(uni(3, -4, 4, 3, 4), probs(4, 3, 4)), f: func(x vars) *Var[float64] {
			return BCEWithLogits(x[0], x[1], ReductionSum, PosWeight(0.5, 2, 3, 1))
		}},
		{op: "BCEWithLogits", name: "none", inputs: in(uni(5, -4, 4, 2, 3), probs(6, 2, 3)), f: func(x vars) *Var[float64] {
			return BCEWithLogits(x[0], x[1], ReductionNone)
		}},
		{op: "KLDiv", name: "batchmean, both inputs", inputs: in(uni(1, -3, 0, 3, 4), probs(2, 3, 4)), f: func(x vars) *Var[float64] { return KLDiv(x[0], x[1], ReductionBatchMean) }},
		{op: "KLDiv", name: "mean", inputs: in(uni(3, -3, 0, 3, 4), probs(4, 3, 4)), f: func(x vars) *Var[float64] { return KLDiv(x[0], x[1], ReductionMean) }},
		{op: "KLDiv", name: "sum", inputs: in(uni(5, -3, 0, 3, 4), probs(6, 3, 4)), f: func(x vars) *Var[float64] { return KLDiv(x[0], x[1], ReductionSum) }},
		{op: "KLDiv", name: "none", inputs: in(uni(7, -3, 0, 2, 3), probs(8, 2, 3)), f: func(x vars) *Var[float64] { return KLDiv(x[0], x[1], ReductionNone) }},
	}
}

// TestGradCheckEveryOp runs CheckGrad, in float64, on every case of the
// table: analytic gradients with respect to every input against central
// finite differences.
func TestGradCheckEveryOp(t *testing.T) {
	for _, c := range everyOpCases() {
		name := c.op
		if c.name != "" {
			name += "/" + c.name
		}
		t.Run(name, func(t *testing.T) {
			if err := CheckGrad(c.f, c.inputs, c.opts); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestGradCheckCompositions checks ops composed into graphs: inputs used
// more than once, gradients passed through unchanged by Add and views,
// fan-in at every level, a hand-made cross-entropy and a small MLP.
func TestGradCheckCompositions(t *testing.T) {
	cases := []struct {
		name   string
		inputs []*tensor.Tensor64
		f      func(x vars) *Var[float64]
	}{
		{"reuse", in(uni(1, -1, 1, 2, 3), uni(2, -1, 1, 3)), func(x vars) *Var[float64] {
			u := Add(x[0], x[1])
			return Add(Add(u, x[0]), Reshape(Mul(Reshape(u, 3, 2), Reshape(x[0], 3, 2)), 2, 3))
		}},
		{"cross-entropy by hand", in(uni(1, -2, 2, 4, 5), uni(2, -1, 1, 5)), func(x vars) *Var[float64] {
			lp := LogSoftmax(Add(x[0], x[1]), 1)
			picked := Mul(lp, Const(tensor.FromSlice([]float64{
				1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0}, 4, 5)))
			return Neg(MeanAll(Sum(picked, 1)))
		}},
		{"mlp", in(uni(1, -1, 1, 3, 4), uni(2, -1, 1, 5, 4), uni(3, -1, 1, 5), uni(4, -1, 1, 2, 5)), func(x vars) *Var[float64] {
			h := Add(MatMulT(x[0], x[1], tensor.NoTrans, tensor.Trans), x[2])
			h = Mul(h, Exp(Neg(Square(h))))
			return MatMulT(h, x[3], tensor.NoTrans, tensor.Trans)
		}},
		{"conv-bn-relu-pool-linear-ce", in(uni(1, 0, 1, 3, 1, 6, 6), uni(2, -0.5, 0.5, 4, 1, 3, 3), uni(3, 0.5, 1.5, 4), uni(4, -0.2, 0.2, 4), uni(5, -0.5, 0.5, 3, 36)), func(x vars) *Var[float64] {
			h := Conv2d(x[0], x[1], nil, Conv2dOptions{Padding: [2]int{1, 1}})
			h = BatchNorm(h, x[2], x[3], nil, nil, BatchNormOptions{Training: true, Momentum: 0.1, Eps: 1e-5})
			h = Tanh(h) // smooth, so that finite differences see no kink
			h = AvgPool2d(h, Pool2dOptions{Kernel: [2]int{2, 2}})
			return CrossEntropy(Linear(Flatten(h, 1, -1), x[4], nil), []int{0, 2, 1})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := CheckGrad(c.f, c.inputs, CheckOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
}

// exportedOps parses the package's non-test sources and returns, for every
// exported top-level function that returns a *Var, its doc comment.
func exportedOps(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name.Name == "autograd" {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		t.Fatal("package autograd not found in the test's directory")
	}
	returnsVar := func(ft *ast.FuncType) bool {
		if ft.Results == nil {
			return false
		}
		for _, r := range ft.Results.List {
			star, ok := r.Type.(*ast.StarExpr)
			if !ok {
				continue
			}
			x := star.X
			switch ix := x.(type) {
			case *ast.IndexExpr:
				x = ix.X
			case *ast.IndexListExpr:
				x = ix.X
			}
			if id, ok := x.(*ast.Ident); ok && (id.Name == "Var" || id.Name == "Value") {
				return true
			}
		}
		return false
	}
	ops := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !fd.Name.IsExported() || !returnsVar(fd.Type) {
				continue
			}
			ops[fd.Name.Name] = fd.Doc.Text()
		}
	}
	return ops
}

// sameShapes reports whether every input has the same shape.
func sameShapes(ts []*tensor.Tensor64) bool {
	for _, x := range ts[1:] {
		if !tensor.SameShape(x.Shape(), ts[0].Shape()) {
			return false
		}
	}
	return true
}

// TestGradCheckCoversEveryOp fails when an exported op has no case in
// everyOpCases, when an op documented as broadcasting has no case whose
// inputs broadcast, or when the table names an op that does not exist.
func TestGradCheckCoversEveryOp(t *testing.T) {
	ops := exportedOps(t)
	if len(ops) < 60 {
		t.Fatalf("found only %d exported ops; the source parse is broken", len(ops))
	}
	have, bcast := map[string]int{}, map[string]int{}
	for _, c := range everyOpCases() {
		if _, ok := ops[c.op]; !ok {
			t.Errorf("case %s/%s names no exported op of the package", c.op, c.name)
		}
		if _, ok := notOps[c.op]; ok {
			t.Errorf("case %s/%s checks %s, listed as not an op", c.op, c.name, c.op)
		}
		have[c.op]++
		if c.bcast {
			// A broadcasting case must really broadcast: inputs of
			// different shapes, or (one input) an output of another shape.
			out := c.f(func() vars {
				v := make(vars, len(c.inputs))
				for i, x := range c.inputs {
					v[i] = Const(x)
				}
				return v
			}())
			if len(c.inputs) == 1 && tensor.SameShape(out.Shape(), c.inputs[0].Shape()) || len(c.inputs) > 1 && sameShapes(c.inputs) {
				t.Errorf("case %s/%s is marked as broadcasting but its shapes do not broadcast", c.op, c.name)
			}
			bcast[c.op]++
		}
	}
	broadcasts := regexp.MustCompile(`(?i)broadcast`)
	var missing, missingBcast []string
	for op, doc := range ops {
		if _, ok := notOps[op]; ok {
			continue
		}
		if have[op] == 0 {
			missing = append(missing, op)
		}
		if broadcasts.MatchString(doc) && bcast[op] == 0 {
			missingBcast = append(missingBcast, op)
		}
	}
	sort.Strings(missing)
	sort.Strings(missingBcast)
	if len(missing) > 0 {
		t.Errorf("ops without a gradient check in everyOpCases: %v", missing)
	}
	if len(missingBcast) > 0 {
		t.Errorf("ops documented as broadcasting without a broadcasting case: %v", missingBcast)
	}
	for op := range notOps {
		if _, ok := ops[op]; !ok {
			t.Errorf("notOps lists %s, which the package no longer exports", op)
		}
	}
	t.Logf("%d ops, %d cases", len(ops)-len(notOps), len(everyOpCases()))
}

// TestCheckGradFailsOnWrongGradients makes sure the checker the table relies
// on can fail: a recorded op whose backward is off by a small factor, one
// that drops an input's gradient and one that gets a broadcast sum wrong
// must all be reported.
func TestCheckGradFailsOnWrongGradients(t *testing.T) {
	wrong := []struct {
		name   string
		inputs []*tensor.Tensor64
		f      func(x vars) *Var[float64]
	}{
		{"scaled by 1.001", in(uni(1, -1, 1, 3)), func(x vars) *Var[float64] {
			out := tensor.Square(x[0].Data())
			return Record("BadSquare", out, func(g *tensor.Tensor64) []*tensor.Tensor64 {
				d := tensor.MulScalar(x[0].Data(), 2*1.001)
				return []*tensor.Tensor64{tensor.Mul(d, g)}
			}, x[0])
		}},
		{"second input dropped", in(uni(1, -1, 1, 3), uni(2, -1, 1, 3)), func(x vars) *Var[float64] {
			out := tensor.Mul(x[0].Data(), x[1].Data())
			return Record("BadMul", out, func(g *tensor.Tensor64) []*tensor.Tensor64 {
				return []*tensor.Tensor64{tensor.Mul(g, x[1].Data()), nil}
			}, x[0], x[1])
		}},
		{"broadcast mean instead of sum", in(uni(1, -1, 1, 2, 3), uni(2, -1, 1, 3)), func(x vars) *Var[float64] {
			out := tensor.Add(x[0].Data(), x[1].Data())
			return Record("BadAdd", out, func(g *tensor.Tensor64) []*tensor.Tensor64 {
				return []*tensor.Tensor64{g, tensor.Mean(g, 0)}
			}, x[0], x[1])
		}},
	}
	for _, c := range wrong {
		t.Run(c.name, func(t *testing.T) {
			err := CheckGrad(c.f, c.inputs, CheckOptions{})
			if err == nil {
				t.Fatal("CheckGrad accepted a wrong gradient")
			}
			if !strings.Contains(err.Error(), "element") {
				t.Errorf("error %q does not name the element", err)
			}
		})
	}
	// And a right one passes with a tight tolerance, so the default is not
	// loose by accident.
	if err := CheckGrad(func(x vars) *Var[float64] { return Exp(x[0]) }, in(uni(3, -1, 1, 5)), CheckOptions{ATol: 1e-9, RTol: 1e-7}); err != nil {
		t.Errorf("exact gradient rejected at tight tolerance: %v", err)
	}
}
