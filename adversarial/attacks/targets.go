package attacks

import (
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/tensor"
)

// RunnerUpTargets returns, for each row of outputs [N, C], the most likely
// class other than labels[i]: the runner-up when the model predicts the
// label, the nearest class in score. It is the easiest target of a sample
// and the one minimum-norm attacks usually reach first. With labels nil the
// model's own top class of each row plays the label (the runner-up of the
// prediction). Ties go to the lower class; NaN scores are skipped (a row of
// NaNs targets the first class other than its label).
func RunnerUpTargets(outputs *tensor.Tensor, labels []int) Targeted {
	if outputs.Rank() != 2 || outputs.Dim(1) < 2 {
		panic(fastgo.Errorf("attacks.RunnerUpTargets: outputs of shape %v, want [N, C] with C >= 2", outputs.Shape()))
	}
	n, c := outputs.Dim(0), outputs.Dim(1)
	if labels == nil {
		labels = Predictions(outputs)
		for i, p := range labels {
			if p < 0 {
				labels[i] = 0
			}
		}
	}
	checkTargetArgs("RunnerUpTargets", labels, c)
	if len(labels) != n {
		panic(fastgo.Errorf("attacks.RunnerUpTargets: %d labels for outputs of shape %v", len(labels), outputs.Shape()))
	}
	t := make(Targeted, n)
	for i, y := range labels {
		row := outputs.Data()[i*c : (i+1)*c]
		best := -1
		for j, v := range row {
			if j == y || math.IsNaN(float64(v)) {
				continue
			}
			if best < 0 || v > row[best] {
				best = j
			}
		}
		if best < 0 {
			best = (y + 1) % c
		}
		t[i] = best
	}
	return t
}
