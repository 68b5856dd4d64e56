package attacks

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Model is the white-box view of a classifier during an attack: a
// layers.Module that maps [0,1] pixels [N, ...] to scores [N, C], held in
// attack mode. Attack mode, entered by Run, RunEps and WithAttackMode and
// undone when they return (even on error or panic), means:
//
//   - every module of the tree is in eval mode, so BatchNorm uses and never
//     updates its running statistics and Dropout is the identity;
//   - every parameter has requires-grad off, so a backward pass computes the
//     input gradient only (conv and linear skip their weight-gradient GEMMs)
//     and no parameter's Grad is touched;
//   - afterwards each module's mode and each parameter's requires-grad flag
//     are restored to what they were, one by one (a model that was partly
//     frozen, or partly in eval, comes back exactly as it was).
//
// A Model is only valid inside the call that gave it. Do not attack the same
// module from two goroutines at once: its modes are shared state.
type Model struct {
	module  layers.Module
	stats   *modelStats // shared with the views made by Expectation
	samples int
}

// modelStats counts a Model's work.
type modelStats struct {
	classes, forwards, gradients int
}

func newModel(m layers.Module) *Model { return &Model{module: m, stats: &modelStats{}, samples: 1} }

// Expectation returns a view of m whose Outputs, Gradient and
// InputGradient average over k forward (and backward) passes: Expectation
// over Transformation (Athalye et al., 2018), the way to attack a
// randomised model (random resizing, noise, dropout at test time). An
// attack wrapper gives the view to the attack it wraps. k <= 1 is m itself;
// Forward is always a single pass.
func (m *Model) Expectation(k int) *Model {
	if k <= 1 {
		k = 1
	}
	v := *m
	v.samples = k
	return &v
}

// Samples returns the number of passes Outputs and the gradients average
// over (1 unless made by Expectation).
func (m *Model) Samples() int { return m.samples }

// Module returns the module under attack (in attack mode). Attacks that need
// more than Outputs and Gradient (a custom graph, as C&W's change of
// variables) call Forward.
func (m *Model) Module() layers.Module { return m.module }

// NumClasses returns the number of outputs C, known after the first forward
// pass (0 before).
func (m *Model) NumClasses() int { return m.stats.classes }

// Forwards returns the number of images passed forward so far (gradient
// computations included).
func (m *Model) Forwards() int { return m.stats.forwards }

// Gradients returns the number of images whose input gradient was computed.
func (m *Model) Gradients() int { return m.stats.gradients }

// Forward runs the module on x, recording a graph when x requires a
// gradient, and checks that the output is [N, C].
func (m *Model) Forward(x *autograd.Value) (*autograd.Value, error) {
	out := layers.Call(m.module, x)
	if err := m.checkOutput(x.Shape(), out.Data()); err != nil {
		return nil, err
	}
	m.stats.forwards += x.Shape()[0]
	return out, nil
}

func (m *Model) checkOutput(in []int, out *tensor.Tensor) error {
	if out.Rank() != 2 || out.Dim(0) != in[0] || out.Dim(1) < 2 {
		return fmt.Errorf("attacks: model output of shape %v for input %v, want [%d, C] with C >= 2", out.Shape(), in, in[0])
	}
	if m.stats.classes == 0 {
		m.stats.classes = out.Dim(1)
	} else if out.Dim(1) != m.stats.classes {
		return fmt.Errorf("attacks: model output of shape %v after outputs with %d classes", out.Shape(), m.stats.classes)
	}
	return nil
}

// Outputs returns the model's scores [N, C] on x, without a graph (their
// mean over Samples passes).
func (m *Model) Outputs(x *tensor.Tensor) (*tensor.Tensor, error) {
	var sum *tensor.Tensor
	for k := 0; k < m.samples; k++ {
		var out *autograd.Value
		var err error
		autograd.NoGrad(func() { out, err = m.Forward(autograd.Const(x)) })
		if err != nil {
			return nil, err
		}
		if m.samples == 1 {
			return out.Data(), nil
		}
		sum = accumulate(sum, out.Data())
	}
	return meanOf(sum, m.samples), nil
}

// accumulate returns sum + t (t itself, copied, when sum is nil).
func accumulate(sum, t *tensor.Tensor) *tensor.Tensor {
	if sum == nil {
		return t.Clone()
	}
	tensor.AddInPlace(sum, t)
	return sum
}

func meanOf(sum *tensor.Tensor, k int) *tensor.Tensor {
	tensor.ScaleInPlace(sum, 1/float32(k))
	return sum
}

// Loss is a per-sample attack loss: given scores [N, C] and one class per
// sample it returns [N] losses. Attacks increase the loss of the true label
// under Untargeted and decrease the loss of the target under Targeted (see
// Model.Gradient).
type Loss func(outputs *autograd.Value, classes []int) *autograd.Value

// CrossEntropyLoss is the per-sample cross-entropy of outputs against
// classes, the default loss of the gradient attacks.
func CrossEntropyLoss(outputs *autograd.Value, classes []int) *autograd.Value {
	return autograd.CrossEntropy(outputs, classes, autograd.ReductionNone)
}

// MarginLoss is the per-sample margin max_{j != c} z_j - z_c (the loss of
// Carlini and Wagner without the confidence term): positive exactly when
// the top class is not c. The true class is masked out with -Inf, so no
// finite logit can win the max against it by accident.
func MarginLoss(outputs *autograd.Value, classes []int) *autograd.Value {
	n, c := outputs.Shape()[0], outputs.Shape()[1]
	mask := tensor.New[float32](n, c)
	other := tensor.New[float32](n, c)
	negInf := float32(math.Inf(-1))
	for i, k := range classes {
		for j := 0; j < c; j++ {
			if j == k {
				mask.Data()[i*c+j] = 1
				other.Data()[i*c+j] = negInf
			}
		}
	}
	notTrue := tensor.RSubScalar(1, mask)
	best := autograd.Max(autograd.Where(notTrue, outputs, autograd.Const(other)), 1)
	own := autograd.Sum(autograd.Mul(outputs, autograd.Const(mask)), 1)
	return autograd.Sub(best, own)
}

// Gradient returns the gradient with respect to x [N, ...] of the attack
// objective for criterion c, and the scores of the same forward pass (the
// scores at x, before any step). The objective is the SUM over samples of
// loss (nil: CrossEntropyLoss) for Untargeted and minus that sum for
// Targeted, so an attack always ascends it, and a sample's gradient does not
// depend on the batch it is in (no mean over the batch).
func (m *Model) Gradient(x *tensor.Tensor, c Criterion, loss Loss) (grad, outputs *tensor.Tensor, err error) {
	if loss == nil {
		loss = CrossEntropyLoss
	}
	sign := float32(1)
	switch c.(type) {
	case Untargeted:
	case Targeted:
		sign = -1
	default:
		return nil, nil, fmt.Errorf("attacks: unsupported criterion %T", c)
	}
	classes := c.Classes()
	return m.InputGradient(x, func(out *autograd.Value) *autograd.Value {
		if err := checkClasses(c, out.Shape()[1]); err != nil {
			panic(err)
		}
		l := loss(out, classes)
		if l.Data().Rank() != 1 || l.Data().Dim(0) != len(classes) {
			panic(fastgo.Errorf("attacks: loss returned shape %v for %d samples, want [%d]", l.Shape(), len(classes), len(classes)))
		}
		return autograd.MulScalar(autograd.SumAll(l), sign)
	})
}

// InputGradient returns the gradient with respect to x of f(outputs) (a
// scalar, or per-sample values that are summed), and the scores of the
// forward pass (both averaged over Samples passes). An f whose result does
// not depend on x gets a zero gradient.
func (m *Model) InputGradient(x *tensor.Tensor, f func(outputs *autograd.Value) *autograd.Value) (grad, outputs *tensor.Tensor, err error) {
	if m.samples == 1 {
		return m.inputGradient(x, f)
	}
	var gs, os *tensor.Tensor
	for k := 0; k < m.samples; k++ {
		g, o, err := m.inputGradient(x, f)
		if err != nil {
			return nil, nil, err
		}
		gs, os = accumulate(gs, g), accumulate(os, o)
	}
	return meanOf(gs, m.samples), meanOf(os, m.samples), nil
}

func (m *Model) inputGradient(x *tensor.Tensor, f func(outputs *autograd.Value) *autograd.Value) (grad, outputs *tensor.Tensor, err error) {
	xv := autograd.Param(x)
	out, err := m.Forward(xv)
	if err != nil {
		return nil, nil, err
	}
	var obj *autograd.Value
	if err := catch(func() { obj = f(out) }); err != nil {
		return nil, nil, err
	}
	if obj.Data().Len() != 1 {
		obj = autograd.SumAll(obj)
	}
	m.stats.gradients += x.Dim(0)
	if !obj.RequiresGrad() {
		return tensor.New[float32](x.Shape()...), out.Data(), nil
	}
	return autograd.Grads(obj, xv)[0], out.Data(), nil
}

// catch runs f and returns a panic raised with an error as that error.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
				return
			}
			panic(r)
		}
	}()
	f()
	return nil
}

// WithAttackMode runs f with model in attack mode (see Model) and restores
// the model afterwards. A panic inside f (a model that cannot take the input's
// shape, say) is returned as an error naming it. Run and RunEps use it;
// trainers and evaluators that need the model's outputs or gradients
// outside an attack use it too.
func WithAttackMode(model layers.Module, f func(m *Model) error) (err error) {
	if model == nil {
		return fmt.Errorf("attacks: nil model")
	}
	restore := enterAttackMode(model)
	defer restore()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("attacks: panic during the attack: %v", r)
		}
	}()
	return f(newModel(model))
}

// enterAttackMode puts every module of m in eval mode and freezes every
// parameter, and returns the function that restores both, module by module
// and parameter by parameter.
func enterAttackMode(m layers.Module) (restore func()) {
	mods := layers.Modules(m)
	training := make([]bool, len(mods))
	for i, nm := range mods {
		training[i] = nm.Module.Core().Training()
	}
	params := layers.Parameters(m)
	req := make([]bool, len(params))
	for i, p := range params {
		req[i] = p.RequiresGrad()
	}
	layers.Eval(m)
	layers.SetRequiresGrad(m, false)
	return func() {
		// Pre-order: each SetTraining also sets the descendants, which
		// come later and then set their own flag.
		for i, nm := range mods {
			layers.SetTraining(nm.Module, training[i])
		}
		for i, p := range params {
			p.SetRequiresGrad(req[i])
		}
	}
}
