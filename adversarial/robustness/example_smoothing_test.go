package robustness_test

import (
	"context"
	"fmt"

	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Randomised smoothing certifies an L2 radius. A base classifier that
// always answers the same class is the extreme case: pA is bounded below by
// alpha^(1/n), and the radius is sigma * PhiInv(pA).
func ExampleSmoothed_Certify() {
	lin := layers.NewLinear(4, 3, tensor.NewRNG(1))
	lin.Weight.Data().Fill(0)
	copy(lin.Bias.Data().Data(), []float32{0, 1, 0}) // always class 1
	s := &robustness.Smoothed{Model: layers.NewSequential(layers.NewFlatten(), lin), Sigma: 0.5}
	img := tensor.Full[float32](0.5, 1, 1, 2, 2)
	certs, err := s.Certify(context.Background(), img, 100, 100000, 0.001)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := certs[0]
	fmt.Printf("class %d, pA >= %.6f, radius %.4f = %.4f sigma\n", c.Class, c.PA, c.Radius, c.Radius/s.Sigma)
	// Output:
	// class 1, pA >= 0.999931, radius 1.9057 = 3.8115 sigma
}
