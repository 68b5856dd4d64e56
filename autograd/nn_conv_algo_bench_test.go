package autograd

import (
	"fmt"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// convBenchShapes are the 3x3 convolutions of the SmallCNN's conv2 (batch
// 128), ResNet-18 on CIFAR (batch 64, 32x32) and ResNet-34 at 224 pixels
// (batch 32), one per stage.
var convBenchShapes = []struct {
	name             string
	n, c, hw, stride int
}{
	{"smallcnn-32x14", 128, 32, 14, 1},
	{"r18cifar-stem-3x32", 64, 3, 32, 1},
	{"r18cifar-64x32", 64, 64, 32, 1},
	{"r18cifar-128x16", 64, 128, 16, 1},
	{"r18cifar-256x8", 64, 256, 8, 1},
	{"r18cifar-512x4", 64, 512, 4, 1},
	{"r34-64x56", 32, 64, 56, 1},
	{"r34-128x28", 32, 128, 28, 1},
	{"r34-256x14", 32, 256, 14, 1},
	{"r34-512x7", 32, 512, 7, 1},
}

// BenchmarkConvAlgo times each pass of each algorithm on the ResNet layer
// shapes, reporting GFLOP/s counted as the direct convolution's 2*N*Cout*
// OH*OW*Cin*9 (so that algorithms compare at equal work; Winograd's own
// multiplications are a quarter of it). This machine's peak (AMD Zen 3,
// AVX2+FMA) is about 102 GFLOP/s per core.
//
//	go test -run '^$' -bench ConvAlgo -benchtime 3x ./autograd/
func BenchmarkConvAlgo(b *testing.B) {
	for _, s := range convBenchShapes {
		cin := s.c
		cout := max(64, s.c)
		p := newConvPlan([]int{s.n, cin, s.hw, s.hw}, []int{cout, cin, 3, 3}, &Conv2dOptions{Padding: [2]int{1, 1}, Stride: [2]int{s.stride, s.stride}})
		rng := tensor.NewRNG(1)
		x := tensor.Uniform[float32](rng, -1, 1, s.n, cin, s.hw, s.hw)
		w := tensor.Uniform[float32](rng, -0.1, 0.1, cout, cin, 3, 3)
		gy := tensor.Uniform[float32](rng, -1, 1, s.n, cout, p.oh, p.ow)
		out := tensor.Empty[float32](s.n, cout, p.oh, p.ow)
		gx, gw := tensor.Empty[float32](x.Shape()...), tensor.Empty[float32](w.Shape()...)
		flops := 2.0 * float64(s.n*cout*p.oh*p.ow*cin*9)
		for _, a := range []convAlgorithm{convAlgorithms[1], convAlgorithms[2]} {
			for _, pass := range []string{"fwd", "dx", "dw"} {
				b.Run(fmt.Sprintf("%s/%s/%s", s.name, map[bool]string{false: "gemm", true: "winograd"}[a.wino], pass), func(b *testing.B) {
					defer a.use()()
					convPacked = 0 // the shape's own GEMM path
					for b.Loop() {
						switch pass {
						case "fwd":
							convForward(p, x.Data(), w.Data(), nil, out.Data(), false, nil)
						case "dx":
							convBackward(p, x.Data(), w.Data(), gy.Data(), gx, nil, nil)
						case "dw":
							convBackward(p, x.Data(), w.Data(), gy.Data(), nil, gw, nil)
						}
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
