package adversarial

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// TestGaussianNoise: training batches get N(0, sigma^2) noise (checked by
// its moments), fresh per batch and repeatable by seed; validation batches
// are untouched.
func TestGaussianNoise(t *testing.T) {
	run := func(seed uint64) [][]float32 {
		l := testmodels.SynthLearner(1)
		var orig *tensor.Tensor
		var noise [][]float32
		before := spy{TrainerOrder - 1, func(l *learner.Learner, e learner.Event) error {
			if e == learner.BeforeBatch {
				orig = l.XB.Data().Clone()
			}
			return nil
		}}
		after := spy{TrainerOrder + 1, func(l *learner.Learner, e learner.Event) error {
			if e != learner.BeforeBatch {
				return nil
			}
			x := l.XB.Data().Data()
			if !l.Training {
				if !slices.Equal(x, orig.Data()) {
					t.Error("a validation batch was changed")
				}
				return nil
			}
			nz := make([]float32, len(x))
			for j := range x {
				nz[j] = x[j] - orig.Data()[j]
			}
			noise = append(noise, nz)
			return nil
		}}
		if err := l.Fit(context.Background(), 1, learner.Callbacks(&GaussianNoise{Sigma: 0.3, Seed: seed}, before, after)); err != nil {
			t.Fatal(err)
		}
		return noise
	}
	a, b := run(1), run(1)
	var s, s2 float64
	var n int
	for k, nz := range a {
		if !slices.Equal(nz, b[k]) {
			t.Fatal("the same seed gave different noise")
		}
		if k > 0 && slices.Equal(nz, a[k-1]) {
			t.Fatal("two batches got the same noise")
		}
		for _, v := range nz {
			s, s2, n = s+float64(v), s2+float64(v)*float64(v), n+1
		}
	}
	mean, sd := s/float64(n), math.Sqrt(s2/float64(n)-(s/float64(n))*(s/float64(n)))
	if math.Abs(mean) > 0.01 || math.Abs(sd-0.3) > 0.01 {
		t.Errorf("noise mean %.4f sd %.4f over %d values, want 0 and 0.3", mean, sd, n)
	}
	if err := testmodels.SynthLearner(1).Fit(context.Background(), 1, learner.Callbacks(&GaussianNoise{})); err == nil {
		t.Error("sigma 0 accepted")
	}
}
