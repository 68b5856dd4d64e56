package autograd

import (
	"fmt"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/tensor"
)

// convBenchLayer is one convolution of the SmallCNN of docs/performance.md (W2) at
// batch 128, float32.
type convBenchLayer struct {
	name         string
	cin, hw      int
	cout         int
	x, w, b, gy  *tensor.Tensor
	inputIsImage bool // the first layer's input is data: no gradient in training
}

func newConvBenchLayer(name string, cin, hw, cout int, image bool) *convBenchLayer {
	const batch = 128
	rng := tensor.NewRNG(uint64(cin*1000 + cout))
	return &convBenchLayer{
		name: name, cin: cin, hw: hw, cout: cout, inputIsImage: image,
		x:  tensor.Uniform[float32](rng, 0, 1, batch, cin, hw, hw),
		w:  tensor.Uniform[float32](rng, -0.3, 0.3, cout, cin, 3, 3),
		b:  tensor.Uniform[float32](rng, -0.1, 0.1, cout),
		gy: tensor.Uniform[float32](rng, -1, 1, batch, cout, hw, hw),
	}
}

// step runs forward and backward once. In training the weight and bias
// require gradients (and the input unless it is the image); frozen is the
// attack case: only the input gradient.
func (l *convBenchLayer) step(frozen bool) {
	x := leaf(l.x, frozen || !l.inputIsImage)
	w, b := leaf(l.w, !frozen), leaf(l.b, !frozen)
	y := Conv2d(x, w, b, Conv2dOptions{Padding: [2]int{1, 1}})
	y.BackwardWith(l.gy)
}

// BenchmarkConv2dSmallCNN measures Conv2d forward + backward on the SmallCNN
// shapes at batch 128: conv1 (1->32, 3x3 pad 1, 28x28), conv2 (32->64, 3x3
// pad 1, 14x14), and both; "train" computes weight, bias and (for conv2)
// input gradients, "frozen" only the input gradient, as an attack does.
func BenchmarkConv2dSmallCNN(b *testing.B) {
	conv1 := newConvBenchLayer("conv1", 1, 28, 32, true)
	conv2 := newConvBenchLayer("conv2", 32, 14, 64, false)
	for _, mode := range []string{"train", "frozen"} {
		frozen := mode == "frozen"
		for _, layers := range [][]*convBenchLayer{{conv1}, {conv2}, {conv1, conv2}} {
			name := layers[0].name
			if len(layers) == 2 {
				name = "conv1+conv2"
			}
			b.Run(name+"/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				for _, l := range layers {
					l.step(frozen) // warm the buffer pools
				}
				cpu := processCPUTime()
				for b.Loop() {
					for _, l := range layers {
						l.step(frozen)
					}
				}
				reportCPU(b, cpu)
			})
		}
	}
}

// BenchmarkConv2dForwardSmallCNN measures the forward pass alone, without
// recording a graph (inference).
func BenchmarkConv2dForwardSmallCNN(b *testing.B) {
	for _, l := range []*convBenchLayer{newConvBenchLayer("conv1", 1, 28, 32, true), newConvBenchLayer("conv2", 32, 14, 64, false)} {
		b.Run(l.name, func(b *testing.B) {
			b.ReportAllocs()
			x, w, bias := Const(l.x), Const(l.w), Const(l.b)
			cpu := processCPUTime()
			for b.Loop() {
				Conv2d(x, w, bias, Conv2dOptions{Padding: [2]int{1, 1}})
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkSmallCNNOps measures forward + backward of the other SmallCNN
// ops at batch 128, float32, on conv1's output shape [128, 32, 28, 28].
func BenchmarkSmallCNNOps(b *testing.B) {
	rng := tensor.NewRNG(9)
	x := tensor.Uniform[float32](rng, -1, 1, 128, 32, 28, 28)
	gy := tensor.Uniform[float32](rng, -1, 1, 128, 32, 28, 28)
	gyPool := tensor.Uniform[float32](rng, -1, 1, 128, 32, 14, 14)
	weight, bias := tensor.Full[float32](1, 32), tensor.New[float32](32)
	rm, rv := tensor.New[float32](32), tensor.Full[float32](1, 32)
	logits := tensor.Uniform[float32](rng, -3, 3, 128, 10)
	fcX := tensor.Uniform[float32](rng, -1, 1, 128, 3136)
	fcW := tensor.Uniform[float32](rng, -0.02, 0.02, 128, 3136)
	fcB := tensor.New[float32](128)
	fcG := tensor.Uniform[float32](rng, -1, 1, 128, 128)
	targets := make([]int, 128)
	for i := range targets {
		targets[i] = i % 10
	}
	cases := []struct {
		name string
		run  func()
	}{
		{"BatchNorm-train", func() {
			xv := Param(x)
			BatchNorm(xv, Param(weight), Param(bias), rm, rv, BatchNormOptions{Training: true, Momentum: 0.1, Eps: 1e-5}).BackwardWith(gy)
		}},
		{"BatchNorm-eval-frozen", func() {
			xv := Param(x)
			BatchNorm(xv, Const(weight), Const(bias), rm, rv, BatchNormOptions{Training: false, Momentum: 0.1, Eps: 1e-5}).BackwardWith(gy)
		}},
		{"ReLU", func() { ReLU(Param(x)).BackwardWith(gy) }},
		{"MaxPool2d-2x2", func() {
			MaxPool2d(Param(x), Pool2dOptions{Kernel: [2]int{2, 2}}).BackwardWith(gyPool)
		}},
		{"CrossEntropy", func() { CrossEntropy(Param(logits), targets).Backward() }},
		{"Linear-3136x128", func() {
			Linear(Param(fcX), Param(fcW), Param(fcB)).BackwardWith(fcG)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			c.run()
			cpu := processCPUTime()
			for b.Loop() {
				c.run()
			}
			reportCPU(b, cpu)
		})
	}
}

// reportCPU reports the process CPU time per op since start (all threads,
// GC included) as cpu-ms/op, when the platform measures it.
func reportCPU(b *testing.B, start time.Duration) {
	if d := processCPUTime() - start; d > 0 {
		b.ReportMetric(float64(d)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

// smallCNN holds the parameters of docs/performance.md's SmallCNN, float32.
type smallCNN struct {
	conv1W, conv1B, bn1W, bn1B, conv2W, conv2B, bn2W, bn2B, fc1W, fc1B, fc2W, fc2B *Value
	rm1, rv1, rm2, rv2                                                             *tensor.Tensor
}

func newSmallCNN(trainable bool) *smallCNN {
	rng := tensor.NewRNG(3)
	p := func(lim float32, shape ...int) *Value {
		return leaf(tensor.Uniform[float32](rng, -lim, lim, shape...), trainable)
	}
	return &smallCNN{
		conv1W: p(0.33, 32, 1, 3, 3), conv1B: p(0.33, 32),
		bn1W: leaf(tensor.Full[float32](1, 32), trainable), bn1B: leaf(tensor.New[float32](32), trainable),
		conv2W: p(0.06, 64, 32, 3, 3), conv2B: p(0.06, 64),
		bn2W: leaf(tensor.Full[float32](1, 64), trainable), bn2B: leaf(tensor.New[float32](64), trainable),
		fc1W: p(0.018, 128, 3136), fc1B: p(0.018, 128),
		fc2W: p(0.09, 10, 128), fc2B: p(0.09, 10),
		rm1: tensor.New[float32](32), rv1: tensor.Full[float32](1, 32),
		rm2: tensor.New[float32](64), rv2: tensor.Full[float32](1, 64),
	}
}

// loss runs the SmallCNN forward and the mean cross-entropy.
func (m *smallCNN) loss(x *Value, targets []int, training bool) *Value {
	pad1 := Conv2dOptions{Padding: [2]int{1, 1}}
	pool := Pool2dOptions{Kernel: [2]int{2, 2}}
	// Each intermediate is consumed, as the models of vision/models do, so
	// that a warm step recycles its buffers.
	h := Conv2d(x, m.conv1W, m.conv1B, pad1)
	h = Consumed(h, BatchNorm(h, m.bn1W, m.bn1B, m.rm1, m.rv1, BatchNormOptions{Training: training, Momentum: 0.1, Eps: 1e-5}))
	h = Consumed(h, ReLU(h))
	h = Consumed(h, MaxPool2d(h, pool))
	h = Consumed(h, Conv2d(h, m.conv2W, m.conv2B, pad1))
	h = Consumed(h, BatchNorm(h, m.bn2W, m.bn2B, m.rm2, m.rv2, BatchNormOptions{Training: training, Momentum: 0.1, Eps: 1e-5}))
	h = Consumed(h, ReLU(h))
	h = Consumed(h, MaxPool2d(h, pool))
	h = Consumed(h, Flatten(h, 1, -1))
	h = Consumed(h, Linear(h, m.fc1W, m.fc1B))
	h = Consumed(h, ReLU(h))
	return CrossEntropy(Linear(h, m.fc2W, m.fc2B), targets)
}

// BenchmarkSmallCNNStep measures the SmallCNN forward, loss and backward at
// batch 128, float32, with the ops of this package (no optimizer step):
// "train" with trainable parameters and batch statistics, "attack" with
// frozen parameters in eval mode, differentiating with respect to the input.
func BenchmarkSmallCNNStep(b *testing.B) {
	rng := tensor.NewRNG(5)
	x := tensor.Uniform[float32](rng, 0, 1, 128, 1, 28, 28)
	targets := make([]int, 128)
	for i := range targets {
		targets[i] = rng.IntN(10)
	}
	for _, mode := range []string{"train", "attack"} {
		b.Run(mode, func(b *testing.B) {
			train := mode == "train"
			m := newSmallCNN(train)
			params := []*Value{m.conv1W, m.conv1B, m.bn1W, m.bn1B, m.conv2W, m.conv2B, m.bn2W, m.bn2B, m.fc1W, m.fc1B, m.fc2W, m.fc2B}
			step := func() {
				for _, p := range params {
					p.ZeroGrad()
				}
				if train {
					m.loss(Const(x), targets, train).Backward()
					return
				}
				xv := Param(x)
				Grads(m.loss(xv, targets, train), xv)[0].Release()
			}
			b.ReportAllocs()
			step()
			cpu := processCPUTime()
			for b.Loop() {
				step()
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkConv2dStrided is the forward of ResNet-18 CIFAR's stage-3
// downsampling convolutions at batch 256: the 3x3 stride-2 one and the 1x1
// stride-2 shortcut, whose B is packed by unfold.row.
func BenchmarkConv2dStrided(b *testing.B) {
	for _, k := range []int{3, 1} {
		b.Run(fmt.Sprintf("%dx%d", k, k), func(b *testing.B) {
			rng := tensor.NewRNG(1)
			x := Const(tensor.Uniform[float32](rng, -1, 1, 256, 128, 16, 16))
			w := Const(tensor.Uniform[float32](rng, -1, 1, 256, 128, k, k))
			o := Conv2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{k / 2, k / 2}}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Conv2d(x, w, nil, o).Data().Release()
			}
		})
	}
}

// BenchmarkConv2dSame is the forward of ResNet-18 CIFAR's 3x3 same
// convolutions at batch 256, stage 1 (64 channels, 32x32) and stage 4 (512
// channels, 4x4), with a bias and the ReLU as in eval with BatchNorm
// folded: the wide-grid GEMM and the compaction of its output.
func BenchmarkConv2dSame(b *testing.B) {
	for _, c := range []struct{ ch, hw int }{{64, 32}, {512, 4}} {
		b.Run(fmt.Sprintf("c%d_%dx%d", c.ch, c.hw, c.hw), func(b *testing.B) {
			rng := tensor.NewRNG(1)
			x := Const(tensor.Uniform[float32](rng, -1, 1, 256, c.ch, c.hw, c.hw))
			w := Const(tensor.Uniform[float32](rng, -1, 1, c.ch, c.ch, 3, 3))
			bias := Const(tensor.Uniform[float32](rng, -1, 1, c.ch))
			o := Conv2dOptions{Padding: [2]int{1, 1}}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Conv2dReLU(x, w, bias, o).Data().Release()
			}
		})
	}
}
