package adversarial_test

import (
	"context"
	"fmt"

	"github.com/fastgo-ml/fastgo/adversarial"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// tinyModel is a linear classifier of 2x2 grey images into 3 classes, with
// hand-set weights: class 0 likes the left column, class 1 the right one,
// class 2 the bottom row.
func tinyModel() layers.Module {
	lin := layers.NewLinear(4, 3, tensor.NewRNG(1))
	copy(lin.Weight.Data().Data(), []float32{
		4, -4, 4, -4, // class 0
		-4, 4, -4, 4, // class 1
		-4, -4, 4, 4, // class 2
	})
	lin.Bias.Data().Fill(0)
	return layers.NewSequential(layers.NewFlatten(), lin)
}

// tinyLearner wraps the model in a Learner (its data is only needed to
// train, and here it does not train).
func tinyLearner() *learner.Learner {
	x := tensor.Zeros(1, 1, 2, 2)
	data := &data.SliceData{
		Train: &data.SliceLoader{X: x, Y: []int{0}, BatchSize: 1},
		Valid: &data.SliceLoader{X: x, Y: []int{0}, BatchSize: 1},
		Vocab: []string{"left", "right", "bottom"},
	}
	return learner.New(data, tinyModel())
}

// The brief's flow: wrap a Learner, generate a targeted adversarial example
// of one image, and predict it.
func ExampleAdversarialLearner_GenerateAdvExample() {
	adv := adversarial.NewLearner(tinyLearner())
	img := tensor.FromSlice([]float32{0.6, 0.4, 0.6, 0.4}, 1, 2, 2) // [C, H, W]

	clean, _ := adv.Predict(img)
	x, err := adv.GenerateAdvExample(img, adversarial.TargetLabel(1), adversarial.WithEps(0.15))
	if err != nil {
		fmt.Println(err)
		return
	}
	pred, _ := adv.Predict(x)
	fmt.Printf("clean: %s\nadversarial: %s\nshape %v, Linf distance %.2f\n",
		clean.Class, pred.Class, x.Shape(), adversarial.Linf.Distance(img.Data(), x.Data()))
	// Output:
	// clean: left
	// adversarial: right
	// shape [1 2 2], Linf distance 0.15
}

// Run is the general entry point: an attack, a model, a batch, a criterion
// and a threat model; RunEps gives one Result per eps.
func ExampleRunEps() {
	model := tinyModel()
	x := tensor.FromSlice([]float32{
		0.7, 0.3, 0.7, 0.3, // left
		0.3, 0.7, 0.3, 0.7, // right
	}, 2, 1, 2, 2)
	labels := adversarial.Untargeted{0, 1}
	attack := adversarial.PGD{Steps: 10, RandomStart: true, Seed: 1}
	tm := adversarial.ThreatModel{Norm: adversarial.Linf}
	results, err := adversarial.RunEps(context.Background(), attack, model, x, labels, tm, []float64{0.05, 0.25})
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
	model := tinyModel()
	predict := func(x *tensor.Tensor) ([][]float32, error) {
		var out [][]float32
		err := adversarial.WithAttackMode(model, func(m *adversarial.Model) error {
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
	o := adversarial.NewFuncOracle(predict, adversarial.LabelAccess, 100)
	fmt.Println(o.Access(), o.Budget())
	// Output:
	// labels 100
}
