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

// evalMode runs f with the model in eval mode and no graph, restoring the mode.
func (l *Learner) evalMode(f func()) {
	training := l.Model.Core().Training()
	layers.Eval(l.Model)
	defer layers.SetTraining(l.Model, training)
	autograd.NoGrad(f)
}

// evalBatches runs the model over one epoch of dl in eval mode without a
// graph and hands each batch and its outputs to f; call names the caller in
// errors. It is the loop of GetPreds and Validate.
func (l *Learner) evalBatches(ctx context.Context, call string, dl data.Loader, f func(b data.Batch, out *autograd.Value) error) error {
	var err error
	l.evalMode(func() {
		for b, e := range dl.Epoch(ctx, 0) {
			if e == nil {
				e = ctx.Err()
			}
			if e != nil {
				err = fmt.Errorf("learner.%s: %w", call, e)
				return
			}
			var out *autograd.Value
			if out, err = l.forward(b.X); err != nil {
				return
			}
			if err = f(b, out); err != nil {
				return
			}
		}
	})
	return err
}

// GetPreds runs the model over the validation loader (or OnLoader's) in
// eval mode without a graph and returns the predictions in dataset order
// (fastai's get_preds): when the loader gives the items' indices, the
// results are sorted by them, so a shuffled loader gives the same order as
// an ordered one. WithInput keeps the inputs and WithLoss computes the
// per-item losses (with the ItemLoss given to New, else see ItemLoss).
func (l *Learner) GetPreds(ctx context.Context, opts ...Option) (*Preds, error) {
	o := resolve("GetPreds", inPreds, opts)
	dl := o.loader
	if dl == nil {
		dl = l.Data.ValidLoader()
	}
	var probs, inputs []*tensor.Tensor
	res := &Preds{}
	err := l.evalBatches(ctx, "GetPreds", dl, func(b data.Batch, out *autograd.Value) error {
		if out.Data().Rank() != 2 {
			return fmt.Errorf("learner.GetPreds: model output of shape %v, want [N, C]", out.Shape())
		}
		probs = append(probs, tensor.Softmax(out.Data(), 1))
		res.Targets = append(res.Targets, b.Y...)
		res.Index = append(res.Index, b.Index...)
		res.Decoded = append(res.Decoded, argmaxRows(out.Data())...)
		if o.withLoss {
			per, err := l.itemLosses(out, b.Y)
			if err != nil {
				return err
			}
			res.Losses = append(res.Losses, per...)
		}
		if o.withInput {
			inputs = append(inputs, b.X)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(probs) == 0 {
		return nil, fmt.Errorf("learner.GetPreds: the loader served no batch")
	}
	res.Probs = tensor.Concat(0, probs...)
	if o.withInput {
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
	f := l.itemLoss
	if f == nil && l.defLoss {
		f = CrossEntropyItems
	}
	res := make([]float64, 0, len(y))
	if f != nil {
		per := f(out, y).Data()
		if per.Len() != len(y) {
			return nil, fmt.Errorf("learner: the item loss returned %d values for %d items", per.Len(), len(y))
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

// Validate returns the loss and the metrics over the validation loader
// (or OnLoader's), in eval mode without a graph (fastai's validate). The
// first value is the mean loss (each batch weighted by its size); the
// others follow Metrics' order.
func (l *Learner) Validate(ctx context.Context, opts ...Option) ([]float64, error) {
	dl := resolve("Validate", inPreds, opts).loader
	if dl == nil {
		dl = l.Data.ValidLoader()
	}
	for _, m := range l.Metrics {
		m.Reset()
	}
	var sum, cnt float64
	err := l.evalBatches(ctx, "Validate", dl, func(b data.Batch, out *autograd.Value) error {
		loss := float64(l.Loss(out, b.Y).Data().Item())
		sum += loss * float64(len(b.Y))
		cnt += float64(len(b.Y))
		for _, m := range l.Metrics {
			m.Accumulate(out.Data(), b.Y)
		}
		return nil
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
// (fastai's tta): the mean of n passes (Passes, default 4) over the
// validation items with the training transforms (each pass a different
// draw), mixed with the plain pass as fastai's torch.lerp(augmented, plain,
// beta) (Beta, default 0.25):
//
//	probs = (1-beta)*augmented + beta*plain
//
// so the default weighs the augmented mean 0.75. The Data must implement
// data.Augmented (or unwrap to one, see data.As); n must be at least 1 and
// beta in [0, 1].
func (l *Learner) TTA(ctx context.Context, opts ...Option) (*Preds, error) {
	o := resolve("TTA", inTTA, opts)
	n, beta := 4, 0.25
	if o.passes != nil {
		n = *o.passes
	}
	if o.beta != nil {
		beta = *o.beta
	}
	if n < 1 || !(beta >= 0 && beta <= 1) {
		return nil, fmt.Errorf("learner.TTA: %d passes, beta %g; want n >= 1 and beta in [0, 1]", n, beta)
	}
	al, ok := data.As[data.Augmented](l.Data)
	if !ok {
		return nil, fmt.Errorf("learner.TTA: the data (%T) cannot serve augmented validation batches", l.Data)
	}
	plain, err := l.GetPreds(ctx)
	if err != nil {
		return nil, err
	}
	aug := make([]float64, plain.Probs.Len())
	for i := 0; i < n; i++ {
		p, err := l.GetPreds(ctx, OnLoader(epochLoader{al.AugmentedValid(), i}))
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
