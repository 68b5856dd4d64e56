package attacks_test

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Run is the general entry point: an attack, a model, a batch, a criterion
// and a threat model; RunEps gives one Result per eps.
func ExampleRunEps() {
	model := testmodels.TinyLinear()
	x := tensor.FromSlice([]float32{
		0.7, 0.3, 0.7, 0.3, // left
		0.3, 0.7, 0.3, 0.7, // right
	}, 2, 1, 2, 2)
	labels := attacks.Untargeted{0, 1}
	attack := attacks.PGD{Steps: 10, RandomStart: true, Seed: 1}
	tm := attacks.ThreatModel{Norm: attacks.Linf}
	results, err := attacks.RunEps(context.Background(), attack, model, x, labels, tm, []float64{0.05, 0.25})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range results {
		fmt.Printf("eps %.2f: success %v, predictions %v, norms %.2f\n", r.Eps, r.Success, r.Pred, r.Norms)
	}
	// Output:
	// eps 0.05: success [false false], predictions [0 1], norms [0.05 0.05]
	// eps 0.25: success [true true], predictions [1 0], norms [0.25 0.25]
}

// A model reachable only through a function can still be attacked, by a
// black-box attack through an Oracle that counts queries.
func ExampleNewFuncOracle() {
	model := testmodels.TinyLinear()
	predict := func(x *tensor.Tensor) ([][]float32, error) {
		var out [][]float32
		err := attacks.WithAttackMode(model, func(m *attacks.Model) error {
			s, err := m.Outputs(x)
			if err != nil {
				return err
			}
			for i := 0; i < s.Dim(0); i++ {
				out = append(out, s.Data()[i*3:(i+1)*3])
			}
			return nil
		})
		return out, err
	}
	o := attacks.NewFuncOracle(predict, attacks.LabelAccess, 100)
	fmt.Println(o.Access(), o.Budget())
	// Output:
	// labels 100
}

// DeepFool and C&W look for the smallest perturbation that changes the
// class. On tinyModel (linear), the nearest boundary of the image below is
// class 2's (bottom): z_0 - z_2 = 1.6 and ||w_0 - w_2|| = sqrt(128), at L2
// distance 0.1414. DeepFool lands 2% past it, C&W on it.
func ExampleDeepFool() {
	model := testmodels.TinyLinear()
	img := tensor.FromSlice([]float32{0.6, 0.4, 0.6, 0.4}, 1, 1, 2, 2) // "left"
	tm := attacks.ThreatModel{Norm: attacks.L2, Eps: math.Inf(1)}
	for _, a := range []attacks.Attack{attacks.DeepFool{}, attacks.CW{BinarySteps: 10, Steps: 500}} {
		r, err := attacks.Run(context.Background(), a, model, img, attacks.Untargeted{0}, tm)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: success %v, class %d, L2 %.3f\n", a.Name(), r.Success[0], r.Pred[0], r.Norms[0])
	}
	// Output:
	// DeepFool: success true, class 2, L2 0.144
	// CW-L2: success true, class 2, L2 0.141
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
	labels := attacks.Untargeted{0, 1}
	tm := attacks.ThreatModel{Norm: attacks.Linf, Eps: 0.1}
	ctx := context.Background()

	scores := attacks.NewFuncOracle(predict, attacks.ScoreAccess, 100)
	r, err := attacks.RunBlackBox(ctx, attacks.Square{Queries: 100, Seed: 1}, scores, x, labels, tm)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("Square: success %v, within %.2f: %v, queries %v\n", r.Success, tm.Eps, slices.Max(r.Norms) <= tm.Eps, r.Queries)

	decisions := attacks.NewFuncOracle(predict, attacks.LabelAccess, 500)
	r, err = attacks.RunBlackBox(ctx, attacks.HopSkipJump{Queries: 500, Seed: 1}, decisions, x, labels,
		attacks.ThreatModel{Norm: attacks.L2, Eps: math.Inf(1)})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The nearest adversarial of sample 0 is at L2 distance
	// z / ||w|| = 0.2 / sqrt(10) = 0.063.
	fmt.Printf("HopSkipJump: success %v, L2 distance of sample 0 %.3f (optimum 0.063), at most 500 queries: %v\n", r.Success, r.Norms[0], slices.Max(r.Queries) <= 500)
	// Output:
	// Square: success [true true], within 0.10: true, queries [8 4]
	// HopSkipJump: success [true true], L2 distance of sample 0 0.064 (optimum 0.063), at most 500 queries: true
}

// FAB finds a small perturbation that changes the class, in Linf, L2 or
// L1. It is a minimum-norm attack: RunEps runs it once and reports, at each
// eps, the samples whose smallest perturbation found lies within eps.
func ExampleFAB() {
	model := testmodels.TinyLinear()
	x := tensor.FromSlice([]float32{
		0.7, 0.3, 0.7, 0.3, // left
		0.3, 0.7, 0.3, 0.7, // right
	}, 2, 1, 2, 2)
	labels := attacks.Untargeted{0, 1}
	attack := attacks.FAB{Steps: 20, SearchSteps: 20}
	tm := attacks.ThreatModel{Norm: attacks.L2}
	results, err := attacks.RunEps(context.Background(), attack, model, x, labels, tm, []float64{0.2, 0.5})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range results {
		fmt.Printf("eps %.1f: success %v, norms %.3f\n", r.Eps, r.Success, r.Norms)
	}
	// The nearest boundary (to class 2) is at L2 distance 3.2/(8 sqrt 2) = 0.283.

	// Output:
	// eps 0.2: success [false false], norms [0.200 0.200]
	// eps 0.5: success [true true], norms [0.283 0.283]
}
