package learner

import (
	"context"
	"fmt"
	"iter"
	"sort"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Preds are the results of GetPreds, in the loader's item order.
type Preds struct {
	// Probs [N, C] are the softmax of the model's outputs.
	Probs *tensor.Tensor
	// Targets are the items' labels.
	Targets []int
	// Decoded are the predicted class indices.
	Decoded []int
	// Losses are the per-item losses (cross-entropy), when asked for.
	Losses []float64
	// Inputs are the batches' inputs concatenated, when asked for.
	Inputs *tensor.Tensor
	// Index are the items' indices in their data set, when the loader gives them.
	Index []int
}

// PredsOptions choose what GetPreds returns besides probabilities, targets
// and decoded classes.
type PredsOptions struct {
	// WithInput keeps the inputs (Preds.Inputs); WithLoss computes the
	// per-item losses (Preds.Losses).
	WithInput, WithLoss bool
}

// evalMode runs f with the model in eval mode and no graph, restoring the mode.
func (l *Learner) evalMode(f func()) {
	training := l.Model.Core().Training()
	layers.Eval(l.Model)
	defer layers.SetTraining(l.Model, training)
	autograd.NoGrad(f)
}

// GetPreds runs the model over dl (nil: the validation loader) in eval mode
// without a graph and returns the predictions in dataset order (fastai's
// get_preds): when the loader gives the items' indices, the results are
// sorted by them, so a shuffled loader gives the same order as an ordered
// one. Per-item losses use ItemLoss (see Learner.ItemLoss).
func (l *Learner) GetPreds(ctx context.Context, dl data.Loader, o *PredsOptions) (*Preds, error) {
	if dl == nil {
		dl = l.Data.ValidLoader()
	}
	if o == nil {
		o = &PredsOptions{}
	}
	var probs, inputs []*tensor.Tensor
	res := &Preds{}
	var err error
	l.evalMode(func() {
		for b, e := range dl.Epoch(ctx, 0) {
			if e == nil {
				e = ctx.Err()
			}
			if e != nil {
				err = fmt.Errorf("learner.GetPreds: %w", e)
				return
			}
			var out *autograd.Value
			if out, err = l.forward(b.X); err != nil {
				return
			}
			if out.Data().Rank() != 2 {
				err = fmt.Errorf("learner.GetPreds: model output of shape %v, want [N, C]", out.Shape())
				return
			}
			probs = append(probs, tensor.Softmax(out.Data(), 1))
			res.Targets = append(res.Targets, b.Y...)
			res.Index = append(res.Index, b.Index...)
			res.Decoded = append(res.Decoded, argmaxRows(out.Data())...)
			if o.WithLoss {
				per, e := l.itemLosses(out, b.Y)
				if e != nil {
					err = e
					return
				}
				res.Losses = append(res.Losses, per...)
			}
			if o.WithInput {
				inputs = append(inputs, b.X)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if len(probs) == 0 {
		return nil, fmt.Errorf("learner.GetPreds: the loader served no batch")
	}
	res.Probs = tensor.Concat(0, probs...)
	if o.WithInput {
		res.Inputs = tensor.Concat(0, inputs...)
	}
	if len(res.Index) != len(res.Targets) {
		res.Index = nil
	} else {
		res.reorder()
	}
	return res, nil
}

// forward runs the model on x, turning a panic (an input of the wrong
// shape) into an error.
func (l *Learner) forward(x *tensor.Tensor) (out *autograd.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("learner: the model failed on input of shape %v: %v", x.Shape(), r)
		}
	}()
	return layers.Call(l.Model, autograd.Const(x)), nil
}

// itemLosses returns the per-item losses of a batch.
func (l *Learner) itemLosses(out *autograd.Value, y []int) ([]float64, error) {
	f := l.ItemLoss
	if f == nil && l.defLoss {
		f = CrossEntropyItems
	}
	res := make([]float64, 0, len(y))
	if f != nil {
		per := f(out, y).Data()
		if per.Len() != len(y) {
			return nil, fmt.Errorf("learner: ItemLoss returned %d values for %d items", per.Len(), len(y))
		}
		for _, v := range per.Data() {
			res = append(res, float64(v))
		}
		return res, nil
	}
	for i := range y {
		row := autograd.Const(out.Data().Narrow0(i, 1))
		res = append(res, float64(l.Loss(row, y[i:i+1]).Data().Item()))
	}
	return res, nil
}

// reorder sorts p's rows by Index (dataset order).
func (p *Preds) reorder() {
	n := len(p.Index)
	perm := make([]int, n)
	sorted := true
	for i := range perm {
		perm[i] = i
		if i > 0 && p.Index[i] < p.Index[i-1] {
			sorted = false
		}
	}
	if sorted {
		return
	}
	sort.SliceStable(perm, func(a, b int) bool { return p.Index[perm[a]] < p.Index[perm[b]] })
	p.Probs = tensor.IndexSelect(p.Probs, 0, perm)
	if p.Inputs != nil {
		p.Inputs = tensor.IndexSelect(p.Inputs, 0, perm)
	}
	p.Targets = permute(p.Targets, perm)
	p.Decoded = permute(p.Decoded, perm)
	p.Index = permute(p.Index, perm)
	if p.Losses != nil {
		p.Losses = permute(p.Losses, perm)
	}
}

func permute[T any](s []T, perm []int) []T {
	out := make([]T, len(perm))
	for i, j := range perm {
		out[i] = s[j]
	}
	return out
}

// Prediction is the result of Predict for one item.
type Prediction struct {
	// Class is the predicted class name (or its index as text without names).
	Class string
	// Index is the predicted class index.
	Index int
	// Probs are the class probabilities.
	Probs []float32
}

// Predict classifies one item x, [C,H,W] (or a batch of one), already
// transformed as the validation set is (fastai's predict), in eval mode
// without a graph. vision.ExportedLearner predicts from image files.
func (l *Learner) Predict(x *tensor.Tensor) (Prediction, error) {
	if x.Rank() < 2 {
		return Prediction{}, fmt.Errorf("learner.Predict: input of shape %v is not an item", x.Shape())
	}
	xb := x
	if x.Rank() == 3 {
		xb = x.Reshape(append([]int{1}, x.Shape()...)...)
	}
	if xb.Dim(0) != 1 {
		return Prediction{}, fmt.Errorf("learner.Predict: input of shape %v holds %d items; use GetPreds for batches", x.Shape(), xb.Dim(0))
	}
	var out *autograd.Value
	var err error
	l.evalMode(func() { out, err = l.forward(xb) })
	if err != nil {
		return Prediction{}, err
	}
	if out.Data().Rank() != 2 {
		return Prediction{}, fmt.Errorf("learner.Predict: model output of shape %v, want [1, C]", out.Shape())
	}
	p := tensor.Softmax(out.Data(), 1)
	idx := argmaxRows(p)[0]
	name := fmt.Sprint(idx)
	if cl := l.Data.Classes(); idx < len(cl) {
		name = cl[idx]
	}
	return Prediction{Class: name, Index: idx, Probs: append([]float32(nil), p.Data()...)}, nil
}

// Validate returns the loss and the metrics over dl (nil: the validation
// loader), in eval mode without a graph (fastai's validate). The first value
// is the mean loss (each batch weighted by its size); the others follow
// Metrics' order.
func (l *Learner) Validate(ctx context.Context, dl data.Loader) ([]float64, error) {
	if dl == nil {
		dl = l.Data.ValidLoader()
	}
	for _, m := range l.Metrics {
		m.Reset()
	}
	var sum, cnt float64
	var err error
	l.evalMode(func() {
		for b, e := range dl.Epoch(ctx, 0) {
			if e == nil {
				e = ctx.Err()
			}
			if e != nil {
				err = fmt.Errorf("learner.Validate: %w", e)
				return
			}
			var out *autograd.Value
			if out, err = l.forward(b.X); err != nil {
				return
			}
			loss := float64(l.Loss(out, b.Y).Data().Item())
			sum += loss * float64(len(b.Y))
			cnt += float64(len(b.Y))
			for _, m := range l.Metrics {
				m.Accumulate(out.Data(), b.Y)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if cnt == 0 {
		return nil, fmt.Errorf("learner.Validate: the loader served no item")
	}
	res := []float64{sum / cnt}
	for _, m := range l.Metrics {
		res = append(res, m.Value())
	}
	return res, nil
}

// TTA returns test-time-augmented probabilities over the validation set
// (fastai's tta): the mean of n passes over the validation items with the
// training transforms (each pass a different draw), mixed with the plain
// pass as fastai's torch.lerp(augmented, plain, beta):
//
//	probs = (1-beta)*augmented + beta*plain
//
// so fastai's default beta 0.25 weighs the augmented mean 0.75. Data must
// implement data.Augmented (or unwrap to one, see data.As); n must be at least 1 and beta in [0, 1].
func (l *Learner) TTA(ctx context.Context, n int, beta float64) (*Preds, error) {
	if n < 1 || !(beta >= 0 && beta <= 1) {
		return nil, fmt.Errorf("learner.TTA: %d passes, beta %g; want n >= 1 and beta in [0, 1]", n, beta)
	}
	al, ok := data.As[data.Augmented](l.Data)
	if !ok {
		return nil, fmt.Errorf("learner.TTA: the data (%T) cannot serve augmented validation batches", l.Data)
	}
	plain, err := l.GetPreds(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	aug := make([]float64, plain.Probs.Len())
	for i := 0; i < n; i++ {
		p, err := l.GetPreds(ctx, epochLoader{al.AugmentedValid(), i}, nil)
		if err != nil {
			return nil, err
		}
		if p.Probs.Len() != len(aug) {
			return nil, fmt.Errorf("learner.TTA: augmented pass %d gave %d probabilities, the plain pass %d", i, p.Probs.Len(), len(aug))
		}
		for j, v := range p.Probs.Data() {
			aug[j] += float64(v)
		}
	}
	out := *plain
	out.Probs = tensor.New[float32](plain.Probs.Shape()...)
	for j, v := range plain.Probs.Data() {
		out.Probs.Data()[j] = float32((1-beta)*aug[j]/float64(n) + beta*float64(v))
	}
	out.Decoded = argmaxRows(out.Probs)
	return &out, nil
}

// epochLoader serves a fixed epoch of a loader whatever epoch is asked.
type epochLoader struct {
	data.Loader
	epoch int
}

func (e epochLoader) Epoch(ctx context.Context, _ int) iter.Seq2[data.Batch, error] {
	return e.Loader.Epoch(ctx, e.epoch)
}
