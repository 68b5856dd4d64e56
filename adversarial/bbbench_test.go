package adversarial

import (
	"context"
	"math"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/models"
)

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
