// Command quickstart runs fastai's two first flows, line for line: fastai's
//
//	learn = cnn_learner(dls, resnet34, metrics=accuracy)
//	learn.fine_tune(5)
//	adv_learner = learn.to_learner(AdversarialLearner)
//	adv_example = adv_learner.generate_adv_example(img, target_label=3)
//	adv_pred = adv_learner.predict(adv_example)
//	adv_learner.fit_one_cycle(5, cbs=[AdversarialTrainer()])
//	adv_learner.evaluate_robustness()
//
// in fastgo, on the Fashion-MNIST images embedded in the module. The full
// run fine-tunes torchvision's pretrained ResNet-34 (found on this machine
// or downloaded once, 83 MiB, as fastai does) for 6 epochs, then trains it
// for 5 epochs of PGD adversarial training, and evaluates it with the
// standard suite: it takes a long time on a laptop (about an hour on 2
// cores). -small runs the same calls with a few batches each, in seconds,
// from scratch (vision.FromScratch(): nothing to download).
//
//	go run ./examples/quickstart -small
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/fastgo-ml/fastgo/adversarial"
	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

func main() {
	small := flag.Bool("small", false, "a few batches per fit and a few images to evaluate: runs in seconds")
	epochs := flag.Int("epochs", 5, "epochs of fine_tune and of adversarial training")
	flag.Parse()
	if err := run(*small, *epochs); err != nil {
		log.Fatal(err)
	}
}

func run(small bool, epochs int) error {
	ctx := context.Background()
	show := learner.ProgressTo(os.Stdout) // bars in a terminal, the results table in a log
	var eval []adversarial.EvalOption     // the default: StandardSuite on 500 validation images
	bs := 64
	if small {
		epochs, bs = 1, 16
		suite := robustness.NewSuite(attacks.ThreatModel{Norm: attacks.Linf}, 0.1).With(
			robustness.WhiteBox(attacks.FGSM{}), robustness.WhiteBox(attacks.PGD{Steps: 5, RandomStart: true}),
		).WithChecks(attacks.UnboundedPGD{Steps: 5})
		eval = []adversarial.EvalOption{adversarial.WithSuite(suite), adversarial.Samples(16)}
	}

	// learn = cnn_learner(dls, resnet34, metrics=accuracy)
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(bs))
	if err != nil {
		return err
	}
	opts := []learner.Option{learner.Metrics(learner.Accuracy()), show}
	if small {
		opts = append(opts, vision.FromScratch()) // no download: seconds, offline
	}
	learn, err := vision.CNNLearner(dls, models.ResNet34, opts...)
	if err != nil {
		return err
	}
	if small {
		learn.Data = data.TakeData(dls, 2, 2) // 2 training and 2 validation batches per epoch
	}
	// learn.fine_tune(5)
	if err := learn.FineTune(ctx, epochs); err != nil {
		return err
	}
	// adv_learner = learn.to_learner(AdversarialLearner)
	adv := adversarial.NewLearner(learn)

	// adv_example = adv_learner.generate_adv_example(img, target_label=3)
	img, err := dls.Valid.Dataset().Image(0)
	if err != nil {
		return err
	}
	clean, err := adv.Predict(img)
	if err != nil {
		return err
	}
	x, err := adv.GenerateAdvExample(ctx, img, attacks.TargetLabel(3))
	if err != nil {
		return err
	}
	// adv_pred = adv_learner.predict(adv_example)
	pred, err := adv.Predict(x)
	if err != nil {
		return err
	}
	fmt.Printf("image 0 (a %s): clean prediction %s, after a targeted PGD attack toward %s: %s (p=%.2f)\n",
		dls.Vocab[dls.Valid.Dataset().Label(0)], clean.Class, dls.Vocab[3], pred.Class, pred.Probs[pred.Index])

	// adv_learner.fit_one_cycle(5, cbs=[AdversarialTrainer()])
	trainer := adversarial.NewTrainer() // Madry's PGD-10 at Linf 0.1
	if err := adv.FitOneCycle(ctx, epochs, learner.Callbacks(trainer)); err != nil {
		return err
	}

	// adv_learner.evaluate_robustness()
	report, err := adv.EvaluateRobustness(ctx, eval...)
	if err != nil {
		return err
	}
	fmt.Print(report.Table())
	return nil
}
