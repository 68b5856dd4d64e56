// Package autograd is fastgo's define-by-run reverse-mode automatic
// differentiation.
//
// A Var wraps a tensor. Ops record, on the Var they return, the inputs and a
// backward function; Backward walks that graph once in reverse topological
// order, adds gradients into the leaves that require them, and frees the
// graph. Work is done only where a gradient is wanted: an op whose inputs
// require none records nothing, and a backward function skips the gradient of
// every input that does not require one (so an attack, whose parameters are
// frozen, never computes weight gradients).
//
// Var is generic over float32 and float64: models run in float32 (Value), and
// CheckGrad runs ops in float64 so that finite differences are trustworthy.
//
// NoGrad turns recording off, as torch.no_grad does. Grads returns gradients
// with respect to chosen Vars (torch.autograd.grad), which attacks use to
// differentiate with respect to their inputs.
//
// # Ops
//
// Every op of package tensor that has a gradient is here (element-wise
// arithmetic with broadcasting, exp, log, sqrt, pow, abs, clamp,
// maximum/minimum, where, reductions with keepdim, shape ops, batched
// MatMul, softmax and log-softmax), with the network ops: Linear, Conv2d
// (stride, padding, dilation, groups), MaxPool2d, AvgPool2d, the adaptive
// pools, BatchNorm (training, with running statistics, and eval), Dropout,
// ReLU, LeakyReLU, GELU, Sigmoid, Tanh, and the losses CrossEntropy
// (integer targets, label smoothing, class weights, ignored index,
// reductions none/mean/sum), NLLLoss, MSELoss, BCEWithLogits and KLDiv.
// BatchNormReLU and Conv2dReLU are the fused forms that models use where a
// ReLU follows (the same values, a pass over memory less);
// BatchNormReLUMaxPool2x2 and Conv2dBatchNormReLUMaxPool2x2 those of a small
// CNN's Conv → BatchNorm → ReLU → MaxPool block, and Conv2dReLUMaxPool2x2
// that block in eval mode once the batch-norm is folded into the
// convolution (as an attack runs it). New ops are written with Record.
//
// # Checking gradients
//
// CheckGrad compares an op's backward with central finite differences in
// float64. The package's tests run it on every exported op, broadcasting
// cases included, and fail when an op has no such check.
//
// Shape mismatches inside an op are programmer errors and panic with the op
// and the shapes named.
package autograd
