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
	benchInference(b, m, tensor.Normal[float32](rng, 0, 1, 256, 3, 32, 32))
}

// benchInference measures m's eval forward on x without gradients, after
// one untimed call, in images per second.
func benchInference(b *testing.B, m layers.Module, x *tensor.Tensor) {
	layers.Eval(m)
	xv := autograd.Const(x)
	run := func() { autograd.NoGrad(func() { layers.Call(m, xv) }) }
	run()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(x.Shape()[0])*float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

// w5Model is W5's network: torchvision's ResNet-34 with a 37-class head.
func w5Model(rng *tensor.RNG) *ResNet {
	cfg, _ := ResNet34.ResNetConfig(3, 37)
	return NewResNet(cfg, rng)
}

// BenchmarkResNet34TrainStep is one W5 training step: 224 pixels, batch 32,
// SGD momentum, every parameter trains.
func BenchmarkResNet34TrainStep(b *testing.B) {
	rng := tensor.NewRNG(1)
	m := w5Model(rng)
	opt := optim.NewSGD(optim.Params(layers.Parameters(m)...), optim.LR(0.01), optim.Momentum(0.9))
	benchTrainStep(b, m, opt, tensor.Uniform[float32](rng, 0, 1, 32, 3, 224, 224), labelsFor(rng, 32))
}

// BenchmarkResNet34FrozenStep is one W5 frozen-body step: the convolution
// weights do not train, BatchNorm and fc do (fine-tuning's first phase).
func BenchmarkResNet34FrozenStep(b *testing.B) {
	rng := tensor.NewRNG(1)
	m := w5Model(rng)
	var trainable []*autograd.Value
	for _, np := range layers.NamedParameters(m) {
		if len(np.Param.Shape()) == 4 {
			np.Param.SetRequiresGrad(false)
		} else {
			trainable = append(trainable, np.Param)
		}
	}
	opt := optim.NewSGD(optim.Params(trainable...), optim.LR(0.01), optim.Momentum(0.9))
	benchTrainStep(b, m, opt, tensor.Uniform[float32](rng, 0, 1, 32, 3, 224, 224), labelsFor(rng, 32))
}

// BenchmarkResNet34Inference is W5's inference: eval, no grad, batch 64.
func BenchmarkResNet34Inference(b *testing.B) {
	rng := tensor.NewRNG(1)
	m := w5Model(rng)
	benchInference(b, m, tensor.Uniform[float32](rng, 0, 1, 64, 3, 224, 224))
}
