package autograd

import (
	"fmt"
	"math"
	"slices"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Reduction says how a loss combines its per-element values. The zero value
// is ReductionMean, PyTorch's default.
type Reduction int

const (
	// ReductionMean averages (for class losses with weights, the weighted
	// mean: the sum divided by the total weight of the targets).
	ReductionMean Reduction = iota
	// ReductionSum adds the per-element losses.
	ReductionSum
	// ReductionNone returns the per-element losses unreduced.
	ReductionNone
	// ReductionBatchMean (KLDiv only) divides the sum by the batch size,
	// the mathematically correct KL divergence per sample.
	ReductionBatchMean
)

// String returns PyTorch's name of the reduction.
func (r Reduction) String() string {
	switch r {
	case ReductionMean:
		return "mean"
	case ReductionSum:
		return "sum"
	case ReductionNone:
		return "none"
	case ReductionBatchMean:
		return "batchmean"
	}
	return fmt.Sprintf("Reduction(%d)", int(r))
}

// lossCheckReduction panics unless r is valid for op.
func lossCheckReduction(op string, r Reduction, batchMean bool) {
	if r < ReductionMean || r > ReductionBatchMean || (r == ReductionBatchMean && !batchMean) {
		panic(fastgo.Errorf("autograd.%s: unsupported reduction %v", op, r))
	}
}

// DefaultIgnoreIndex is the target value that class losses skip unless told
// otherwise (PyTorch's ignore_index default).
const DefaultIgnoreIndex = -100

// LossOption is an option of CrossEntropy, NLLLoss and BCEWithLogits: a
// Reduction (ReductionMean, the default, ReductionSum or ReductionNone),
// LabelSmoothing, ClassWeights, IgnoreIndex or PosWeight. A loss given an
// option it does not take panics, naming the loss and the option.
type LossOption interface {
	applyLoss(*lossConfig)
}

// lossConfig collects the options of a loss call.
type lossConfig struct {
	red            Reduction
	labelSmoothing float64
	weight         []float64
	ignore         *int
	posWeight      []float64
	op             string   // the loss, for the panic of a misplaced option
	allowed        []string // the options it takes besides a Reduction
}

// applyLoss makes a Reduction a LossOption: CrossEntropy(x, y, ReductionSum).
func (r Reduction) applyLoss(c *lossConfig) { c.red = r }

// lossOptionFunc is a named LossOption.
type lossOptionFunc struct {
	name string
	f    func(*lossConfig)
}

func (o lossOptionFunc) applyLoss(c *lossConfig) {
	if !slices.Contains(c.allowed, o.name) {
		panic(fastgo.Errorf("autograd.%s: option %s does not apply to it", c.op, o.name))
	}
	o.f(c)
}

// LabelSmoothing (CrossEntropy only) mixes the target with the uniform
// distribution, ls in [0, 1]: loss = (1-ls)*nll + ls * mean over classes of
// -logp (each class weighted by ClassWeights when given), as PyTorch's
// label_smoothing.
func LabelSmoothing(ls float64) LossOption {
	return lossOptionFunc{"LabelSmoothing", func(c *lossConfig) { c.labelSmoothing = ls }}
}

// ClassWeights (CrossEntropy, NLLLoss) gives one weight per class, as
// PyTorch's weight argument.
func ClassWeights(w ...float64) LossOption {
	return lossOptionFunc{"ClassWeights", func(c *lossConfig) { c.weight = w }}
}

// IgnoreIndex (CrossEntropy, NLLLoss) replaces DefaultIgnoreIndex: samples
// with that target contribute no loss, no gradient and no weight to the
// mean.
func IgnoreIndex(target int) LossOption {
	return lossOptionFunc{"IgnoreIndex", func(c *lossConfig) { c.ignore = &target }}
}

// PosWeight (BCEWithLogits only) weighs the positive term of each class:
// one entry per element of the last dimension, broadcast over the others
// (PyTorch's pos_weight).
func PosWeight(w ...float64) LossOption {
	return lossOptionFunc{"PosWeight", func(c *lossConfig) { c.posWeight = w }}
}

// lossOptions applies opts for op, panicking on an option op does not take.
func lossOptions(op string, opts []LossOption, allowed ...string) lossConfig {
	c := lossConfig{op: op, allowed: allowed}
	for _, o := range opts {
		if o == nil {
			panic(fastgo.Errorf("autograd.%s: nil option", op))
		}
		o.applyLoss(&c)
	}
	return c
}

// lossClass holds the validated inputs of CrossEntropy and NLLLoss.
type lossClass struct {
	n, c    int
	targets []int
	weight  []float64
	ignore  int
	red     Reduction
}

func lossNewClass[T tensor.Float](op string, x *Var[T], targets []int, red Reduction, weight []float64, ignore *int) lossClass {
	nnRank(op, "input", x, 2)
	lossCheckReduction(op, red, false)
	n, c := x.Shape()[0], x.Shape()[1]
	if len(targets) != n {
		panic(fastgo.Errorf("autograd.%s: %d targets for input %v", op, len(targets), x.Shape()))
	}
	if weight != nil && len(weight) != c {
		panic(fastgo.Errorf("autograd.%s: %d class weights for input %v with %d classes", op, len(weight), x.Shape(), c))
	}
	ig := DefaultIgnoreIndex
	if ignore != nil {
		ig = *ignore
	}
	for i, t := range targets {
		if t != ig && (t < 0 || t >= c) {
			panic(fastgo.Errorf("autograd.%s: target %d at index %d out of range for %d classes", op, t, i, c))
		}
	}
	return lossClass{n: n, c: c, targets: targets, weight: weight, ignore: ig, red: red}
}

// w returns the weight of class k.
func (l *lossClass) w(k int) float64 {
	if l.weight == nil {
		return 1
	}
	return l.weight[k]
}

// lossClassReduce turns per-sample losses into the output tensor, returning also the
// denominator of the mean (the total weight of the non-ignored targets).
func lossClassReduce[T tensor.Float](l *lossClass, per []float64) (*tensor.Dense[T], float64) {
	var denom float64
	for _, t := range l.targets {
		if t != l.ignore {
			denom += l.w(t)
		}
	}
	switch l.red {
	case ReductionNone:
		out := tensor.New[T](l.n)
		for i, v := range per {
			out.Data()[i] = T(v)
		}
		return out, denom
	case ReductionSum:
		var s float64
		for _, v := range per {
			s += v
		}
		return tensor.Scalar(T(s)), denom
	default:
		var s float64
		for _, v := range per {
			s += v
		}
		return tensor.Scalar(T(s / denom)), denom
	}
}

// lossClassScale returns the factor of sample i's loss in the output gradient g.
func lossClassScale[T tensor.Float](l *lossClass, g []T, denom float64, i int) float64 {
	switch l.red {
	case ReductionNone:
		return float64(g[i])
	case ReductionSum:
		return float64(g[0])
	default:
		return float64(g[0]) / denom
	}
}

// CrossEntropy returns the cross-entropy between logits [N, C] and the class
// indices targets (length N), as torch.nn.functional.cross_entropy: a fused,
// numerically stable log-softmax followed by the negative log-likelihood,
// with the options a Reduction, LabelSmoothing, ClassWeights and IgnoreIndex.
// With ReductionNone the result is [N], otherwise a scalar. A target out of
// range panics.
func CrossEntropy[T tensor.Float](logits *Var[T], targets []int, opts ...LossOption) *Var[T] {
	o := lossOptions("CrossEntropy", opts, "LabelSmoothing", "ClassWeights", "IgnoreIndex")
	if !(o.labelSmoothing >= 0 && o.labelSmoothing <= 1) {
		panic(fastgo.Errorf("autograd.CrossEntropy: label smoothing %v outside [0, 1]", o.labelSmoothing))
	}
	l := lossNewClass("CrossEntropy", logits, targets, o.red, o.weight, o.ignore)
	ls := o.labelSmoothing
	n, c := l.n, l.c
	xd := logits.data.Data()
	lse := make([]float64, n)
	per := make([]float64, n)
	parallel.For(n, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := xd[i*c : (i+1)*c]
			m := math.Inf(-1)
			for _, v := range row {
				m = max(m, float64(v))
			}
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v) - m)
			}
			z := m + math.Log(s)
			lse[i] = z
			t := targets[i]
			if t == l.ignore {
				continue
			}
			loss := (1 - ls) * l.w(t) * (z - float64(row[t]))
			if ls != 0 {
				var sm float64
				for k, v := range row {
					sm += l.w(k) * (z - float64(v))
				}
				loss += ls / float64(c) * sm
			}
			per[i] = loss
		}
	})
	out, denom := lossClassReduce[T](&l, per)
	return Record("CrossEntropy", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		gx := tensor.New[T](n, c)
		gd, g := gx.Data(), gy.Data()
		var wsum float64 // sum over classes of the class weights
		for k := 0; k < c; k++ {
			wsum += l.w(k)
		}
		parallel.For(n, 64, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				t := targets[i]
				if t == l.ignore {
					continue
				}
				s := lossClassScale(&l, g, denom, i)
				row := xd[i*c : (i+1)*c]
				dst := gd[i*c : (i+1)*c]
				// loss_i = sum_k a_k * (-logp_k): d/dx_j = A*p_j - a_j.
				wt := (1 - ls) * l.w(t)
				sm := ls / float64(c)
				a := wt + sm*wsum
				for k, v := range row {
					p := math.Exp(float64(v) - lse[i])
					dst[k] = T(s * (a*p - sm*l.w(k)))
				}
				dst[t] -= T(s * wt)
			}
		})
		return []*tensor.Dense[T]{gx}
	}, logits)
}

// NLLLoss returns the negative log-likelihood of the class indices targets
// (length N) under the log-probabilities logp [N, C], as
// torch.nn.functional.nll_loss, with the options a Reduction, ClassWeights
// and IgnoreIndex. With ReductionNone the result is [N], otherwise a scalar.
func NLLLoss[T tensor.Float](logp *Var[T], targets []int, opts ...LossOption) *Var[T] {
	o := lossOptions("NLLLoss", opts, "ClassWeights", "IgnoreIndex")
	l := lossNewClass("NLLLoss", logp, targets, o.red, o.weight, o.ignore)
	n, c := l.n, l.c
	xd := logp.data.Data()
	per := make([]float64, n)
	for i, t := range targets {
		if t != l.ignore {
			per[i] = -l.w(t) * float64(xd[i*c+t])
		}
	}
	out, denom := lossClassReduce[T](&l, per)
	return Record("NLLLoss", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		gx := tensor.New[T](n, c)
		gd, g := gx.Data(), gy.Data()
		for i, t := range targets {
			if t != l.ignore {
				gd[i*c+t] = T(-l.w(t) * lossClassScale(&l, g, denom, i))
			}
		}
		return []*tensor.Dense[T]{gx}
	}, logp)
}

// lossReduce reduces per-element losses of shape shape; batch is the size of
// dimension 0, used by ReductionBatchMean. It returns the output and the
// factor that maps the output gradient to each element (1, 1/len or 1/batch;
// unused for ReductionNone).
func lossReduce[T tensor.Float](red Reduction, per []float64, shape []int) (*tensor.Dense[T], float64) {
	if red == ReductionNone {
		out := tensor.New[T](shape...)
		for i, v := range per {
			out.Data()[i] = T(v)
		}
		return out, 1
	}
	var s float64
	for _, v := range per {
		s += v
	}
	f := 1.0
	switch red {
	case ReductionMean:
		f = 1 / float64(len(per))
	case ReductionBatchMean:
		b := 1
		if len(shape) > 0 {
			b = shape[0]
		}
		f = 1 / float64(b)
	}
	return tensor.Scalar(T(s * f)), f
}

// lossGrad returns the output gradient for element i.
func lossGrad[T tensor.Float](red Reduction, g []T, f float64, i int) float64 {
	if red == ReductionNone {
		return float64(g[i])
	}
	return float64(g[0]) * f
}

// lossSameShape panics unless a and b have the same shape.
func lossSameShape[T tensor.Float](op string, a, b *Var[T]) {
	if !tensor.SameShape(a.Shape(), b.Shape()) {
		panic(fastgo.Errorf("autograd.%s: input %v and target %v differ in shape", op, a.Shape(), b.Shape()))
	}
}

// MSELoss returns the squared error (a-b)^2 reduced by red, as
// torch.nn.functional.mse_loss. Both a and b may require gradients.
func MSELoss[T tensor.Float](a, b *Var[T], red Reduction) *Var[T] {
	lossSameShape("MSELoss", a, b)
	lossCheckReduction("MSELoss", red, false)
	ad, bd := a.data.Data(), b.data.Data()
	per := make([]float64, len(ad))
	for i := range ad {
		d := float64(ad[i]) - float64(bd[i])
		per[i] = d * d
	}
	out, f := lossReduce[T](red, per, a.Shape())
	return Record("MSELoss", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		var ga, gb *tensor.Dense[T]
		if a.RequiresGrad() {
			ga = tensor.New[T](a.Shape()...)
		}
		if b.RequiresGrad() {
			gb = tensor.New[T](b.Shape()...)
		}
		g := gy.Data()
		for i := range ad {
			d := 2 * (float64(ad[i]) - float64(bd[i])) * lossGrad(red, g, f, i)
			if ga != nil {
				ga.Data()[i] = T(d)
			}
			if gb != nil {
				gb.Data()[i] = T(-d)
			}
		}
		return []*tensor.Dense[T]{ga, gb}
	}, a, b)
}

// BCEWithLogits returns the binary cross-entropy between sigmoid(logits) and
// targets (same shape, values in [0, 1]), as
// torch.nn.functional.binary_cross_entropy_with_logits, in the stable form
//
//	(1-t)*x + (1 + (pw-1)*t) * (log(1+exp(-|x|)) + max(-x, 0))
//
// Both logits and targets may require gradients. Its options are a
// Reduction and PosWeight.
func BCEWithLogits[T tensor.Float](logits, targets *Var[T], opts ...LossOption) *Var[T] {
	o := lossOptions("BCEWithLogits", opts, "PosWeight")
	lossSameShape("BCEWithLogits", logits, targets)
	lossCheckReduction("BCEWithLogits", o.red, false)
	xs := logits.Shape()
	last := 1
	if len(xs) > 0 {
		last = xs[len(xs)-1]
	}
	pw := o.posWeight
	if pw != nil && len(pw) != last {
		panic(fastgo.Errorf("autograd.BCEWithLogits: %d positive weights for input %v (want %d)", len(pw), xs, last))
	}
	posW := func(i int) float64 {
		if pw == nil {
			return 1
		}
		return pw[i%last]
	}
	xd, td := logits.data.Data(), targets.data.Data()
	per := make([]float64, len(xd))
	for i := range xd {
		x, t := float64(xd[i]), float64(td[i])
		sp := math.Log1p(math.Exp(-math.Abs(x))) + max(-x, 0) // softplus(-x)
		per[i] = (1-t)*x + (1+(posW(i)-1)*t)*sp
	}
	out, f := lossReduce[T](o.red, per, xs)
	return Record("BCEWithLogits", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		var gx, gt *tensor.Dense[T]
		if logits.RequiresGrad() {
			gx = tensor.New[T](xs...)
		}
		if targets.RequiresGrad() {
			gt = tensor.New[T](xs...)
		}
		g := gy.Data()
		for i := range xd {
			x, t := float64(xd[i]), float64(td[i])
			s := lossGrad(o.red, g, f, i)
			p := posW(i)
			if gx != nil {
				gx.Data()[i] = T(s * ((1 - t) - (1+(p-1)*t)*nnSigmoid64(-x)))
			}
			if gt != nil {
				sp := math.Log1p(math.Exp(-math.Abs(x))) + max(-x, 0)
				gt.Data()[i] = T(s * (-x + (p-1)*sp))
			}
		}
		return []*tensor.Dense[T]{gx, gt}
	}, logits, targets)
}

// KLDiv returns the Kullback-Leibler divergence as
// torch.nn.functional.kl_div with log_target=False: input holds
// log-probabilities, target probabilities, and the pointwise loss is
// target*(log(target) - input), 0 where target is 0. ReductionMean averages
// over every element (PyTorch's default); ReductionBatchMean divides the sum
// by the size of dimension 0, which is the true KL divergence per sample.
// The target's gradient is log(target) + 1 - input where target > 0, and is
// taken as -input where target is 0.
func KLDiv[T tensor.Float](input, target *Var[T], red Reduction) *Var[T] {
	lossSameShape("KLDiv", input, target)
	lossCheckReduction("KLDiv", red, true)
	xd, td := input.data.Data(), target.data.Data()
	per := make([]float64, len(xd))
	for i := range xd {
		t := float64(td[i])
		if t != 0 {
			per[i] = t * (math.Log(t) - float64(xd[i])) // NaN for t < 0, as xlogy
		}
	}
	out, f := lossReduce[T](red, per, input.Shape())
	return Record("KLDiv", out, func(gy *tensor.Dense[T]) []*tensor.Dense[T] {
		var gx, gt *tensor.Dense[T]
		if input.RequiresGrad() {
			gx = tensor.New[T](input.Shape()...)
		}
		if target.RequiresGrad() {
			gt = tensor.New[T](target.Shape()...)
		}
		g := gy.Data()
		for i := range xd {
			s := lossGrad(red, g, f, i)
			t := float64(td[i])
			if gx != nil {
				gx.Data()[i] = T(-t * s)
			}
			if gt != nil {
				d := -float64(xd[i])
				if t > 0 {
					d += math.Log(t) + 1
				}
				gt.Data()[i] = T(s * d)
			}
		}
		return []*tensor.Dense[T]{gx, gt}
	}, input, target)
}
