package learner

import (
	"context"
	"fmt"
	"iter"
	"math"

	"github.com/fastgo-ml/fastgo/autograd"
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
// without a graph and returns the predictions in item order (fastai's
// get_preds).
func (l *Learner) GetPreds(ctx context.Context, dl Loader, o *PredsOptions) (*Preds, error) {
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
			if e != nil {
				err = e
				return
			}
			out := layers.Call(l.Model, autograd.Const(b.X))
			if out.Data().Rank() != 2 {
				err = fmt.Errorf("learner.GetPreds: model output of shape %v, want [N, C]", out.Shape())
				return
			}
			probs = append(probs, tensor.Softmax(out.Data(), 1))
			res.Targets = append(res.Targets, b.Y...)
			res.Index = append(res.Index, b.Index...)
			res.Decoded = append(res.Decoded, argmaxRows(out.Data())...)
			if o.WithLoss {
				per := autograd.CrossEntropy(out, b.Y, &autograd.CrossEntropyOptions{Reduction: autograd.ReductionNone})
				for _, v := range per.Data().Data() {
					res.Losses = append(res.Losses, float64(v))
				}
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
	return res, nil
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
// transformed as the validation set is (fastai's predict).
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
	l.evalMode(func() { out = layers.Call(l.Model, autograd.Const(xb)) })
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
// is the mean loss; the others follow Metrics' order.
func (l *Learner) Validate(ctx context.Context, dl Loader) ([]float64, error) {
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
			if e != nil {
				err = e
				return
			}
			out := layers.Call(l.Model, autograd.Const(b.X))
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

// AugmentedLoader is implemented by Data that can serve the validation set
// with the training transforms, for test-time augmentation.
type AugmentedLoader interface {
	// AugmentedValid serves the validation items with the training
	// transforms, in order; pass different epochs for different draws.
	AugmentedValid() Loader
}

// TTA returns test-time-augmented probabilities over the validation set
// (fastai's tta): the mean of n augmented passes, mixed with the plain pass as
// beta*augmented + (1-beta)*plain (fastai's beta 0.25 weighs the plain pass
// 0.75). Data must implement AugmentedLoader.
func (l *Learner) TTA(ctx context.Context, n int, beta float64) (*Preds, error) {
	al, ok := l.Data.(AugmentedLoader)
	if !ok {
		return nil, fmt.Errorf("learner.TTA: the data (%T) cannot serve augmented validation batches", l.Data)
	}
	plain, err := l.GetPreds(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	aug := tensor.New[float32](plain.Probs.Shape()...)
	for i := 0; i < n; i++ {
		p, err := l.GetPreds(ctx, epochLoader{al.AugmentedValid(), i + 1}, nil)
		if err != nil {
			return nil, err
		}
		for j, v := range p.Probs.Data() {
			aug.Data()[j] += v / float32(n)
		}
	}
	out := *plain
	out.Probs = tensor.New[float32](plain.Probs.Shape()...)
	for j := range out.Probs.Data() {
		out.Probs.Data()[j] = float32(beta)*aug.Data()[j] + float32(1-beta)*plain.Probs.Data()[j]
	}
	out.Decoded = argmaxRows(out.Probs)
	if math.IsNaN(beta) {
		return nil, fmt.Errorf("learner.TTA: beta is NaN")
	}
	return &out, nil
}

// epochLoader serves a fixed epoch of a loader whatever epoch is asked.
type epochLoader struct {
	Loader
	epoch int
}

func (e epochLoader) Epoch(ctx context.Context, _ int) iter.Seq2[Batch, error] {
	return e.Loader.Epoch(ctx, e.epoch)
}
