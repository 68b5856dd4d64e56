package models

import (
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/optim"
	"github.com/fastgo-ml/fastgo/tensor"
)

// benchTrainStep times one training step of m (zero grad, forward,
// cross-entropy, backward, optimizer step) on a fixed batch, reporting
// allocations: a warm step should allocate almost nothing.
func benchTrainStep(b *testing.B, m layers.Module, opt optim.Optimizer, x *tensor.Tensor, y []int) {
	layers.Train(m)
	step := func() {
		opt.ZeroGrad()
		autograd.CrossEntropy(layers.Call(m, autograd.Const(x)), y).Backward()
		opt.Step()
	}
	step()
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
	b.ReportMetric(float64(x.Dim(0))*float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

func labelsFor(rng *tensor.RNG, n int) []int {
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(10)
	}
	return y
}

// BenchmarkSmallCNNTrainStep is one W2 step: SmallCNN, batch 128, Adam.
func BenchmarkSmallCNNTrainStep(b *testing.B) {
	rng := tensor.NewRNG(1)
	m := NewSmallCNN(10, rng)
	opt := optim.NewAdam(optim.Params(layers.Parameters(m)...), optim.LR(1e-3))
	benchTrainStep(b, m, opt, tensor.Uniform[float32](rng, 0, 1, 128, 1, 28, 28), labelsFor(rng, 128))
}

// BenchmarkCIFARResNet18TrainStep is one W4 step: batch 64, SGD momentum.
func BenchmarkCIFARResNet18TrainStep(b *testing.B) {
	rng := tensor.NewRNG(1)
	m := NewCIFARResNet18(3, 10, rng)
	opt := optim.NewSGD(optim.Params(layers.Parameters(m)...), optim.LR(0.01), optim.Momentum(0.9))
	benchTrainStep(b, m, opt, tensor.Normal[float32](rng, 0, 1, 64, 3, 32, 32), labelsFor(rng, 64))
}

// BenchmarkCIFARResNet18Inference is W4's inference: eval, no grad, batch 256.
func BenchmarkCIFARResNet18Inference(b *testing.B) {
	rng := tensor.NewRNG(1)
	m := NewCIFARResNet18(3, 10, rng)
	layers.Eval(m)
	x := autograd.Const(tensor.Normal[float32](rng, 0, 1, 256, 3, 32, 32))
	run := func() { autograd.NoGrad(func() { layers.Call(m, x) }) }
	run()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.ReportMetric(256*float64(b.N)/b.Elapsed().Seconds(), "img/s")
}
