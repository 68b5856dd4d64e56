package robustness_test

import (
	"context"
	"fmt"

	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Evaluate runs a suite (here the standard one at two eps) and
// returns a report: clean and robust accuracies, the AutoAttack-style
// worst case, and the gradient-masking checks. The report prints as a
// table (WriteTable) and saves as JSON, Markdown and PNG files (Save).
func ExampleEvaluate() {
	model := testmodels.TinyLinear() // a hand-set linear classifier of 2x2 images
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
	rep, err := robustness.Evaluate(context.Background(), model, x, labels, robustness.StandardSuite(0.05, 0.15))
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
