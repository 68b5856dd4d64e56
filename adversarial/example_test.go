package adversarial_test

import (
	"fmt"

	"github.com/fastgo-ml/fastgo/adversarial"
	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/testmodels"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// tinyLearner wraps the model in a Learner (its data is only needed to
// train, and here it does not train).
func tinyLearner() *learner.Learner {
	x := tensor.Zeros(1, 1, 2, 2)
	data := &data.SliceData{
		Train: &data.SliceLoader{X: x, Y: []int{0}, BatchSize: 1},
		Valid: &data.SliceLoader{X: x, Y: []int{0}, BatchSize: 1},
		Vocab: []string{"left", "right", "bottom"},
	}
	return learner.New(data, testmodels.TinyLinear())
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
		clean.Class, pred.Class, x.Shape(), attacks.Linf.Distance(img.Data(), x.Data()))
	// Output:
	// clean: left
	// adversarial: right
	// shape [1 2 2], Linf distance 0.15
}
