package vision_test

import (
	"context"
	"log"

	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// Example_fastaiFineTune is docs/training.md's first snippet, fastai's
//
//	dls = ImageDataLoaders.from_folder(path, valid_pct=0.2, item_tfms=Resize(224), batch_tfms=aug_transforms())
//	learn = vision_learner(dls, resnet34, metrics=accuracy)
//	learn.lr_find()
//	learn.fine_tune(3, base_lr=2e-3)
//	learn.export()
//
// kept here so that the page's code compiles against the API (it is not
// run: it needs a folder of images and torchvision's ResNet-34 weights).
func Example_fastaiFineTune() {
	ctx := context.Background()
	path := "photos"
	dls, err := vision.ImageFolder(path, vision.ValidPct(0.2), vision.Size(224, 224), vision.BatchTfms(vision.AugTransforms()))
	if err != nil {
		log.Fatal(err)
	}
	learn, err := vision.CNNLearner(dls, models.ResNet34, learner.Metrics(learner.Accuracy()))
	if err != nil {
		log.Fatal(err)
	}
	res, err := learn.LRFind(ctx)
	if err != nil {
		log.Fatal(err)
	}
	_ = res.Valley
	err = learn.FineTune(ctx, 3, learner.LR(2e-3))
	if err != nil {
		log.Fatal(err)
	}
	err = learn.Export("export.safetensors")
	if err != nil {
		log.Fatal(err)
	}
}
