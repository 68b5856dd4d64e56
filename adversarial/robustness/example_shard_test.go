package robustness_test

import (
	"context"
	"fmt"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/tensor"
)

// A suite's Shard evaluates one slice of the samples (on one machine of
// many); MergeReports turns the parts into the report of the whole run,
// and CompareReports finds it equal, sample by sample, to a single run.
func ExampleMergeReports() {
	model := testmodels.TinyLinear()
	x := tensor.FromSlice([]float32{
		0.8, 0.2, 0.8, 0.2,
		0.6, 0.4, 0.6, 0.4,
		0.2, 0.8, 0.2, 0.8,
		0.46, 0.54, 0.46, 0.54,
		0.3, 0.3, 0.7, 0.7,
		0.4, 0.4, 0.6, 0.6,
	}, 6, 1, 2, 2)
	labels := []int{0, 0, 1, 1, 2, 2}
	suite, err := robustness.VersionSuite(robustness.VersionStandard, attacks.ThreatModel{Norm: attacks.Linf}, 0.15)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	var parts []robustness.Part
	for i := 0; i < 2; i++ {
		s := suite
		s.Shard = robustness.Shard{Index: i, Count: 2}
		r, err := robustness.Evaluate(ctx, model, x, labels, s)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("part %s: samples %d to %d\n", r.Manifest.Shard, r.Outcomes.First, r.Outcomes.First+r.Samples-1)
		parts = append(parts, robustness.Part{Name: fmt.Sprint("part", i), Report: r})
	}
	merged, err := robustness.MergeReports(parts...)
	if err != nil {
		fmt.Println(err)
		return
	}
	single, err := robustness.Evaluate(ctx, model, x, labels, suite)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := robustness.CompareReports(single, merged)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("merged: %d samples, worst case %.2f; same as a single run: %v\n", merged.Samples, merged.WorstCase[0].RobustAccuracy, c.OK())
	// Output:
	// part 0/2: samples 0 to 2
	// part 1/2: samples 3 to 5
	// merged: 6 samples, worst case 0.50; same as a single run: true
}
