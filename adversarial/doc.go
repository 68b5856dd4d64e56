// Package adversarial attacks image classifiers and measures how robust they
// are: white-box attacks over a differentiable model, black-box attacks over
// a query-counting oracle, and the AdversarialLearner that puts them behind
// fastai's Learner. fastai has no adversarial module; this one follows the
// designs of torchattacks, Foolbox 3 and AutoAttack, and is honest by
// construction: the rules below are enforced by the code every attack goes
// through, not left to each attack.
//
// The short call does the right thing:
//
//	adv := adversarial.NewLearner(learn)                          // learn is a *learner.Learner
//	x, err := adv.GenerateAdvExample(img, adversarial.TargetLabel(3))
//	pred, err := adv.Predict(x)                                   // the Learner's Predict
//
// and the general one is
//
//	res, err := adversarial.Run(ctx, adversarial.PGD{Steps: 20, RandomStart: true},
//		model, x, adversarial.Untargeted(labels), adversarial.ThreatModel{Norm: adversarial.Linf, Eps: 0.1})
//
// # Threat model
//
// A ThreatModel is what the adversary may do: move each input anywhere within
// distance Eps of where it was, in the norm Norm (Linf, L2 or L1), without
// leaving the pixel box [Lo, Hi] ([0, 1] when both are zero). Inputs are
// always [0,1] pixels: normalisation is a layer inside the model
// (layers.Normalize), so Eps means pixels, the same for every model. Eps may
// be +Inf (only the box binds), which minimum-norm attacks use.
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
// box) before the attack starts. The target helpers are TargetClass (one
// class for all), RandomTargets (seeded, never the label), LeastLikelyTargets
// and NextClassTargets. A criterion restricted to some samples is
// Criterion.Select. The top class is the first largest score; a NaN output
// never counts as adversarial.
//
// # Results
//
// A Result holds the adversarial batch Adv, per-sample Success computed by
// running the model on Adv itself (never from an attack's own bookkeeping),
// the predictions and scores on Adv, per-sample perturbation Norms, per-
// sample Queries for black-box attacks, the eps, the threat model and the
// criterion as used. RunEps takes a list of eps and returns one Result per
// eps, as Foolbox does.
//
// # Honesty rules
//
// Run, RunEps, RunBlackBox and RunBlackBoxEps enforce, for every attack:
//
//   - Arguments are checked: an input that is not a non-empty batch, holds a
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
//     (ErrBudget) and any query outside the box, and the final check is made
//     by the runner, uncharged.
//
// # Attacks
//
// White-box, gradient-based (this package's first set): FGSM and FGM (one
// step of size eps, sign or L2-normalised), BIM (Kurakin et al.), PGD
// (Madry et al.; Linf, L2, and L1 with Tramer and Boneh's sparse step;
// random start; restarts) and MIFGSM (Dong et al.). Each is a small struct
// whose zero value is a sensible attack; see each type for its defaults.
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
// keep each sample's best; Criterion.Select to continue on a subset. Type-
// switch on the criterion (Untargeted or Targeted) and return an error for
// any other. An attack that searches for the smallest perturbation (C&W,
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
// Trainers and evaluators call Run (or RunEps) on each batch: the model's
// mode and frozen flags come back as they were, so adversarial training can
// attack in the middle of a fit. WithAttackMode gives a Model for other
// uses (clean outputs, gradient checks) under the same rules.
//
// # Tests
//
// go test ./adversarial/ runs the oracle tests (eps 0 returns the input,
// every perturbation within eps and the box for each norm, the input not
// mutated, a batch equal to its rows alone, closed forms on linear models,
// robust accuracy at most clean accuracy, targeted hits rising, restarts
// never worse, modes, frozen flags and BatchNorm statistics restored) in a
// few seconds, and a short Fashion-MNIST check (skipped with -short).
// go test ./adversarial/ -long -run W3 also trains SmallCNN on the full
// Fashion-MNIST and checks W3 of BENCHMARKS.md (PGD-20, Linf 0.1, step 0.01,
// random start) against PyTorch's figures.
package adversarial
