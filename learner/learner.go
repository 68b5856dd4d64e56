package learner

import (
	"fmt"

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
// callbacks: fastai's Learner. Create it with New. Its exported state is what
// callbacks read and change during a fit.
type Learner struct {
	// Data supplies the batches; Model maps a batch's X to predictions.
	Data  data.Data
	Model layers.Module
	// Loss is the training loss (default: cross-entropy, mean).
	Loss LossFunc
	// ItemLoss is Loss without its reduction: one loss per item, for
	// GetPreds' per-item losses and the interpretation's top losses. When
	// nil, the default loss uses cross-entropy with no reduction and a
	// custom Loss is evaluated one item at a time.
	ItemLoss LossFunc
	// OptFunc builds the optimizer (default: optim.FastaiAdam).
	OptFunc OptFunc
	// Opt is the optimizer, built on the first fit and kept across fits.
	Opt optim.Optimizer
	// Splitter gives the layer groups (default: one group of everything).
	Splitter Splitter
	// LR is the default learning rate (1e-3).
	LR float64
	// WD is the weight decay (0.01; decoupled with the default optimizer).
	WD float64
	// WDBNBias applies weight decay to biases and norm layers too (default
	// false, as fastai).
	WDBNBias bool
	// TrainBN keeps norm layers trainable when their group is frozen
	// (default true, as fastai).
	TrainBN bool
	// Metrics are computed on the validation set after each epoch.
	Metrics []Metric
	// Recorder records losses, hyper-parameters and metrics; always present.
	Recorder *Recorder
	// Arch, when set, names the registered architecture of Model, so that
	// Export can record how to rebuild it.
	Arch *ArchSpec

	cbs []Callback

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

	groups    [][]layers.NamedParam
	optGroups [][]int // layer group -> indices into the optimizer's groups
	optDecay  []bool  // per optimizer group: whether it takes weight decay
	frozenTo  int
	current   Callback // the callback running, for error messages
	lrFinding bool
	defLoss   bool // Loss is still the default cross-entropy
}

// Option configures a Learner.
type Option func(*Learner)

// WithLoss sets the loss function.
func WithLoss(f LossFunc) Option { return func(l *Learner) { l.Loss = f } }

// WithItemLoss sets the per-item (unreduced) form of the loss, used for
// per-item losses in GetPreds and the interpretation.
func WithItemLoss(f LossFunc) Option { return func(l *Learner) { l.ItemLoss = f } }

// WithOpt sets the optimizer constructor.
func WithOpt(f OptFunc) Option { return func(l *Learner) { l.OptFunc = f } }

// WithLR sets the default learning rate.
func WithLR(lr float64) Option { return func(l *Learner) { l.LR = lr } }

// WithWD sets the weight decay.
func WithWD(wd float64) Option { return func(l *Learner) { l.WD = wd } }

// WithWDBNBias applies weight decay to biases and norm layers too.
func WithWDBNBias(on bool) Option { return func(l *Learner) { l.WDBNBias = on } }

// WithTrainBN sets whether norm layers train while their group is frozen.
func WithTrainBN(on bool) Option { return func(l *Learner) { l.TrainBN = on } }

// WithSplitter sets the layer-group splitter.
func WithSplitter(s Splitter) Option { return func(l *Learner) { l.Splitter = s } }

// Metrics adds metrics computed on the validation set after each epoch.
func Metrics(ms ...Metric) Option { return func(l *Learner) { l.Metrics = append(l.Metrics, ms...) } }

// WithCallbacks adds callbacks that stay for every fit.
func WithCallbacks(cbs ...Callback) Option { return func(l *Learner) { l.cbs = append(l.cbs, cbs...) } }

// CrossEntropy is the default loss: cross-entropy with mean reduction.
func CrossEntropy(pred *autograd.Value, targets []int) *autograd.Value {
	return autograd.CrossEntropy(pred, targets, nil)
}

// CrossEntropyItems is cross-entropy with no reduction: one loss per item.
func CrossEntropyItems(pred *autograd.Value, targets []int) *autograd.Value {
	return autograd.CrossEntropy(pred, targets, &autograd.CrossEntropyOptions{Reduction: autograd.ReductionNone})
}

// New returns a Learner with fastai's defaults: cross-entropy loss, Adam with
// betas (0.9, 0.99), eps 1e-5 and decoupled weight decay 0.01 spared to norm
// layers and biases, lr 1e-3, and a Recorder.
func New(data data.Data, model layers.Module, opts ...Option) *Learner {
	l := &Learner{
		Data: data, Model: model, LR: 1e-3, WD: 0.01, TrainBN: true,
		OptFunc: func(g []*optim.ParamGroup) optim.Optimizer { return optim.FastaiAdam(g) },
	}
	for _, o := range opts {
		o(l)
	}
	if l.Loss == nil {
		l.Loss, l.defLoss = CrossEntropy, true
	}
	l.Recorder = &Recorder{}
	l.cbs = append([]Callback{l.Recorder}, l.cbs...)
	return l
}

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
		if l.Splitter != nil {
			l.groups = l.Splitter(l.Model)
		} else {
			l.groups = [][]layers.NamedParam{layers.NamedParameters(l.Model)}
		}
	}
	return l.groups
}

// CreateOpt builds the optimizer: for each layer group, a group of the
// parameters that take weight decay and one of those that do not (biases and
// norm-layer parameters, unless WDBNBias), all with lr LR and wd WD.
func (l *Learner) CreateOpt() {
	var groups []*optim.ParamGroup
	l.optGroups, l.optDecay = nil, nil
	norm := normParams(l.Model)
	for _, lg := range l.LayerGroups() {
		var idx []int
		decay, no := optim.NewGroup(nil, optim.LR(l.LR), optim.WeightDecay(l.WD)), optim.NewGroup(nil, optim.LR(l.LR), optim.WeightDecay(0))
		for _, np := range lg {
			if !l.WDBNBias && (norm[np.Param] || len(np.Param.Shape()) <= 1) {
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
	l.Opt = l.OptFunc(groups)
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

// normParams returns the set of parameters that belong to norm layers.
func normParams(m layers.Module) map[*autograd.Value]bool {
	out := map[*autograd.Value]bool{}
	for _, nm := range layers.Modules(m) {
		if layers.IsNorm(nm.Module) {
			for _, p := range layers.Parameters(nm.Module) {
				out[p] = true
			}
		}
	}
	return out
}

// SetHyper sets the named hyper-parameter to vals[i] on layer group i (one
// value sets every group), creating the optimizer if needed.
func (l *Learner) SetHyper(name string, vals ...float64) {
	if l.Opt == nil {
		l.CreateOpt()
	}
	n := len(l.optGroups)
	if len(vals) != 1 && len(vals) != n {
		panic(fmt.Sprintf("learner.SetHyper: %d values of %s for %d layer groups", len(vals), name, n))
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
