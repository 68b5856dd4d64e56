package adversarial_test

import (
	"context"
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

// The short flow: wrap a Learner, generate a targeted adversarial example
// of one image, and predict it. The model is a hand-set linear classifier
// of 2x2 images: class 0 likes the left column, class 1 the right one,
// class 2 the bottom row.
func ExampleAdversarialLearner_GenerateAdvExample() {
	adv := adversarial.NewLearner(tinyLearner())
	img := tensor.FromSlice([]float32{0.6, 0.4, 0.6, 0.4}, 1, 2, 2) // [C, H, W]

	clean, _ := adv.Predict(img)
	x, err := adv.GenerateAdvExample(context.Background(), img, attacks.TargetLabel(1), attacks.Eps(0.15))
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
