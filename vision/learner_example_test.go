package vision_test

import (
	"context"
	"fmt"

	"github.com/fastgo-ml/fastgo/callbacks"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// Build fastai's vision_learner over a ResNet-18 for the 1-channel
// Fashion-MNIST images and fine-tune it. By default the body would start
// from torchvision's ImageNet weights (found on this machine or
// downloaded once), frozen; here vision.FromScratch() trains it from
// scratch, and ShortEpoch keeps the example to a few batches (remove it to
// train for real).
func ExampleCNNLearner() {
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(16))
	if err != nil {
		fmt.Println(err)
		return
	}
	learn, err := vision.CNNLearner(dls, models.ResNet18, vision.FromScratch(),
		learner.Metrics(learner.Accuracy()))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("layer groups:", len(learn.LayerGroups()))
	err = learn.FineTune(context.Background(), 1,
		learner.Callbacks(&callbacks.ShortEpoch{Pct: 0.001}))
	fmt.Println("fine-tuned:", err == nil, "epochs recorded:", len(learn.Recorder.Values))
	// Output:
	// layer groups: 3
	// fine-tuned: true epochs recorded: 2
}

// Train the benchmark's SmallCNN on the embedded subset; the zoo's models
// describe their architecture, so the learner can be exported and loaded
// back for inference with vision.LoadLearner.
func ExampleCNNLearner_smallCNN() {
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(64))
	if err != nil {
		fmt.Println(err)
		return
	}
	learn, err := vision.CNNLearner(dls, models.SmallCNN, learner.Metrics(learner.Accuracy()))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = learn.FitOneCycle(context.Background(), 1, learner.LR(5e-3),
		learner.Callbacks(&callbacks.ShortEpoch{Pct: 0.2}))
	arch, _ := layers.ArchOf(learn.Model)
	fmt.Println(err, arch.Name)
	// Output:
	// <nil> fastgo.smallcnn
}
