package attacks

import (
	"context"
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// BenchmarkPGD20SmallCNN is the attack part of W3 (docs/performance.md): PGD-20,
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
		loss := autograd.CrossEntropy(layers.Call(m, autograd.Const(x)), y)
		loss.Backward()
		layers.ZeroGrad(m)
	}
}

// benchQueries runs a black-box attack on 64 random 1x28x28 images through
// an untrained SmallCNN, away from its own predictions, and reports the
// queries answered per second (the oracle's forward passes and the attack's
// own work).
func benchQueries(b *testing.B, a BlackBoxAttack, access Access, tm ThreatModel) {
	m := models.NewSmallCNN(10, tensor.NewRNG(1))
	x := tensor.Uniform[float32](tensor.NewRNG(2), 0, 1, 64, 1, 28, 28)
	var o *Oracle
	if access == LabelAccess {
		o = NewLabelOracle(m, 0)
	} else {
		o = NewScoreOracle(m, 0)
	}
	queries := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := RunBlackBox(context.Background(), a, o, x, Untargeted(nil), tm)
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range r.Queries {
			queries += q
		}
	}
	b.ReportMetric(float64(queries)/b.Elapsed().Seconds(), "queries/s")
}

// BenchmarkSquareSmallCNN is Square's random search (200 queries per
// sample, Linf 0.01, too small to fool most samples).
func BenchmarkSquareSmallCNN(b *testing.B) {
	benchQueries(b, Square{Queries: 200}, ScoreAccess, ThreatModel{Norm: Linf, Eps: 0.01})
}

// BenchmarkHopSkipJumpSmallCNN is HopSkipJump's label-only search (500
// queries per sample, unbounded L2).
func BenchmarkHopSkipJumpSmallCNN(b *testing.B) {
	benchQueries(b, HopSkipJump{Queries: 500}, LabelAccess, ThreatModel{Norm: L2, Eps: math.Inf(1)})
}

// benchWhiteBox runs a white-box attack on 64 random 1x28x28 images through
// an untrained SmallCNN and reports images per second.
func benchWhiteBox(b *testing.B, a Attack, tm ThreatModel) {
	m := models.NewSmallCNN(10, tensor.NewRNG(1))
	x := tensor.Uniform[float32](tensor.NewRNG(2), 0, 1, 64, 1, 28, 28)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Run(context.Background(), a, m, x, Untargeted(nil), tm); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkFABTSmallCNN is FAB-T (20 steps, 3 targets, Linf): one backward
// and two forward passes per step and target.
func BenchmarkFABTSmallCNN(b *testing.B) {
	benchWhiteBox(b, FABT{Steps: 20, Targets: 3}, ThreatModel{Norm: Linf, Eps: math.Inf(1)})
}

// BenchmarkFABSmallCNN is untargeted FAB (10 steps, L2): the Jacobian of
// the 10 logits (10 backward passes) per step.
func BenchmarkFABSmallCNN(b *testing.B) {
	benchWhiteBox(b, FAB{Steps: 10}, ThreatModel{Norm: L2, Eps: math.Inf(1)})
}

// BenchmarkAPGDL1SmallCNN is L1-APGD-CE (20 steps, eps 5): a sort of each
// gradient and an exact L1-and-box projection per step.
func BenchmarkAPGDL1SmallCNN(b *testing.B) {
	benchWhiteBox(b, APGD{Steps: 20}, ThreatModel{Norm: L1, Eps: 5})
}
