// Package adversarial puts attacks and defences behind fastai's Learner:
// the AdversarialLearner (GenerateAdvExample, AttackBatch, PredictBatch,
// EvaluateRobustness) and the defences as learner callbacks (adversarial
// training, fast adversarial training with its overfitting guard, TRADES,
// Gaussian-noise training for randomised smoothing). The attacks
// themselves, their threat models and the honesty rules they obey are
// package attacks; the robustness evaluation, its report and randomised
// smoothing's certification are package robustness; this package adds what
// a fastai user needs around a Learner. fastai has no adversarial module;
// this one follows the designs of torchattacks, Foolbox 3 and AutoAttack.
//
// The short calls do the right thing:
//
//	adv := adversarial.NewLearner(learn)                                // learn is a *learner.Learner
//	x, err := adv.GenerateAdvExample(ctx, img, attacks.TargetLabel(3))  // PGD-20 within Linf 0.1
//	pred, err := adv.Predict(x)                                         // the Learner's Predict
//	err = adv.FitOneCycle(ctx, 5, learner.Callbacks(adversarial.NewTrainer()))
//	report, err := adv.EvaluateRobustness(ctx)                          // the standard suite, 500 images
//	report.WriteTable(os.Stdout)                                        // and report.Save(dir): JSON, Markdown, PNGs
//
// GenerateAdvExample and AttackBatch take package attacks' options (a
// Targets rule such as attacks.TargetRandom(seed), attacks.TrueLabels,
// attacks.Using for the attack, attacks.Within and attacks.Eps for the
// threat model); NewLearner takes the same options as the learner's
// defaults. EvaluateRobustness takes WithSuite and Samples.
//
// # Defences
//
// Adversarial training runs inside the Learner's ordinary fits (Fit,
// FitOneCycle, FineTune) as callbacks, all of order TrainerOrder. Each
// training batch's examples are made in attack mode (the model in eval mode,
// so BatchNorm statistics do not move, parameters frozen), then the model is
// back in training mode for the step; each batch's attack has its own seed
// (attacks.Reseeder), so random starts differ between batches and epochs,
// and runs with the fit's context (learner.Learner.Context), so cancelling
// the fit stops it mid-batch. A guard that lowers the learning rate does so
// through the learner's hyper-parameters (learner.Learner.SetHyper).
//
//   - NewTrainer(), an AdversarialTrainer, is Madry et al.'s PGD
//     adversarial training: every training input replaced by its PGD
//     example (the default attack: 10 steps of 2.5 eps/10 from a random
//     start, last iterate, within attacks.DefaultThreat). Its options are
//     Attack, Threat, Eps, CleanFraction (a share of each batch left clean,
//     Goodfellow et al.'s and Kurakin et al.'s mix), Seed and Guard. The
//     most reliable defence, at the cost of Steps + 1 forward-backward
//     passes per batch.
//   - NewFastAT() is Wong et al.'s fast adversarial training: FGSM from a
//     random start with step 1.25 eps, about twice the cost of normal
//     training. It can overfit catastrophically (robustness to PGD vanishes
//     within an epoch), so it carries an OverfitGuard: a PGD check of a
//     held-out batch after each epoch (or every k batches) that, on a drop
//     of more than 0.2, restores the last good weights and optimizer state
//     and stops the fit or lowers the learning rate. Its Checks
//     (trainer.Guard().Checks) record every check, so the collapse never
//     goes unnoticed.
//   - TRADES (Zhang et al.) trains on CE(f(x), y) + beta KL(f(x) || f(x')),
//     x' maximising the KL within the ball: a tunable trade-off between
//     clean and robust accuracy (beta), often a little more robust than PGD
//     training at the same clean accuracy, for one more training forward
//     and backward pass per batch. Its inner attack is attacks.KLPGD.
//   - GaussianNoise trains the base model of randomised smoothing
//     (robustness.Smoothed) on inputs with N(0, Sigma^2) noise added; certify
//     with the same sigma.
//
// TRADES and GaussianNoise are configured as struct literals, like the
// callbacks of package callbacks.
//
// # Tests
//
// go test ./adversarial/ runs, in seconds, the tests of the learner's
// calls (shapes, targets, labels, options, its evaluation against the
// direct one), of the trainers' batches, seeds, guard and Gaussian noise,
// and of adversarial training making a model robust.
//
// The long checks train SmallCNN on the full Fashion-MNIST
// (/usr/share/datasets/fashion-mnist; they skip without it) and run with
// -long:
//
//	go test ./adversarial/ -long -run TestFMNISTPGDAT -timeout 1h
//	go test ./adversarial/ -long -run TestFMNISTFastAT -timeout 1h
//	go test ./adversarial/ -long -run TestFMNISTTRADES -timeout 1h
//	go test ./adversarial/ -long -run TestFMNISTSmoothing -timeout 30m
//
// or all the TestFMNIST checks at once with -run TestFMNIST -timeout 2h. At
// Linf eps 0.1: PGD adversarial training (PGD-3, 3 epochs of FitOneCycle)
// reaches clean accuracy 0.80 and PGD-20 robust accuracy 0.70 on the 10,000
// test images, fast AT (2 epochs) 0.65 robust with its guard's checks
// recorded and consistent with the model returned, and TRADES (beta 3, 2
// epochs) trains to 0.65 robust; Gaussian-noise training and CERTIFY give
// certified accuracies at radii 0, 0.25 and 0.5. On this project's 2-core
// machine the TestFMNIST checks took 12 minutes together when it was
// otherwise idle (4 to 10 minutes each when it was shared).
package adversarial
