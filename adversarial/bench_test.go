package adversarial

import (
	"context"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// BenchmarkPGD20SmallCNN is the attack part of W3 (BENCHMARKS.md): PGD-20,
// Linf eps 0.1, step 0.01, random start, on a batch of 250 1x28x28 images
// through SmallCNN in attack mode. img/s = 250 / (ns/op * 1e-9).
func BenchmarkPGD20SmallCNN(b *testing.B) {
	m := models.NewSmallCNN(10, tensor.NewRNG(1))
	x := tensor.Uniform[float32](tensor.NewRNG(2), 0, 1, 250, 1, 28, 28)
	y := make([]int, 250)
	for i := range y {
		y[i] = i % 10
	}
	a := PGD{Steps: 20, Alpha: 0.01, RandomStart: true}
	tm := ThreatModel{Norm: Linf, Eps: 0.1}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Run(context.Background(), a, m, x, Untargeted(y), tm); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(250*b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkInputGradientSmallCNN is one attack step's forward and
// input-only backward on 250 images, the unit of PGD's cost.
func BenchmarkInputGradientSmallCNN(b *testing.B) {
	m := models.NewSmallCNN(10, tensor.NewRNG(1))
	x := tensor.Uniform[float32](tensor.NewRNG(2), 0, 1, 250, 1, 28, 28)
	y := make([]int, 250)
	err := WithAttackMode(m, func(mm *Model) error {
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, _, err := mm.Gradient(x, Untargeted(y), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTrainStepSmallCNN is a forward and full backward (weights
// included) on the same batch, for comparison with the attack step.
func BenchmarkTrainStepSmallCNN(b *testing.B) {
	m := models.NewSmallCNN(10, tensor.NewRNG(1))
	layers.Eval(m)
	x := tensor.Uniform[float32](tensor.NewRNG(2), 0, 1, 250, 1, 28, 28)
	y := make([]int, 250)
	for i := 0; i < b.N; i++ {
		loss := autograd.CrossEntropy(layers.Call(m, autograd.Const(x)), y, nil)
		loss.Backward()
		layers.ZeroGrad(m)
	}
}
