// Package attacks attacks image classifiers: white-box attacks over a
// differentiable model, black-box attacks over a query-counting oracle, the
// threat models and criteria they serve, and the runner every attack goes
// through. It follows the designs of torchattacks, Foolbox 3 and
// AutoAttack, and is honest by construction: the rules below are enforced
// by the code every attack goes through, not left to each attack. It needs
// no Learner (package adversarial puts it behind one) and no data loader:
// a model is a layers.Module mapping [0,1] pixels to scores.
//
// The short call does the right thing (PGD-20 within Linf 0.1, away from
// the model's predictions, unless the options say otherwise):
//
//	res, err := attacks.Generate(ctx, model, x, attacks.TargetLabel(3), attacks.Eps(0.05))
//
// and the general one is
//
//	res, err := attacks.Run(ctx, attacks.PGD{Steps: 20, RandomStart: true},
//		model, x, attacks.Untargeted(labels), attacks.ThreatModel{Norm: attacks.Linf, Eps: 0.1})
//
// Generate's options are Targets (TargetLabel, TargetLabels, TargetRandom,
// TargetNextClass, TargetLeastLikely, TargetRunnerUp: a targeted attack),
// TrueLabels, Using (the attack), Within (the threat model) and Eps; they
// are the options of the AdversarialLearner's GenerateAdvExample too.
//
// # Threat model
//
// A ThreatModel is what the adversary may do: move each input anywhere within
// distance Eps of where it was, in the norm Norm (Linf, L2 or L1), without
// leaving the pixel box [Lo, Hi] ([0, 1] when both are zero). Inputs are
// always [0,1] pixels: normalisation is a layer inside the model
// (layers.Normalize), so Eps means pixels, the same for every model. Eps may
// be +Inf (only the box binds), which minimum-norm attacks use.
// DefaultThreat is Linf at DefaultEps (0.1), and DefaultAttack PGD-20.
//
// ThreatModel.Project maps a batch onto the set exactly: the nearest point,
// in Euclidean distance, of the eps-ball intersected with the box (for L1,
// Duchi et al.'s simplex projection extended to the box). ProjectThenClip is
// the standard PGD projection (onto the ball, then clipped into the box),
// which is feasible but, for L2 and L1, not always the nearest point; for
// Linf the two agree. Rounding to float32 never takes a projected point out
// of the ball: Norms, computed in float64 on the float32 values, is at most
// Eps. RandomStart draws a uniform point of the ball (clipped to the box).
//
// # Criteria
//
// A Criterion says when an output counts as adversarial, and the two kinds
// are distinct types, never a flag: Untargeted(labels) succeeds when the top
// class is not the label, Targeted(targets) when it is the target.
// Untargeted(nil) means "away from the model's own clean predictions"; the
// runner resolves it (one forward pass, or one query per sample for a black
// box) before the attack starts. A Targets rule chooses the targets from
// the labels and the clean scores, one set of names for Generate and for
// the suites of package robustness: TargetLabel (one class for all),
// TargetLabels (one per image), TargetRandom (seeded, never the label),
// TargetNextClass, TargetLeastLikely and TargetRunnerUp; Targets.For
// applies one. A criterion restricted to some samples is Criterion.Select.
// The top class is the first largest score; a NaN output never counts as
// adversarial.
//
// # Results
//
// A Result holds the adversarial batch Adv, per-sample Success computed by
// running the model on Adv itself (never from an attack's own bookkeeping),
// the predictions and scores on Adv, per-sample perturbation Norms, per-
// sample Queries for black-box attacks, the eps, the threat model and the
// criterion as used. RunEps takes a list of eps and returns one Result per
// eps, as Foolbox does. Craft is Run without the evaluation: the
// adversarial batch alone, for adversarial training.
//
// # Honesty rules
//
// Run, RunEps, RunBlackBox, RunBlackBoxEps, Craft and Generate (which
// calls Run) enforce, for every attack:
//
//   - Arguments are checked (CheckRun, then the criterion against the
//     model's outputs): an input that is not a non-empty batch, holds a
//     NaN or leaves the box, a criterion of the wrong length or with a class
//     the model does not have, or an unusable threat model is an error, and a
//     model that cannot take the input (it panics) is an error too. The
//     caller's input is never modified: attacks get a copy.
//   - Attack mode (see Model): every module in eval mode, so BatchNorm
//     statistics never move and Dropout is off; every parameter frozen, so a
//     backward pass computes the input gradient only (conv and linear skip
//     their weight-gradient GEMMs) and no parameter's Grad is touched; both
//     restored afterwards, module by module and parameter by parameter, even
//     on error or panic.
//   - Gradients are of the SUM of per-sample losses (Model.Gradient), so a
//     sample's step does not depend on the size of its batch.
//   - The returned batch is checked: of the input's shape, finite, inside
//     the box and the ball (beyond float32 rounding, an excursion is
//     reported as the attack's bug rather than silently clipped), then
//     projected exactly and evaluated.
//   - Every random choice draws from a seeded source. A sample's stream is
//     seeded by the attack's seed and the sample's own pixels (SampleRNGs),
//     so attacking a batch gives, row for row, bit for bit, what attacking
//     each row alone gives: neither batch size nor neighbours change a
//     sample's randomness. A seed repeats a run exactly.
//   - Iterative attacks return, per sample, the best point they evaluated
//     (adversarial if any iterate was, with the largest margin), not the
//     last iterate; restarts continue only on samples not yet fooled and
//     keep each sample's best, so more restarts never make a sample worse.
//   - Long attacks take a context.Context and stop soon after it is
//     cancelled, returning its error.
//   - Black-box attacks never see the model: an Oracle answers scores
//     (ScoreAccess) or top classes only (LabelAccess), charges every query
//     to the sample it serves, refuses a query past the per-sample budget
//     (fastgo.ErrBudget) and any query outside the box, and the final check
//     is made by the runner, uncharged.
//
// # Attacks
//
// White-box, gradient-based: FGSM and FGM (one step of size eps, sign or
// L2-normalised), BIM (Kurakin et al.), PGD (Madry et al.; Linf, L2, and L1
// with Tramer and Boneh's sparse step; random start; restarts) and MIFGSM
// (Dong et al.). Each is a small struct whose zero value is a sensible
// attack; see each type for its defaults. Beyond them:
//
//   - APGD (Croce and Hein; Linf, L2, L1) is PGD without a step size to tune:
//     momentum and a step size halved at checkpoints when progress stalls,
//     with the cross-entropy or the DLR loss (APGDCrossEntropy, APGDDLR).
//     Prefer it to PGD for evaluation: at the same number of steps it is
//     usually at least as strong (a test checks it on a trained model), and
//     DLR (DLRLoss) is immune to logit rescaling, a common cause of gradient
//     masking. APGDT is AutoAttack's APGD-T: the
//     targeted DLR loss toward each of the 9 most likely other classes, an
//     untargeted attack stronger than either alone. Under L1 both take
//     Croce and Hein's sparse top-k steps with exact projection onto the L1
//     ball and the box ("Mind the box", 2021), and LargeEps runs them at 3,
//     2 and 1 times eps as AutoAttack's L1 run does. Their EOT field
//     averages every gradient over k passes of a randomised model
//     (AutoAttack's "rand" version: APGD{EOT: 20} and APGD{Loss: APGDDLR,
//     EOT: 20}).
//   - CW (Carlini and Wagner's L2 attack) and DeepFool (Moosavi-Dezfooli et
//     al.; L2, Linf) are minimum-norm attacks: they find, per sample, a small
//     perturbation that succeeds, and report its size. Use them to measure
//     how far samples are from the boundary (median norms), not robust
//     accuracy at one eps (RunEps projects their result onto each ball,
//     which underestimates what a fixed-eps attack finds). DeepFool is fast
//     (a few steps, one gradient per candidate class) and lands 2% past the
//     linearised boundary; C&W is slow (a search over its constant c, Adam
//     steps in tanh space) and finds smaller perturbations. Both are
//     MinimumNormAttacks.
//   - FAB (Croce and Hein's Fast Adaptive Boundary attack; Linf, L2, L1) is
//     the minimum-norm attack of AutoAttack: steps onto the linearised
//     nearest boundary, projected exactly onto its intersection with the
//     box, biased toward the input. FABT is AutoAttack's FAB-T, the
//     boundary against each of the 9 most likely other classes in turn (one
//     backward pass per step instead of one per class). Both stay within
//     1% of the minimal norm on affine models (exactly, with SearchSteps).
//   - EOT wraps any gradient attack for a randomised model: the wrapped
//     attack sees m.Expectation(k), averaging outputs and gradients over k
//     passes (Athalye et al.). Without it an attack on a randomised defence
//     measures the randomness.
//   - UnboundedPGD is PGD from the input itself with the margin loss and
//     steps that can cross the box at eps = +Inf: the attack of the
//     unbounded sanity check of an evaluation (package robustness).
//   - KLPGD is TRADES's inner maximisation: PGD away from the model's own
//     clean output distribution, no label needed.
//   - TargetRunnerUp targets, per sample, the most likely class other than
//     the label: the easiest target, the one a targeted attack should reach
//     most often; TargetRandom is the hard, standard benchmark.
//
// Trainers give every batch's attack its own seed through Reseeder (Reseed),
// so random starts differ between batches and epochs.
//
// # AutoAttack's configurations
//
// The attacks of AutoAttack (Croce and Hein, 2020), with its settings, for
// an evaluation at eps (package robustness runs them as a cascade, each on
// the samples the previous ones did not fool):
//
//   - standard, Linf and L2: APGD{} (CE, 100 steps, 1 restart), APGDT{} (9
//     targets, 1 restart each), FABT{Eps: eps} (9 targets, 1 restart
//     each), then Square{} (5,000 queries, SquareFixed schedule, scores).
//   - standard, L1: APGD{Restarts: 5, LargeEps: true}, APGDT{Targets: 5,
//     LargeEps: true}, FABT{Eps: eps} (Square is Linf and L2 only).
//   - plus: APGD{Restarts: 5}, APGD{Loss: APGDDLR, Restarts: 5},
//     FAB{Restarts: 5, Eps: eps}, Square{}, APGDT{}, FABT{Eps: eps}.
//   - rand (randomised models): APGD{EOT: 20} and APGD{Loss: APGDDLR,
//     EOT: 20}, one restart each.
//
// FAB and FABT are MinimumNormAttacks: Run gives them eps = +Inf and counts
// a sample as fooled when the smallest perturbation found lies within eps;
// their Eps field carries the evaluation's eps into the attack, for the
// radius of the random restarts and so that samples fooled within it are
// not attacked again, as in AutoAttack.
//
// # Adding an attack
//
// A white-box attack implements Attack: Name, and Perturb(ctx, m, x, c, tm),
// which returns the adversarial batch. Inside Perturb, use m.Outputs for
// scores, m.Gradient for the input gradient of a Loss under c (ascended by
// convention: Untargeted adds the loss, Targeted subtracts it),
// m.InputGradient for any other objective (DeepFool's per-class margins),
// and m.Forward to build a custom graph (C&W's tanh change of variables);
// ThreatModel's Project, ProjectThenClip, RandomStart and Norms for the
// geometry; SampleRNGs for randomness; Margins and Criterion.IsAdversarial to
// keep each sample's best; Criterion.Select to continue on a subset.
// Switch on the criterion's type (Untargeted or Targeted) and return an
// error for any other. An attack that searches for the smallest perturbation (C&W,
// DeepFool) also implements MinimumNormAttack: RunEps then runs it once with
// Eps +Inf and projects its result onto each eps-ball. A wrapper is an
// Attack holding an Attack: EOT over a randomised model gives the inner
// attack m.Expectation(k), whose outputs and gradients average k passes.
//
// A black-box attack implements BlackBoxAttack: Name, and
// PerturbBlackBox(ctx, o, x, c, tm), querying o.Scores or o.Labels with, for
// each row, the index of the sample it serves, and stopping a sample when
// o.Remaining(i) is zero. Oracles come from NewScoreOracle and
// NewLabelOracle (over a module) and NewFuncOracle (over any prediction
// function, for a model reachable only through a function). A transfer
// attack is a BlackBoxAttack holding a surrogate module and a white-box
// Attack, run on the surrogate with Run and checked through the oracle.
//
// Trainers and evaluators call Run (or RunEps, or Craft) on each batch: the
// model's mode and frozen flags come back as they were, so adversarial
// training can attack in the middle of a fit. WithAttackMode gives a Model
// for other uses (clean outputs, gradient checks) under the same rules.
//
// # Black-box attacks
//
// A black-box attack sees the model only through an Oracle and pays for
// every query; each Result says how many each sample used (Queries), and
// no sample ever exceeds the oracle's budget. All take a Seed and draw
// per-sample streams, so a batch gives what its rows give alone.
//
//   - Square (Andriushchenko et al.; Linf, L2; scores) is random search over
//     square windows, the black-box part of AutoAttack: Linf windows set to
//     x +/- eps from vertical stripes, L2 windows that move mass between
//     two squares of a pseudo-Gaussian pattern, both with the paper's
//     shrinking window schedule; the margin loss (cross-entropy for
//     targeted attacks). Schedule picks AutoAttack's standard schedule
//     (SquareFixed, the default) or the one stretched to the budget
//     (SquareRescaled). The strongest score-based attack here: 5,000
//     queries (with SquareRescaled) bring a normally trained SmallCNN from
//     0.89 to 0.08 at Linf 0.1 on Fashion-MNIST.
//   - SimBA (Guo et al.; Linf, L2; scores) steps along one orthonormal
//     direction at a time, keeping steps that lower the label's
//     probability: pixels in a random order, or the 2-D DCT basis with low
//     frequencies first (DCTBasis, DCTOrder), which finds natural images'
//     weak directions sooner.
//   - NES (Ilyas et al.) and SPSA (Uesato et al.) estimate the gradient
//     from scores with antithetic Gaussian or Rademacher probes; NES feeds
//     it, smoothed by momentum, to PGD steps whose size drops when the
//     objective plateaus, and SPSA to Adam (as in the authors' and
//     cleverhans' code); each step costs 2*Samples+1 queries. They show what a
//     gradient attack can do without gradients, and are the usual check
//     against defences that hide them.
//   - HopSkipJump (Chen et al.; L2, Linf) needs the top class alone
//     (LabelAccess): from an adversarial start it walks along the decision
//     boundary (binary search, a normal estimated from the labels of random
//     probes, geometric steps), shrinking the perturbation; with a finite
//     eps it stops a sample once within it.
//   - Transfer crafts examples with white-box attacks on a Surrogate module
//     the attacker owns and sends them to the target, one query per
//     candidate to see which transfer.
//
// ScoreLoss chooses the objective of the score-based attacks (margin,
// cross-entropy or probability, each treating scores as logits).
//
// # Tests
//
// go test ./adversarial/attacks runs the oracle tests in seconds: eps 0
// returns the input, every perturbation within eps and the box for each
// norm, the input not mutated, a batch equal to its rows alone, closed
// forms on linear models (FGSM's optimal Linf step, DeepFool's one-step
// distance, C&W at the exact minimum, HopSkipJump against the closed-form
// minimum), robust accuracy at most clean accuracy, targeted hits rising,
// restarts never worse, APGD at least as strong as PGD, modes, frozen flags
// and BatchNorm statistics restored; for every black-box attack the oracle
// tests (eps 0, ball and box, input untouched, a batch equal to its rows,
// the budget never exceeded, targeted hits rising). Without -short it also
// trains a SmallCNN briefly on the embedded Fashion-MNIST subset and checks
// PGD-20 against FGSM and random targets, and Square and HopSkipJump through
// the oracle alone.
//
// The long checks train SmallCNN on the full Fashion-MNIST
// (/usr/share/datasets/fashion-mnist; they skip without it) and run with
// -long:
//
//	go test ./adversarial/attacks -long -run W3 -timeout 30m
//	go test ./adversarial/attacks -long -run 'TestFMNIST(TargetedPGD|MinimumNorm)' -timeout 1h
//	go test ./adversarial/attacks -long -run TestSquareFullFashionMNIST -timeout 1h
//
// W3 is docs/performance.md's PGD-20 check against PyTorch's figures. At Linf eps
// 0.1, on a normally trained SmallCNN (2 epochs of FitOneCycle), targeted
// PGD-20 reaches the runner-up class on at least 90% of 1000 test images
// (the random-target rate is logged), and C&W and DeepFool succeed on every
// one of 200 (median L2 norms logged). Square with 5,000 queries brings a
// SmallCNN trained as W2 under 0.20 at Linf 0.1 on 500 test images
// (measured: 0.892 clean, 0.078 robust, median 259 queries per success).
package attacks
