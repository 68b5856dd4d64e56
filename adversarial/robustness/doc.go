// Package robustness measures how robust an image classifier is: it runs
// a Suite of attacks from package attacks (the standard one follows
// AutoAttack), reports clean, robust and worst-case accuracies with the
// gradient-masking checks in a Report (a terminal table, Markdown, JSON and
// PNG pictures), and certifies L2 robustness by randomised smoothing. It
// needs no Learner: a model is a layers.Module mapping [0,1] pixels to
// scores, or for EvaluateBlackBox any prediction function. Package
// adversarial's AdversarialLearner.EvaluateRobustness runs it on a
// learner's validation set.
//
//	report, err := robustness.Evaluate(ctx, model, x, labels, robustness.StandardSuite(0.05, 0.1))
//	report.WriteTable(os.Stdout) // and report.Save(dir): JSON, Markdown, PNGs
//
// # Randomised smoothing
//
// Smoothed is the certified defence of Cohen et al.: the smoothed
// classifier g(x) = argmax_c P(f(x + N(0, sigma^2 I)) = c) of a base model
// f. Certify (CERTIFY: n0 samples to choose the class, n to bound pA with
// a Clopper-Pearson bound at level alpha) returns a class and an L2 radius
// sigma * PhiInv(pA) within which g provably does not change, or abstains;
// Predict (PREDICT) returns g's class, abstaining when a binomial test cannot
// tell the top two classes apart. Train the base model for it with package
// adversarial's GaussianNoise callback at the same sigma. The guarantee is statistical
// (wrong with probability at most alpha) and for L2 only; the noise is
// drawn in batches from per-input seeded streams.
//
// # Evaluating robustness
//
// Evaluate(ctx, model, x, labels, suite) (or the AdversarialLearner's
// EvaluateRobustness, on its validation set) runs a Suite and returns a
// Report. StandardSuite(eps...) is the default: FGSM and PGD-20
// reported one by one, then AutoAttack's standard cascade: APGD-CE (100
// steps), APGD-T (100 steps over the 9 most likely other classes), FAB-T
// (the same targets) and Square (5,000 queries), each run only on the samples the
// previous ones left robust, and the checks below. Build other suites with
// NewSuite, With (WhiteBox, BlackBox entries, Targeted with package
// attacks' rules such as attacks.TargetRandom(seed), AtEps) and
// WithAutoAttack; EvaluateBlackBox evaluates a model reachable only through
// a function with a suite's black-box attacks (Suite.BlackBoxOnly).
// FastSuite is the same at about a fifth of the budgets, for demos.
// Results are repeatable and do not depend on the batch size. On a SmallCNN
// trained normally on Fashion-MNIST, two shared cores, at Linf eps 0.05 and
// 0.1: FastSuite takes 87 s on 500 test images, StandardSuite 138 s on 200
// (about 13 minutes on 500 on a busy machine), most of it in Square on the
// samples APGD leaves robust (AutoAttack's cost too).
//
// VersionSuite(v, tm, eps...) runs the cascade of AutoAttack's version v
// (VersionStandard, VersionPlus, VersionRand; VersionStages lists each
// version's stages as constructors). A randomised model (outputs that
// differ between two passes on the same input) is detected, each of its
// adversarial examples scored over Suite.Passes passes (worst and mean),
// a standard or plus cascade replaced by the rand version's, and
// CheckRandomised flagged.
//
// # Reproducing and sharding
//
// Every report holds a Manifest (SHA-256 of the weights, inputs and
// labels, the suite's configuration with its seeds, fastgo's version and
// the kernel tier) and its per-sample Outcomes, from which all its figures
// are computed. CompareReports diffs two reports sample by sample (bit for
// bit on the same tier). Suite.Shard evaluates one slice of the samples;
// MergeReports turns the parts into the report of the whole run, the same
// as a single run's: every attack draws from per-sample streams (seeded by
// its seed and the image) and random targets from the sample's position
// among all the samples, so neither the shard nor the batch changes a
// sample's outcome.
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
//     cannot start from such a point);
//   - CheckRandomised: the outputs vary between passes (a single pass
//     measures the randomness, not the robustness).
//
// Each fires when the effect exceeds Suite.Tolerance (1%) and one sample.
// A flag means the white-box figures are not to be trusted: evaluate with
// attacks that do not follow the model's gradients (the cascade's Square,
// HopSkipJump, Transfer) or with EOT for randomised models, and quote the
// worst case. No flag is no proof of robustness, only the absence of the
// usual symptoms.
//
// # Tests
//
// go test ./adversarial/robustness checks, in seconds, Evaluate against a
// linear model's closed-form robustness and on a step-function model that
// must be flagged, the checks that must fire, a result independent of the
// batch size, the black-box-only evaluation, the report's files (JSON round
// trip, a killed write keeping the previous report, a fuzzed decoder), and
// CERTIFY's radius for a constant classifier (3.8115 sigma at n = 100,000
// and 2.4633 sigma at n = 1,000) and PREDICT's abstention on a coin flip.
// With the full Fashion-MNIST,
//
//	go test ./adversarial/robustness -long -run FullFashionMNIST -timeout 60m
//
// runs FastSuite on 500 and StandardSuite on 200 test images of a SmallCNN
// trained as W2, and checks that the worst case is at most every attack's
// figure and that no masking check fires on a model whose gradients are
// honest.
package robustness
