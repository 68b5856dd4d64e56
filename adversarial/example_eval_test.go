package adversarial_test

import (
	"context"
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/adversarial"
	"github.com/fastgo-ml/fastgo/tensor"
)

// EvaluateRobustness runs a suite (here the standard one at two eps) and
// returns a report: clean and robust accuracies, the AutoAttack-style
// worst case, and the gradient-masking checks. The report prints as a
// table (WriteTable) and saves as JSON, Markdown and PNG files (Save).
func ExampleEvaluateRobustness() {
	model := tinyModel() // a hand-set linear classifier of 2x2 images
	// The Linf distances of the six images to the nearest boundary are, in
	// closed form, 0.3, 0.1, 0.3, 0.04, 0.2 and 0.1.
	x := tensor.FromSlice([]float32{
		0.8, 0.2, 0.8, 0.2, // left
		0.6, 0.4, 0.6, 0.4, // left, closer to the boundary
		0.2, 0.8, 0.2, 0.8, // right
		0.46, 0.54, 0.46, 0.54, // right, very close
		0.3, 0.3, 0.7, 0.7, // bottom
		0.4, 0.4, 0.6, 0.6, // bottom, close
	}, 6, 1, 2, 2)
	labels := []int{0, 0, 1, 1, 2, 2}
	rep, err := adversarial.EvaluateRobustness(context.Background(), model, x, labels, adversarial.StandardSuite(0.05, 0.15))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("clean accuracy %.2f\n", rep.CleanAccuracy)
	for _, a := range rep.Attacks {
		for _, r := range a.Results {
			fmt.Printf("%s at eps %.2f: robust accuracy %.2f\n", a.Name, r.Eps, r.RobustAccuracy)
		}
	}
	for _, w := range rep.WorstCase {
		fmt.Printf("worst case at eps %.2f: %.2f\n", w.Eps, w.RobustAccuracy)
	}
	fmt.Println("APGD-T:", rep.AutoAttack[0].Stages[1].Skipped)
	fmt.Println("flags:", len(rep.Flags()))
	// Output:
	// clean accuracy 1.00
	// FGSM at eps 0.05: robust accuracy 0.83
	// FGSM at eps 0.15: robust accuracy 0.50
	// PGD-20 at eps 0.05: robust accuracy 0.83
	// PGD-20 at eps 0.15: robust accuracy 0.50
	// worst case at eps 0.05: 0.83
	// worst case at eps 0.15: 0.50
	// APGD-T: needs at least 4 classes, the model has 3
	// flags: 0
}

// A model reachable only through a function (a service, another framework)
// can be attacked by black-box attacks through an oracle that counts every
// query: Square with the scores, HopSkipJump with the top class alone.
func ExampleSquare() {
	// A linear classifier of 4 pixels into 2 classes, in plain Go: nothing
	// of it is visible to the attack but its answers.
	w := []float64{1, -1, 2, -2}
	predict := func(x *tensor.Tensor) ([][]float32, error) {
		out := make([][]float32, x.Dim(0))
		for i := range out {
			var z float64
			for j, v := range x.Data()[i*4 : (i+1)*4] {
				z += w[j] * (float64(v) - 0.5)
			}
			out[i] = []float32{float32(z), float32(-z)}
		}
		return out, nil
	}
	x := tensor.FromSlice([]float32{
		0.6, 0.5, 0.55, 0.5, // class 0 (z > 0)
		0.5, 0.6, 0.5, 0.55, // class 1
	}, 2, 4)
	labels := adversarial.Untargeted{0, 1}
	tm := adversarial.ThreatModel{Norm: adversarial.Linf, Eps: 0.1}
	ctx := context.Background()

	scores := adversarial.NewFuncOracle(predict, adversarial.ScoreAccess, 100)
	r, err := adversarial.RunBlackBox(ctx, adversarial.Square{Queries: 100, Seed: 1}, scores, x, labels, tm)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("Square: success %v, within %.2f: %v, queries %v\n", r.Success, tm.Eps, maxOf(r.Norms) <= tm.Eps, r.Queries)

	decisions := adversarial.NewFuncOracle(predict, adversarial.LabelAccess, 500)
	r, err = adversarial.RunBlackBox(ctx, adversarial.HopSkipJump{Queries: 500, Seed: 1}, decisions, x, labels,
		adversarial.ThreatModel{Norm: adversarial.L2, Eps: math.Inf(1)})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The nearest adversarial of sample 0 is at L2 distance
	// z / ||w|| = 0.2 / sqrt(10) = 0.063.
	fmt.Printf("HopSkipJump: success %v, L2 distance of sample 0 %.3f (optimum 0.063), at most 500 queries: %v\n", r.Success, r.Norms[0], maxInt(r.Queries) <= 500)
	// Output:
	// Square: success [true true], within 0.10: true, queries [11 3]
	// HopSkipJump: success [true true], L2 distance of sample 0 0.064 (optimum 0.063), at most 500 queries: true
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

func maxInt(v []int) int {
	m := 0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
