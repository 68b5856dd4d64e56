package attacks

import (
	"context"
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Attack is a white-box attack: it sees the model's outputs and input
// gradients through a Model in attack mode.
//
// Perturb receives a batch x [N, ...] inside tm's box (its own copy: the
// caller's tensor is never handed over), a criterion already resolved for x
// (an Untargeted always has its labels; both have N classes), and a valid
// threat model. It returns a batch of x's shape inside tm (Eps in tm.Norm
// around x, and the box), holding per sample the best adversarial the
// attack found (not merely its last iterate). It draws every random choice
// from per-sample generators (SampleRNGs) of its own seed, returns ctx.Err()
// (wrapped) soon after ctx is cancelled, and otherwise returns an error only
// for an unusable setting (a norm it does not support, say).
//
// Perturb does not report success: Run recomputes it on the returned tensor.
type Attack interface {
	// Name returns a short name for reports, such as "PGD-20".
	Name() string
	Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error)
}

// MinimumNormAttack is implemented by attacks that search for the smallest
// adversarial perturbation rather than any within a fixed eps (C&W,
// DeepFool...). Their Perturb is given tm.Eps = +Inf by RunEps, which runs
// them once and projects the result onto each eps-ball of the list
// (Foolbox's MinimizationAttack). MinimumNorm returns true.
type MinimumNormAttack interface {
	Attack
	MinimumNorm() bool
}

// Result is the outcome of one attack run at one eps.
type Result struct {
	// Attack is the attack's Name.
	Attack string
	// Adv is the adversarial batch, of the input's shape, within Threat.
	Adv *tensor.Tensor
	// Success[i] says whether Adv's sample i meets Criterion, computed by
	// running the model on Adv itself.
	Success []bool
	// Pred are the model's top classes on Adv (-1 for a NaN output).
	Pred []int
	// Outputs are the model's scores on Adv [N, C] (nil from a label-only
	// oracle).
	Outputs *tensor.Tensor
	// Norms[i] is the distance from the input's sample i to Adv's, in
	// Threat.Norm.
	Norms []float64
	// Queries[i] is the number of queries the attack spent on sample i
	// (black-box attacks; nil for white-box ones).
	Queries []int
	// Eps is Threat.Eps.
	Eps float64
	// Threat is the threat model of the run.
	Threat ThreatModel
	// Criterion is the criterion as used, Untargeted(nil) resolved to the
	// model's clean predictions.
	Criterion Criterion
}

// Len returns the number of samples.
func (r *Result) Len() int { return len(r.Success) }

// SuccessRate returns the fraction of samples that are adversarial.
func (r *Result) SuccessRate() float64 {
	n := 0
	for _, s := range r.Success {
		if s {
			n++
		}
	}
	return float64(n) / float64(max(len(r.Success), 1))
}

// Accuracy returns the fraction of samples whose prediction on Adv equals
// labels (the robust accuracy, for Untargeted(labels) with the true labels).
func (r *Result) Accuracy(labels []int) float64 {
	if len(labels) != len(r.Pred) {
		panic(fastgo.Errorf("attacks.Result.Accuracy: %d labels for %d samples", len(labels), len(r.Pred)))
	}
	n := 0
	for i, p := range r.Pred {
		if p == labels[i] {
			n++
		}
	}
	return float64(n) / float64(max(len(labels), 1))
}

// Run attacks model on the batch x [N, ...] under criterion c within tm and
// returns the result, with success recomputed on the returned batch. It
// checks its arguments (x inside the box, finite, a batch; c of N samples;
// tm valid) and returns an error for bad ones, puts model in attack mode
// (see Model) for the whole run and restores it, and never modifies x.
func Run(ctx context.Context, a Attack, model layers.Module, x *tensor.Tensor, c Criterion, tm ThreatModel) (*Result, error) {
	rs, err := RunEps(ctx, a, model, x, c, tm, []float64{tm.Eps})
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// RunEps runs a at each eps of epsList (replacing tm.Eps) and returns one
// Result per eps, in order, as Foolbox does. A MinimumNormAttack runs once,
// unbounded, and its result is projected onto each eps-ball (with
// ThreatModel.Project) before success is computed; any other attack runs
// once per eps.
func RunEps(ctx context.Context, a Attack, model layers.Module, x *tensor.Tensor, c Criterion, tm ThreatModel, epsList []float64) ([]*Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if a == nil {
		return nil, fmt.Errorf("attacks: nil attack")
	}
	if err := CheckRun(x, tm, epsList...); err != nil {
		return nil, fmt.Errorf("%w (attack %s)", err, a.Name())
	}
	var out []*Result
	err := WithAttackMode(model, func(m *Model) error {
		crit, err := resolveWith(m, x, c)
		if err != nil {
			return err
		}
		if mn, ok := a.(MinimumNormAttack); ok && mn.MinimumNorm() {
			adv, err := a.Perturb(ctx, m, x.Clone(), crit, tm.WithEps(math.Inf(1)))
			if err != nil {
				return fmt.Errorf("attacks: %s: %w", a.Name(), err)
			}
			for _, e := range epsList {
				r, err := finish(m, a.Name(), x, adv.Clone(), crit, tm.WithEps(e), true)
				if err != nil {
					return err
				}
				out = append(out, r)
			}
			return nil
		}
		for _, e := range epsList {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("attacks: %s: %w", a.Name(), err)
			}
			adv, err := a.Perturb(ctx, m, x.Clone(), crit, tm.WithEps(e))
			if err != nil {
				return fmt.Errorf("attacks: %s: %w", a.Name(), err)
			}
			r, err := finish(m, a.Name(), x, adv, crit, tm.WithEps(e), false)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CheckRun returns an error for arguments no run can take: an empty list
// of eps, an eps that does not make a valid threat model with tm's norm and
// box, or an input x that is not a non-empty batch of finite values inside
// the box. Run, RunEps, RunBlackBox, RunBlackBoxEps, Craft and
// robustness.Evaluate check their arguments with it.
func CheckRun(x *tensor.Tensor, tm ThreatModel, epsList ...float64) error {
	if len(epsList) == 0 {
		return fmt.Errorf("attacks: empty eps list")
	}
	for _, e := range epsList {
		if err := tm.WithEps(e).Validate(); err != nil {
			return err
		}
	}
	return tm.CheckInput(x)
}

// resolveWith resolves c for x, running the model on x when c is
// Untargeted(nil), and checks the classes against the model's outputs.
func resolveWith(m *Model, x *tensor.Tensor, c Criterion) (Criterion, error) {
	var pred []int
	if u, ok := c.(Untargeted); ok && u == nil {
		out, err := m.Outputs(x)
		if err != nil {
			return nil, err
		}
		pred = Predictions(out)
	}
	crit, err := ResolveCriterion(c, x.Dim(0), pred)
	if err != nil {
		return nil, err
	}
	if m.stats.classes > 0 {
		if err := checkClasses(crit, m.stats.classes); err != nil {
			return nil, err
		}
	}
	return crit, nil
}

// finish checks an attack's output adv against x and tm, projects it (an
// exact no-op for a correct fixed-eps attack, beyond float32 rounding), runs
// the model on it and builds the Result. With clip false, a perturbation
// outside the threat model by more than rounding is reported as the
// attack's bug; with clip true (minimum-norm attacks at a given eps) it is
// projected as intended.
func finish(m *Model, name string, x, adv *tensor.Tensor, c Criterion, tm ThreatModel, clip bool) (*Result, error) {
	if err := checkOutput(name, x, adv, tm, clip); err != nil {
		return nil, err
	}
	tm.Project(x, adv)
	out, err := m.Outputs(adv)
	if err != nil {
		return nil, err
	}
	if err := checkClasses(c, out.Dim(1)); err != nil {
		return nil, err
	}
	return &Result{
		Attack: name, Adv: adv, Success: c.IsAdversarial(out), Pred: Predictions(out), Outputs: out,
		Norms: tm.Norms(x, adv), Eps: tm.Eps, Threat: tm, Criterion: c,
	}, nil
}

// checkOutput returns an error if adv is not of x's shape, holds a NaN, or
// (unless clip) leaves the box or the ball by more than rounding.
func checkOutput(name string, x, adv *tensor.Tensor, tm ThreatModel, clip bool) error {
	if adv == nil || !tensor.SameShape(adv.Shape(), x.Shape()) {
		var s []int
		if adv != nil {
			s = adv.Shape()
		}
		return fmt.Errorf("attacks: %s returned a batch of shape %v for input %v", name, s, x.Shape())
	}
	lo, hi := tm.Bounds()
	tol := 1e-5 * math.Max(1, hi-lo)
	d := x.Len() / x.Dim(0)
	for i, v := range adv.Data() {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("attacks: %s returned %v in sample %d", name, v, i/d)
		}
		if !clip && (f < lo-tol || f > hi+tol) {
			return fmt.Errorf("attacks: %s returned %v in sample %d, outside the box [%g, %g] (a bug in the attack)", name, v, i/d, lo, hi)
		}
	}
	if clip || math.IsInf(tm.Eps, 1) {
		return nil
	}
	for i, nrm := range tm.Norms(x, adv) {
		if nrm > tm.Eps+1e-5*math.Max(1, tm.Eps) {
			return fmt.Errorf("attacks: %s returned sample %d at %v distance %g > eps %g (a bug in the attack)", name, i, tm.Norm, nrm, tm.Eps)
		}
	}
	return nil
}
