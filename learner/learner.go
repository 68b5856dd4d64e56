package learner

import (
	"context"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/data"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/optim"
)

// LossFunc computes a batch's loss from predictions and integer targets.
type LossFunc func(pred *autograd.Value, targets []int) *autograd.Value

// OptFunc builds the optimizer over the Learner's parameter groups.
type OptFunc func(groups []*optim.ParamGroup) optim.Optimizer

// Splitter splits a model's parameters into the layer groups that get their
// own learning rate and are frozen together (fastai's splitter).
type Splitter func(m layers.Module) [][]layers.NamedParam

// Learner trains a model on Data with a loss, an optimizer, metrics and
// callbacks: fastai's Learner. Create it with New (or vision.CNNLearner) and
// its options. Its exported state is what callbacks read and change during
// a fit.
type Learner struct {
	// Data supplies the batches; Model maps a batch's X to predictions.
	Data  data.Data
	Model layers.Module
	// Loss is the training loss (default: cross-entropy, mean).
	Loss LossFunc
	// Opt is the optimizer, built on the first fit and kept across fits.
	Opt optim.Optimizer
	// Metrics are computed on the validation set after each epoch.
	Metrics []Metric
	// Recorder records losses, hyper-parameters and metrics; always present.
	Recorder *Recorder

	itemLoss LossFunc // Loss without its reduction; nil: see itemLosses
	optFunc  OptFunc
	splitter Splitter
	lr       rate
	wd       float64
	wdBNBias bool
	trainBN  bool
	progress progressSetting
	cbs      []Callback

	// Fit state, valid during a fit (callbacks read and may change it).

	// Epoch and NEpoch are the current epoch and the number of epochs.
	Epoch, NEpoch int
	// Iter and NIter are the batch index in the current phase and its length.
	Iter, NIter int
	// TrainIter counts training batches since BeforeFit.
	TrainIter int
	// PctTrain is the fraction of the fit's training done (0 to 1).
	PctTrain float64
	// Training is true in the training phase, false in validation.
	Training bool
	// XB, YB are the current batch's inputs and targets; a callback may
	// replace them in BeforeBatch (MixUp, adversarial training).
	XB *autograd.Value
	YB []int
	// BatchIndex holds the current batch's item indices (may be nil).
	BatchIndex []int
	// Pred is the model's output, which a callback may replace in AfterPred.
	Pred *autograd.Value
	// LossV is the batch loss, which a callback may replace in AfterLoss.
	LossV *autograd.Value
	// DataEpoch counts the training epochs served so far, across fits; it
	// chooses the training loader's shuffle, and is saved in checkpoints.
	DataEpoch int
	// LossFuncOverride, when set by a callback for the current batch,
	// replaces Loss (MixUp uses it); the loop clears it after each batch.
	LossFuncOverride LossFunc

	ctx       context.Context // the running fit's
	groups    [][]layers.NamedParam
	optGroups [][]int // layer group -> indices into the optimizer's groups
	optDecay  []bool  // per optimizer group: whether it takes weight decay
	frozenTo  int
	current   Callback // the callback running, for error messages
	lrFinding bool
	defLoss   bool // Loss is still the default cross-entropy
}

// CrossEntropy is the default loss: cross-entropy with mean reduction.
func CrossEntropy(pred *autograd.Value, targets []int) *autograd.Value {
	return autograd.CrossEntropy(pred, targets)
}

// CrossEntropyItems is cross-entropy with no reduction: one loss per item.
func CrossEntropyItems(pred *autograd.Value, targets []int) *autograd.Value {
	return autograd.CrossEntropy(pred, targets, autograd.ReductionNone)
}

// New returns a Learner with fastai's defaults: cross-entropy loss, Adam with
// betas (0.9, 0.99), eps 1e-5 and decoupled weight decay 0.01 spared to norm
// layers and biases, lr 1e-3, norm layers training in frozen groups, a
// Recorder, and progress bars when standard output is a terminal. Its
// options (Metrics, Callbacks, LR, WD, Loss, ItemLoss, Optimizer,
// WithSplitter, WDBNBias, FreezeNorm, NoProgress, ProgressTo) change them.
func New(d data.Data, model layers.Module, opts ...Option) *Learner {
	s := resolve("New", inNew, opts)
	l := &Learner{
		Data: d, Model: model, Loss: s.loss, Metrics: s.metrics, itemLoss: s.itemLoss, splitter: s.splitter,
		lr: oneRate(1e-3), wd: 0.01, wdBNBias: s.wdBNBias, trainBN: !s.freezeNorm, optFunc: s.optFunc,
		cbs: s.cbs,
	}
	if s.lr != nil {
		l.lr = s.lr
	}
	if s.wd != nil {
		l.wd = *s.wd
	}
	if s.progress != nil {
		l.progress = *s.progress
	}
	if l.optFunc == nil {
		l.optFunc = func(g []*optim.ParamGroup) optim.Optimizer { return optim.FastaiAdam(g) }
	}
	if l.Loss == nil {
		l.Loss, l.defLoss = CrossEntropy, true
	}
	l.Recorder = &Recorder{}
	l.cbs = append([]Callback{l.Recorder}, l.cbs...)
	return l
}

// Context returns the context of the running fit (context.Background()
// outside a fit), for callbacks whose work inside a batch should stop when
// the fit is cancelled (an adversarial trainer's attack).
func (l *Learner) Context() context.Context {
	if l.ctx == nil {
		return context.Background()
	}
	return l.ctx
}

// WD returns the learner's default weight decay.
func (l *Learner) WD() float64 { return l.wd }

// AddCallbacks adds callbacks that stay for every later fit.
func (l *Learner) AddCallbacks(cbs ...Callback) { l.cbs = append(l.cbs, cbs...) }

// RemoveCallback removes cb (compared by identity).
func (l *Learner) RemoveCallback(cb Callback) {
	for i, c := range l.cbs {
		if c == cb {
			l.cbs = append(l.cbs[:i], l.cbs[i+1:]...)
			return
		}
	}
}

// Callbacks returns the learner's callbacks in the order they run.
func (l *Learner) Callbacks() []Callback {
	out := append([]Callback(nil), l.cbs...)
	sortCallbacks(out)
	return out
}

// LayerGroups returns the model's parameter groups as the Splitter gives them.
func (l *Learner) LayerGroups() [][]layers.NamedParam {
	if l.groups == nil {
		if l.splitter != nil {
			l.groups = l.splitter(l.Model)
		} else {
			l.groups = [][]layers.NamedParam{layers.NamedParameters(l.Model)}
		}
	}
	return l.groups
}

// CreateOpt builds the optimizer: for each layer group, a group of the
// parameters that take weight decay and one of those that do not (biases and
// norm-layer parameters, unless WDBNBias), all with the learner's rate and
// weight decay.
func (l *Learner) CreateOpt() {
	var groups []*optim.ParamGroup
	l.optGroups, l.optDecay = nil, nil
	norm := layers.NormParams(l.Model)
	lrs := l.lr.rates(len(l.LayerGroups()))
	for gi, lg := range l.LayerGroups() {
		var idx []int
		decay, no := optim.NewGroup(nil, optim.LR(lrs[gi]), optim.WeightDecay(l.wd)), optim.NewGroup(nil, optim.LR(lrs[gi]), optim.WeightDecay(0))
		for _, np := range lg {
			if !l.wdBNBias && (norm[np.Param] || len(np.Param.Shape()) <= 1) {
				no.Params = append(no.Params, np.Param)
			} else {
				decay.Params = append(decay.Params, np.Param)
			}
		}
		for k, g := range []*optim.ParamGroup{decay, no} {
			if len(g.Params) > 0 {
				idx = append(idx, len(groups))
				groups = append(groups, g)
				l.optDecay = append(l.optDecay, k == 0)
			}
		}
		l.optGroups = append(l.optGroups, idx)
	}
	l.Opt = l.optFunc(groups)
}

// clearOptState drops the optimizer's per-parameter state (moments, step
// counts) and keeps its hyper-parameters, as fastai's Optimizer.clear_state
// does when a model is frozen or unfrozen.
func (l *Learner) clearOptState() {
	if l.Opt == nil {
		return
	}
	old := l.Opt.ParamGroups()
	hypers := make([]map[string]float64, len(old))
	for i, g := range old {
		hypers[i] = g.Hyper()
	}
	l.CreateOpt()
	for i, g := range l.Opt.ParamGroups() {
		if i < len(hypers) {
			for k, v := range hypers[i] {
				if _, ok := g.Lookup(k); ok {
					g.Set(k, v)
				}
			}
		}
	}
}

// setWD sets the weight decay of every group that takes it.
func (l *Learner) setWD(wd float64) {
	for j, g := range l.Opt.ParamGroups() {
		if j < len(l.optDecay) && l.optDecay[j] {
			g.Set("wd", wd)
		}
	}
}

// InLRFind reports whether the current fit is LRFind's mock training.
// Callbacks that save files or track results (SaveModel, EarlyStopping,
// CSVLogger, Checkpoint...) do nothing then, as fastai's do.
func (l *Learner) InLRFind() bool { return l.lrFinding }

// SetHyper sets the named hyper-parameter to vals[i] on layer group i (one
// value sets every group), creating the optimizer if needed.
func (l *Learner) SetHyper(name string, vals ...float64) {
	if l.Opt == nil {
		l.CreateOpt()
	}
	n := len(l.optGroups)
	if len(vals) != 1 && len(vals) != n {
		panic(fastgo.Errorf("learner.SetHyper: %d values of %s for %d layer groups", len(vals), name, n))
	}
	pgs := l.Opt.ParamGroups()
	for i, idx := range l.optGroups {
		v := vals[0]
		if len(vals) == n {
			v = vals[i]
		}
		for _, j := range idx {
			if _, ok := pgs[j].Lookup(name); ok || name == "lr" {
				pgs[j].Set(name, v)
			}
		}
	}
}

// Hyper returns the named hyper-parameter of each layer group.
func (l *Learner) Hyper(name string) []float64 {
	if l.Opt == nil {
		l.CreateOpt()
	}
	pgs := l.Opt.ParamGroups()
	out := make([]float64, len(l.optGroups))
	for i, idx := range l.optGroups {
		if len(idx) > 0 {
			if v, ok := pgs[idx[0]].Lookup(name); ok {
				out[i] = v
			}
		}
	}
	return out
}

// hyperIfAny returns the named hyper-parameter of each layer group, and
// false when the optimizer does not use it.
func (l *Learner) hyperIfAny(name string) ([]float64, bool) {
	if l.Opt == nil {
		return nil, false
	}
	pgs := l.Opt.ParamGroups()
	out := make([]float64, len(l.optGroups))
	for i, idx := range l.optGroups {
		if len(idx) == 0 {
			continue
		}
		v, ok := pgs[idx[0]].Lookup(name)
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, len(out) > 0
}
