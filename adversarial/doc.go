// Package adversarial puts attacks and defences behind fastai's Learner:
// the AdversarialLearner (GenerateAdvExample, AttackBatch, PredictBatch,
// EvaluateRobustness) and the defences as learner callbacks (adversarial
// training, fast adversarial training with its overfitting guard, TRADES,
// Gaussian-noise training for randomised smoothing). The attacks
// themselves, their threat models and the honesty rules they obey are
// package attacks; this package adds what a fastai user needs around a
// Learner. fastai has no adversarial module; this one follows the designs
// of torchattacks, Foolbox 3 and AutoAttack.
//
// The short call does the right thing:
//
//	adv := adversarial.NewLearner(learn)                          // learn is a *learner.Learner
//	x, err := adv.GenerateAdvExample(img, adversarial.TargetLabel(3))
//	pred, err := adv.Predict(x)                                   // the Learner's Predict
//	report, err := adv.EvaluateRobustness(ctx, adversarial.StandardSuite(0.1))
//	report.WriteTable(os.Stdout)                                  // and report.Save(dir): JSON, Markdown, PNGs
//
// # Defences
//
// Adversarial training runs inside the Learner's ordinary fits (Fit,
// FitOneCycle, FineTune) as callbacks, all of order TrainerOrder. Each
// training batch's examples are made in attack mode (the model in eval mode,
// so BatchNorm statistics do not move, parameters frozen), then the model is
// back in training mode for the step; each batch's attack has its own seed
// (Reseeder), so random starts differ between batches and epochs.
//
//   - NewTrainer(attack, tm), an AdversarialTrainer, is Madry et al.'s PGD
//     adversarial training: every training input replaced by its PGD
//     example (the default attack: 10 steps of 2.5 eps/10 from a random
//     start, last iterate). CleanFraction keeps a share of each batch clean
//     (Goodfellow et al.'s and Kurakin et al.'s mix). The most reliable
//     defence, at the cost of Steps + 1 forward-backward passes per batch.
//   - NewFastAT(tm) is Wong et al.'s fast adversarial training: FGSM from a
//     random start with step 1.25 eps, about twice the cost of normal
//     training. It can overfit catastrophically (robustness to PGD vanishes
//     within an epoch), so it carries an OverfitGuard: a PGD check of a
//     held-out batch after each epoch (or every k batches) that, on a drop
//     of more than 0.2, restores the last good weights and optimizer state
//     and stops the fit or lowers the learning rate. Checks records every
//     check, so the collapse never goes unnoticed.
//   - TRADES (Zhang et al.) trains on CE(f(x), y) + beta KL(f(x) || f(x')),
//     x' maximising the KL within the ball: a tunable trade-off between
//     clean and robust accuracy (beta), often a little more robust than PGD
//     training at the same clean accuracy, for one more training forward
//     and backward pass per batch.
//
// # Randomised smoothing
//
// Smoothed is the certified defence of Cohen et al.: the smoothed
// classifier g(x) = argmax_c P(f(x + N(0, sigma^2 I)) = c) of a base model
// f. Certify (CERTIFY: n0 samples to choose the class, n to bound pA with
// a Clopper-Pearson bound at level alpha) returns a class and an L2 radius
// sigma * PhiInv(pA) within which g provably does not change, or abstains;
// Predict (PREDICT) returns g's class, abstaining when a binomial test cannot
// tell the top two classes apart. Train the base model for it with the
// GaussianNoise callback at the same sigma. The guarantee is statistical
// (wrong with probability at most alpha) and for L2 only; the noise is
// drawn in batches from per-input seeded streams.
//
// # Evaluating robustness
//
// EvaluateRobustness(ctx, model, x, labels, suite) (or the learner's
// EvaluateRobustness(ctx, suite), on its validation set) runs a Suite and
// returns a Report. StandardSuite(eps...) is the default: FGSM and PGD-20
// reported one by one, then AutoAttack's standard cascade without FAB-T:
// APGD-CE (100 steps), APGD-T (100 steps over the 9 most likely other
// classes) and Square (5,000 queries), each run only on the samples the
// previous ones left robust, and the checks below. Build other suites with
// NewSuite, With (WhiteBox, BlackBox entries, Targeted, AtEps) and
// WithAutoAttack; EvaluateBlackBox evaluates a model reachable only through
// a function with a suite's black-box attacks (Suite.BlackBoxOnly).
// FastSuite is the same at about a fifth of the budgets, for demos.
// Results are repeatable and do not depend on the batch size. On a SmallCNN
// trained normally on Fashion-MNIST, two shared cores, at Linf eps 0.05 and
// 0.1: FastSuite takes 87 s on 500 test images, StandardSuite 138 s on 200
// (about 13 minutes on 500 on a busy machine), most of it in Square on the
// samples APGD leaves robust (AutoAttack's cost too).
//
// # Reading the report
//
// Report.WriteTable prints the table to a terminal, Save writes
// report.json, report.md, accuracy.png (robust accuracy against eps per
// attack, the cascade and the worst case) and examples.png (clean image,
// perturbation amplified to fill the grey range, adversarial image, with
// the classes' names). For each attack and eps: the robust accuracy is the
// share of all samples still classified correctly (a misclassified sample
// is never robust); the success rate is over the initially correct
// samples, the only ones attacked; norms are the median and mean sizes of
// the successful perturbations; queries are per successful sample (mean
// and median) and in total. The worst case counts a sample as robust at
// eps only if no attack of the suite fooled it at that eps or below: it is
// the figure to quote, an upper bound on the true robust accuracy.
//
// Gradient masking makes a model look robust to gradient attacks while
// it is not; the checks (Report.Checks, each "ok" or FLAGGED) look for its
// symptoms, after Athalye, Carlini and Wagner (2018) and Carlini et al.'s
// "On evaluating adversarial robustness" (2019):
//
//   - CheckOneStep: a one-step attack beats an iterative one (an iterative
//     attack should be at least as strong);
//   - CheckBlackBox: black-box attacks fool samples that every white-box
//     attack left robust (with useful gradients, white-box is stronger);
//   - CheckEpsMonotone: an attack's robust accuracy rises with eps (a
//     larger ball contains the smaller one);
//   - CheckUnbounded: UnboundedPGD at eps = +Inf does not fool every
//     sample (with no bound, any image can become another class's);
//   - CheckGradients: input gradients are exactly zero or NaN (an attack
//     cannot start from such a point).
//
// Each fires when the effect exceeds Suite.Tolerance (1%) and one sample.
// A flag means the white-box figures are not to be trusted: evaluate with
// attacks that do not follow the model's gradients (the cascade's Square,
// HopSkipJump, Transfer) or with EOT for randomised models, and quote the
// worst case. No flag is no proof of robustness, only the absence of the
// usual symptoms.
//
// The tests of this part (go test ./adversarial/) check every black-box
// attack with the oracle tests (eps 0, ball and box, input untouched, a
// batch equal to its rows, the budget never exceeded, targeted hits
// rising), HopSkipJump against the closed-form minimum of a linear model,
// Square and HopSkipJump on a briefly trained SmallCNN (skipped with
// -short), EvaluateRobustness against a linear model's closed-form
// robustness, on a step-function model that must be flagged, and the
// report's files (JSON round trip, a killed write keeping the previous
// report). With the full Fashion-MNIST,
//
//	go test ./adversarial/ -long -run 'TestSquareFullFashionMNIST|FullFashionMNIST' -timeout 60m
//
// checks that Square with 5,000 queries brings a normally trained SmallCNN
// under 0.20 at Linf 0.1 on 500 test images (measured: 0.892 clean, 0.078
// robust, median 259 queries per success) and runs both suites.
//
// # Tests
//
// go test ./adversarial/ runs, in seconds, the tests of the trainers'
// batches, seeds and guard, of CERTIFY's radius for a constant classifier
// (3.8115 sigma at n = 100,000 and 2.4633 sigma at n = 1,000) and PREDICT's
// abstention on a coin flip, of EvaluateRobustness against a linear model's
// closed-form robustness and on a step-function model that must be flagged,
// and of the report's files (JSON round trip, a killed write keeping the
// previous report); and, without -short, a short Fashion-MNIST check.
//
// The long checks train SmallCNN on the full Fashion-MNIST
// (/usr/share/datasets/fashion-mnist; they skip without it) and run with
// -long:
//
//	go test ./adversarial/ -long -run TestFMNISTPGDAT -timeout 1h
//	go test ./adversarial/ -long -run TestFMNISTFastAT -timeout 1h
//	go test ./adversarial/ -long -run TestFMNISTTRADES -timeout 1h
//	go test ./adversarial/ -long -run TestFMNISTSmoothing -timeout 30m
//	go test ./adversarial/ -long -run 'FullFashionMNIST' -timeout 1h
//
// or all the TestFMNIST checks at once with -run TestFMNIST -timeout 2h. At
// Linf eps 0.1: PGD adversarial training (PGD-3, 3 epochs of FitOneCycle)
// reaches clean accuracy 0.80 and PGD-20 robust accuracy 0.70 on the 10,000
// test images, fast AT (2 epochs) 0.65 robust with its guard's checks
// recorded and consistent with the model returned, and TRADES (beta 3, 2
// epochs) trains to 0.65 robust; Gaussian-noise training and CERTIFY give
// certified accuracies at radii 0, 0.25 and 0.5; FastSuite and
// StandardSuite run on a SmallCNN trained as W2. On this project's 2-core
// machine the TestFMNIST checks took 12 minutes together when it was
// otherwise idle (4 to 10 minutes each when it was shared).
package adversarial
