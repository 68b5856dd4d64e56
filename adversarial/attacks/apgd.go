package attacks

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
)

// APGDLoss is the objective APGD maximises.
type APGDLoss int

const (
	// APGDCrossEntropy is the cross-entropy of the label (Untargeted), or
	// minus that of the target (Targeted): APGD-CE.
	APGDCrossEntropy APGDLoss = iota
	// APGDDLR is the Difference of Logits Ratio (DLRLoss; TargetedDLRLoss
	// for a Targeted criterion), invariant to shifts and rescalings of the
	// logits: APGD-DLR.
	APGDDLR
)

// String returns "CE" or "DLR".
func (l APGDLoss) String() string {
	switch l {
	case APGDCrossEntropy:
		return "CE"
	case APGDDLR:
		return "DLR"
	}
	return fmt.Sprintf("APGDLoss(%d)", int(l))
}

// APGD is Auto-PGD (Croce and Hein, "Reliable evaluation of adversarial
// robustness with an ensemble of diverse parameter-free attacks", 2020),
// the first attack of AutoAttack, for Linf, L2 and L1: PGD with momentum
// and a step size that adapts itself, so that it needs no tuning.
//
// From a random point at distance eps (Linf: x + eps * t/||t||_inf with t
// uniform in [-1, 1]; L2: x + eps * g/||g||_2 with g Gaussian), clipped to
// the box, each step is
//
//	z       = P(x_k + eta * s(grad))          s = sign (Linf), g/||g||_2 (L2)
//	x_{k+1} = P(x_k + 0.75 (z - x_k) + 0.25 (x_k - x_{k-1}))
//
// (no momentum on the first step), P the projection onto ball and box. The
// step size eta starts at 2 eps and is halved, at checkpoints after 22% of
// the steps and then at intervals shrinking by 3% of the steps down to 6%,
// for each sample whose loss rose in at most Rho of the steps since the last
// checkpoint, or whose best loss did not improve since the last checkpoint
// when its step size was not halved there; such a sample restarts from its
// best point. This is the schedule of the paper and of AutoAttack's code,
// but for one detail: the first checkpoint counts the first step against the
// loss at the start (AutoAttack compares it with 0).
//
// L1 is the version of Croce and Hein's "Mind the box: l1-APGD for sparse
// adversarial attacks on image classifiers" (ICML 2021), as in AutoAttack:
// from x + g (g Gaussian) projected onto the L1 ball and the box, each step
// moves the coordinates whose |gradient| is among the top k, by step/|S|
// each in the gradient's sign (S those coordinates), and projects exactly
// onto the intersection of the L1 ball and the box (ThreatModel.Project),
// without momentum. The step starts at eps; every 4% of the steps, where
// the best point is not sparser than 95% of its sparsity at the previous
// check the step is divided by 1.5 (down to eps/10), else it is reset to
// eps and the run resumes from the best point; k becomes the best point's
// number of changed pixels / 1.5 (20% of the pixels before the first
// check). With LargeEps (AutoAttack's use_largereps, its L1 setting) the
// steps are split 30/30/40% between runs at 3 eps, 2 eps and eps, each
// starting from the previous run's best point projected onto its ball, the
// first from x + g projected onto the 3 eps ball; only the last run, at
// eps, can give the result.
//
// EOT > 1 averages every gradient, loss and score over EOT passes of the
// model (Model.Expectation): AutoAttack's eot_iter, 20 in its "rand"
// version against randomised models. (AutoAttack averages the gradients
// and keeps the last pass's loss; here the loss is averaged too.)
//
// Each sample keeps its best point: adversarial if any iterate was, with the
// largest margin. Restarts runs the attack again from new random points on
// the samples not yet fooled. Under Targeted(t) the loss is minus the
// cross-entropy of t (APGDCrossEntropy) or the targeted DLR loss
// (TargetedDLRLoss); for AutoAttack's APGD-T over the most likely classes,
// see APGDT.
type APGD struct {
	// Steps is the number of iterations (0: 100).
	Steps int
	// Restarts is the number of runs (0: 1).
	Restarts int
	// Loss is the objective (default APGDCrossEntropy).
	Loss APGDLoss
	// Rho is the fraction of rising steps below which the step size is
	// halved (0: 0.75; Linf and L2).
	Rho float64
	// EOT is the number of passes every gradient, loss and score is
	// averaged over, for randomised models (0 or 1: one pass; AutoAttack's
	// "rand" version uses 20).
	EOT int
	// LargeEps runs L1 attacks at 3 eps, 2 eps and then eps (AutoAttack's
	// use_largereps, set in its standard L1 run); ignored for Linf and L2.
	LargeEps bool
	// Seed seeds the random starts (per sample, see SampleRNGs).
	Seed uint64
}

// Name returns "APGD-CE" or "APGD-DLR", with "-EOT<k>" appended when EOT >
// 1.
func (a APGD) Name() string { return "APGD-" + a.Loss.String() + eotSuffix(a.EOT) }

func eotSuffix(k int) string {
	if k > 1 {
		return fmt.Sprintf("-EOT%d", k)
	}
	return ""
}

// Perturb implements Attack, for Linf, L2 and L1 threat models.
func (a APGD) Perturb(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel) (*tensor.Tensor, error) {
	spec, err := newAPGDSpec(a.Steps, a.Restarts, a.Rho, a.EOT, a.LargeEps, a.Seed, tm)
	if err != nil {
		return nil, err
	}
	m = spec.model(m)
	if a.Loss != APGDCrossEntropy && a.Loss != APGDDLR {
		return nil, fmt.Errorf("APGD: unknown loss %v", a.Loss)
	}
	obj, err := apgdObjective(a.Loss, c)
	if err != nil {
		return nil, err
	}
	if tm.Eps == 0 {
		return x.Clone(), nil
	}
	b := newBest(x)
	if err := spec.runs(ctx, m, x, c, tm, obj, b, SampleRNGs(spec.seed, x), batch.All(x.Dim(0))); err != nil {
		return nil, err
	}
	return b.x, nil
}

// DLRLoss is the per-sample Difference of Logits Ratio of Croce and Hein
// (2020), (max_{j != c} z_j - z_c) / (z_pi1 - z_pi3 + 1e-12) with z_pi1 >=
// z_pi2 >= z_pi3 the sorted logits: a margin (MarginLoss) made invariant to
// shifting and scaling the logits. It needs at least 3 classes. As an
// attack Loss, Untargeted ascends it (the label loses) and Targeted descends
// it on the target (the target wins).
func DLRLoss(outputs *autograd.Value, classes []int) *autograd.Value {
	return autograd.Div(MarginLoss(outputs, classes), dlrDenominator("DLRLoss", outputs, []float32{1, 0, -1}))
}

// TargetedDLRLoss is the targeted DLR loss for a Targeted criterion
// (classes are the targets): (max_{j != t} z_j - z_t) / (z_pi1 - (z_pi3 +
// z_pi4)/2 + 1e-12), which an attack descends. It is AutoAttack's
// -(z_y - z_t)/(...) with the true label y replaced by the strongest class
// other than the target, which it is as long as y wins. It needs at least 4
// classes.
func TargetedDLRLoss(outputs *autograd.Value, classes []int) *autograd.Value {
	return autograd.Div(MarginLoss(outputs, classes), dlrDenominator("TargetedDLRLoss", outputs, []float32{1, 0, -0.5, -0.5}))
}

// dlrDenominator returns, per row of out, sum_r w[r] * z_pi(r+1) + 1e-12,
// the weights applied to the sorted logits (the largest first).
func dlrDenominator(op string, out *autograd.Value, w []float32) *autograd.Value {
	n, c := out.Shape()[0], out.Shape()[1]
	if c < len(w) {
		panic(fastgo.Errorf("attacks: %s needs at least %d classes, the outputs have %d", op, len(w), c))
	}
	mask := tensor.New[float32](n, c)
	d := out.Data().Data()
	for i := 0; i < n; i++ {
		order := sortedDesc(d[i*c : (i+1)*c])
		for r, v := range w {
			mask.Data()[i*c+order[r]] += v
		}
	}
	return autograd.AddScalar(autograd.Sum(autograd.Mul(out, autograd.Const(mask)), 1), 1e-12)
}

// sortedDesc returns the classes of row by decreasing score (ties: lower
// class first; NaN last).
func sortedDesc(row []float32) []int {
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	key := func(i int) float64 {
		v := float64(row[i])
		if math.IsNaN(v) {
			return math.Inf(-1)
		}
		return v
	}
	slices.SortStableFunc(idx, func(p, q int) int {
		switch a, b := key(p), key(q); {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	return idx
}

// objective is a per-sample function of the outputs that an attack
// maximises.
type objective func(out *autograd.Value) *autograd.Value

// apgdObjective returns, for the rows of a run, APGD's objective under c.
func apgdObjective(loss APGDLoss, c Criterion) (func(rows []int) objective, error) {
	var targeted bool
	switch c.(type) {
	case Untargeted:
	case Targeted:
		targeted = true
	default:
		return nil, fmt.Errorf("APGD: unsupported criterion %T", c)
	}
	classes := c.Classes()
	return func(rows []int) objective {
		cls := batch.SelectInts(classes, rows)
		switch {
		case loss == APGDCrossEntropy && !targeted:
			return func(o *autograd.Value) *autograd.Value { return CrossEntropyLoss(o, cls) }
		case loss == APGDCrossEntropy:
			return func(o *autograd.Value) *autograd.Value { return autograd.Neg(CrossEntropyLoss(o, cls)) }
		case !targeted:
			return func(o *autograd.Value) *autograd.Value { return DLRLoss(o, cls) }
		default:
			return func(o *autograd.Value) *autograd.Value { return autograd.Neg(TargetedDLRLoss(o, cls)) }
		}
	}, nil
}

// apgdSpec is the configuration of APGD runs.
type apgdSpec struct {
	steps, restarts int
	rho             float64
	eot             int
	largeEps        bool
	seed            uint64
}

func newAPGDSpec(steps, restarts int, rho float64, eot int, largeEps bool, seed uint64, tm ThreatModel) (apgdSpec, error) {
	if !tm.Norm.valid() {
		return apgdSpec{}, fmt.Errorf("APGD supports Linf, L2 and L1, not %v", tm.Norm)
	}
	if eot < 0 || steps < 0 || restarts < 0 {
		return apgdSpec{}, fmt.Errorf("APGD: Steps %d, Restarts %d and EOT %d must be >= 0", steps, restarts, eot)
	}
	if rho == 0 {
		rho = 0.75
	}
	if rho < 0 || rho > 1 || math.IsNaN(rho) {
		return apgdSpec{}, fmt.Errorf("APGD: Rho %v must be in [0, 1]", rho)
	}
	if math.IsInf(tm.Eps, 1) {
		return apgdSpec{}, fmt.Errorf("APGD needs a finite eps (its step size is 2 eps)")
	}
	return apgdSpec{steps: batch.OrDefault(steps, 100), restarts: batch.OrDefault(restarts, 1), rho: rho, eot: eot, largeEps: largeEps, seed: seed}, nil
}

// model returns m averaged over EOT passes (m itself for EOT <= 1, so that
// an Expectation given by an EOT wrapper is kept).
func (s apgdSpec) model(m *Model) *Model {
	if s.eot > 1 {
		return m.Expectation(s.eot)
	}
	return m
}

// runs runs APGD Restarts times on the samples rows of x (each time on
// those not yet adversarial), offering every iterate to b.
func (s apgdSpec) runs(ctx context.Context, m *Model, x *tensor.Tensor, c Criterion, tm ThreatModel, obj func(rows []int) objective, b *best, rngs []*tensor.RNG, rows []int) error {
	for r := 0; r < s.restarts && len(rows) > 0; r++ {
		xs, cs := batch.Select(x, rows), c.Select(rows)
		gs := make([]*tensor.RNG, len(rows))
		for k, i := range rows {
			gs[k] = rngs[i]
		}
		if err := s.run(ctx, m, xs, cs, tm, obj(rows), gs, b, rows); err != nil {
			return err
		}
		var still []int
		for _, i := range rows {
			if !b.adv[i] {
				still = append(still, i)
			}
		}
		rows = still
	}
	return nil
}

// run is one APGD run on the batch x0 (the rows rows of the attacked
// batch).
func (s apgdSpec) run(ctx context.Context, m *Model, x0 *tensor.Tensor, c Criterion, tm ThreatModel, obj objective, rngs []*tensor.RNG, b *best, rows []int) error {
	if tm.Norm == L1 {
		return s.runL1(ctx, m, x0, c, tm, obj, rngs, b, rows)
	}
	n := x0.Dim(0)
	d := x0.Len() / n
	eval := apgdEval(m, c, obj, b, rows, true)
	xa := apgdStart(x0, tm, rngs)
	grad, loss, err := eval(xa)
	if err != nil {
		return err
	}
	xBest, gradBest := xa.Clone(), grad.Clone()
	lossBest := slices.Clone(loss)
	hist := make([][]float64, s.steps+1)
	hist[0] = loss
	step := make([]float32, n)
	for i := range step {
		step[i] = float32(2 * tm.Eps)
	}
	xOld := xa.Clone()
	checks := apgdCheckpoints(s.steps)
	next, last := 0, 0 // the next checkpoint (index into checks) and the previous one's iteration
	lossBestLast := slices.Clone(lossBest)
	reducedLast := make([]bool, n)
	for i := range reducedLast {
		reducedLast[i] = true
	}
	window := make([]float64, 0, s.steps+1)
	z := tensor.New[float32](x0.Shape()...)
	for it := 0; it < s.steps; it++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		mom := float32(0.75)
		if it == 0 {
			mom = 1
		}
		xd, od, zd := xa.Data(), xOld.Data(), z.Data()
		apgdDirection(tm.Norm, grad, n, d)
		gd := grad.Data()
		for i := 0; i < n; i++ {
			for j := i * d; j < (i+1)*d; j++ {
				zd[j] = xd[j] + step[i]*gd[j]
			}
		}
		tm.ProjectThenClip(x0, z)
		for j := range zd {
			prev := od[j]
			od[j] = xd[j]
			xd[j] = xd[j] + mom*(zd[j]-xd[j]) + (1-mom)*(xd[j]-prev)
		}
		tm.ProjectThenClip(x0, xa)
		if grad, loss, err = eval(xa); err != nil {
			return err
		}
		hist[it+1] = loss
		for i := 0; i < n; i++ {
			if loss[i] > lossBest[i] {
				lossBest[i] = loss[i]
				copy(xBest.Data()[i*d:(i+1)*d], xa.Data()[i*d:(i+1)*d])
				copy(gradBest.Data()[i*d:(i+1)*d], grad.Data()[i*d:(i+1)*d])
			}
		}
		if next >= len(checks) || it+1 != checks[next] {
			continue
		}
		for i := 0; i < n; i++ {
			window = window[:0]
			for t := last; t <= it+1; t++ {
				window = append(window, hist[t][i])
			}
			fl := apgdHalve(window, s.rho, reducedLast[i], lossBestLast[i], lossBest[i])
			reducedLast[i], lossBestLast[i] = fl, lossBest[i]
			if fl {
				step[i] /= 2
				copy(xa.Data()[i*d:(i+1)*d], xBest.Data()[i*d:(i+1)*d])
				copy(grad.Data()[i*d:(i+1)*d], gradBest.Data()[i*d:(i+1)*d])
			}
		}
		if apgdTrace != nil {
			apgdTrace(it+1, step)
		}
		last = it + 1
		next++
	}
	return nil
}

// apgdCheckpoints returns the iterations (counted from 1) after which APGD
// reconsiders its step sizes: w_1 = 0.22 N, then intervals shrinking by
// 0.03 N down to 0.06 N (Croce and Hein's p_{j+1} = p_j + max(p_j - p_{j-1}
// - 0.03, 0.06), as AutoAttack computes it in whole iterations).
func apgdCheckpoints(steps int) []int {
	k := max(int(0.22*float64(steps)), 1)
	nMin := max(int(0.06*float64(steps)), 1)
	decr := max(int(0.03*float64(steps)), 1)
	var out []int
	for at := k; at <= steps; at += k {
		out = append(out, at)
		k = max(k-decr, nMin)
	}
	return out
}

// apgdHalve decides, at a checkpoint, whether a sample's step size is
// halved. window holds its losses from the previous checkpoint's iterate to
// the current one (k+1 values for an interval of k steps); reducedLast
// says whether the step size was halved at the previous checkpoint, and
// bestLast and best are the best losses then and now. It halves when the
// loss rose in at most rho*k of the k steps (condition 1 of the paper), or
// when the step size was kept at the previous checkpoint and the best loss
// has not improved since (condition 2).
func apgdHalve(window []float64, rho float64, reducedLast bool, bestLast, best float64) bool {
	k := len(window) - 1
	rises := 0
	for t := 1; t <= k; t++ {
		if window[t] > window[t-1] {
			rises++
		}
	}
	return float64(rises) <= float64(k)*rho || (!reducedLast && bestLast >= best)
}

// apgdTrace, when set (by tests), is called at each checkpoint with the
// iteration and the step sizes after the decision.
var apgdTrace func(it int, step []float32)

// apgdDirection replaces g, in place, by sign(g) (Linf) or g/(||g||_2 +
// 1e-12) per sample (L2).
func apgdDirection(norm Norm, g *tensor.Tensor, n, d int) {
	gd := g.Data()
	if norm == Linf {
		signInPlace(gd)
		return
	}
	for i := 0; i < n; i++ {
		row := gd[i*d : (i+1)*d]
		s := 1 / (l2Norm(row) + 1e-12)
		for j, v := range row {
			row[j] = float32(float64(v) * s)
		}
	}
}

// apgdStart returns AutoAttack's random start: at distance eps from each
// sample (Linf: eps * t/||t||_inf, t uniform in [-1,1]; L2: eps *
// g/||g||_2, g Gaussian), then projected into the box (and onto the ball,
// against float32 rounding).
func apgdStart(x0 *tensor.Tensor, tm ThreatModel, rngs []*tensor.RNG) *tensor.Tensor {
	n := x0.Dim(0)
	d := x0.Len() / n
	out := x0.Clone()
	t := make([]float64, d)
	for i := 0; i < n; i++ {
		g := rngs[i]
		var s float64
		for j := range t {
			if tm.Norm == Linf {
				t[j] = 2*g.Float64() - 1
				s = math.Max(s, math.Abs(t[j]))
			} else {
				t[j] = g.NormFloat64()
				s += t[j] * t[j]
			}
		}
		if tm.Norm == L2 {
			s = math.Sqrt(s)
		}
		o := out.Data()[i*d : (i+1)*d]
		for j := range o {
			o[j] += float32(tm.Eps * t[j] / (s + 1e-12))
		}
	}
	tm.ProjectThenClip(x0, out)
	return out
}

// apgdEval returns the function that computes, at a point xa, the input
// gradient of obj and its per-sample values (averaged over the model's
// passes), offering xa to b as a candidate when offer is set.
func apgdEval(m *Model, c Criterion, obj objective, b *best, rows []int, offer bool) func(xa *tensor.Tensor) (*tensor.Tensor, []float64, error) {
	return func(xa *tensor.Tensor) (*tensor.Tensor, []float64, error) {
		var vals []float64
		g, out, err := m.InputGradient(xa, func(o *autograd.Value) *autograd.Value {
			v := obj(o)
			vals = accumulateValues(vals, v.Data().Data(), m.Samples())
			return v
		})
		if err != nil {
			return nil, nil, err
		}
		if offer {
			b.offer(xa, c.IsAdversarial(out), Margins(out, c), rows)
		}
		return g, vals, nil
	}
}
