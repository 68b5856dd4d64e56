package learner

import (
	"io"
	"strings"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/data"
)

// Option configures a Learner (New, and the functions of other packages
// that build one, such as vision.CNNLearner), a fit (Fit, FitOneCycle,
// FitFlatCos, FitSGDR, FineTune), LRFind, the prediction calls (GetPreds,
// Validate, TTA, NewClassificationInterpretation), Save and Load, or the
// plots. Each option's documentation says where it applies; the same option
// does the same thing everywhere it applies (LR is New's default rate and a
// fit's rate; Callbacks adds callbacks for every fit or for one). Passing an
// option where it does not apply is a programmer error: the call panics with
// an Error naming the option and the call.
type Option struct {
	name  string
	scope scope
	apply func(*settings)
}

// scope is the set of calls an option applies to.
type scope uint16

const (
	inNew scope = 1 << iota
	inFit
	inFineTune
	inLRFind
	inPreds
	inSave
	inPlot
	inBuild
	inTTA
)

var scopeNames = []struct {
	s    scope
	name string
}{{inNew, "New"}, {inFit, "the fits"}, {inFineTune, "FineTune"}, {inLRFind, "LRFind"}, {inPreds, "the prediction calls"},
	{inSave, "Save and Load"}, {inPlot, "the plots"}, {inBuild, "the function that builds the Learner"}, {inTTA, "TTA"}}

func (s scope) String() string {
	var out []string
	for _, n := range scopeNames {
		if s&n.s != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, ", ")
}

// settings collects what the options of one call set; nil pointers are
// unset (the call's default).
type settings struct {
	// New.
	metrics    []Metric
	loss       LossFunc
	itemLoss   LossFunc
	optFunc    OptFunc
	splitter   Splitter
	wdBNBias   bool
	freezeNorm bool

	// New and the fits.
	cbs      []Callback
	lr       rate
	wd       *float64
	progress *progressSetting

	// The fits.
	startEpoch   int
	pctStart     *float64
	div          *float64
	divFinal     *float64
	moms         *[3]float64
	cycleMult    *int
	freezeEpochs *int
	lrMult       *float64

	// LRFind.
	startLR, endLR *float64
	numIt          *int
	noStopDiv      bool

	// The prediction calls.
	loader    data.Loader
	withInput bool
	withLoss  bool
	passes    *int
	beta      *float64

	// Save and Load.
	withoutOpt bool

	// The plots.
	skipStart *int
	trainOnly bool
	normalize bool
	marks     []plotMark

	// Options of the functions that build Learners.
	build map[any]any
}

// progressSetting is where progress goes: nowhere (off), or to out.
type progressSetting struct {
	off bool
	out io.Writer
}

// resolve applies opts for the call named call, which accepts the options
// of where, and panics with an Error on an option that does not apply.
func resolve(call string, where scope, opts []Option) settings {
	var s settings
	for _, o := range opts {
		if o.apply == nil {
			continue // the zero Option does nothing
		}
		if o.scope&where == 0 {
			panic(fastgo.Errorf("learner.%s: %s is not one of its options (it applies to %v)", call, o.name, o.scope))
		}
		o.apply(&s)
	}
	return s
}

func opt(name string, where scope, f func(*settings)) Option {
	return Option{name: name, scope: where, apply: f}
}

// Callbacks adds callbacks: given to New (or vision.CNNLearner), for every
// fit of the Learner; given to a fit (Fit, FitOneCycle, FineTune...), for
// that fit only. Callbacks run in the order of their Order, then in the
// order given.
func Callbacks(cbs ...Callback) Option {
	cbs = append([]Callback(nil), cbs...)
	return opt("Callbacks", inNew|inFit|inFineTune, func(s *settings) { s.cbs = append(s.cbs, cbs...) })
}

// LR sets the learning rate: given to New, the default rate of every fit
// (1e-3); given to Fit, its rate; to FitOneCycle, FitFlatCos and FitSGDR,
// the peak rate of the schedule (fastai's lr_max); to FineTune, its base
// rate (fastai's base_lr, 2e-3). The rate is one float64 for every layer
// group, Slice(lo, hi) for rates spread across the groups as fastai's
// slice, or PerGroup{...} for explicit ones:
//
//	learn.FitOneCycle(ctx, 5, learner.LR(1e-3))
//	learn.FitOneCycle(ctx, 5, learner.LR(learner.Slice(1e-5, 1e-3)))
func LR[R Rate](r R) Option {
	var rt rate
	switch r := any(r).(type) {
	case SliceRate:
		rt = r
	case PerGroup:
		rt = PerGroup(append([]float64(nil), r...))
	case float64:
		rt = oneRate(r)
	}
	return opt("LR", inNew|inFit|inFineTune, func(s *settings) { s.lr = rt })
}

// WD sets the weight decay: given to New, the default of every fit (0.01,
// decoupled with the default optimizer); given to a fit, its weight decay,
// applied to every parameter that takes weight decay.
func WD(wd float64) Option {
	return opt("WD", inNew|inFit|inFineTune, func(s *settings) { s.wd = &wd })
}

// NoProgress turns the progress display off: given to New, for every fit;
// given to a fit or LRFind, for that call. By default a Learner shows
// progress bars and the results table when standard output is a terminal.
func NoProgress() Option {
	return opt("NoProgress", inNew|inFit|inFineTune|inLRFind, func(s *settings) { s.progress = &progressSetting{off: true} })
}

// ProgressTo shows the progress on out: bars and the results table when out
// is a terminal, the table's lines alone otherwise (a log file). Given to
// New, for every fit; given to a fit or LRFind, for that call.
func ProgressTo(out io.Writer) Option {
	return opt("ProgressTo", inNew|inFit|inFineTune|inLRFind, func(s *settings) { s.progress = &progressSetting{out: out} })
}

// Metrics adds metrics computed on the validation set after each epoch (an
// option of New).
func Metrics(ms ...Metric) Option {
	ms = append([]Metric(nil), ms...)
	return opt("Metrics", inNew, func(s *settings) { s.metrics = append(s.metrics, ms...) })
}

// Loss sets the training loss (an option of New; default cross-entropy with
// mean reduction).
func Loss(f LossFunc) Option { return opt("Loss", inNew, func(s *settings) { s.loss = f }) }

// ItemLoss sets the per-item (unreduced) form of the loss, used for per-item
// losses in GetPreds and the interpretation (an option of New).
func ItemLoss(f LossFunc) Option { return opt("ItemLoss", inNew, func(s *settings) { s.itemLoss = f }) }

// Optimizer sets the function that builds the optimizer over the layer
// groups (an option of New; default optim.FastaiAdam, fastai's opt_func).
func Optimizer(f OptFunc) Option { return opt("Optimizer", inNew, func(s *settings) { s.optFunc = f }) }

// WithSplitter sets the splitter that cuts the model into layer groups (an
// option of New; default one group of everything).
func WithSplitter(f Splitter) Option {
	return opt("WithSplitter", inNew, func(s *settings) { s.splitter = f })
}

// WDBNBias applies weight decay to biases and norm-layer parameters too (an
// option of New; fastai's wd_bn_bias=True).
func WDBNBias() Option { return opt("WDBNBias", inNew, func(s *settings) { s.wdBNBias = true }) }

// FreezeNorm makes norm layers freeze with their layer group (an option of
// New; fastai's train_bn=False). By default they keep training in frozen
// groups, as fastai's do.
func FreezeNorm() Option { return opt("FreezeNorm", inNew, func(s *settings) { s.freezeNorm = true }) }

// StartEpoch skips the first epochs of a fit (schedules included), to
// resume an interrupted run from its checkpoint (see Resume).
func StartEpoch(e int) Option {
	return opt("StartEpoch", inFit|inFineTune, func(s *settings) { s.startEpoch = e })
}

// PctStart sets the fraction of a one-cycle (default 0.25; FineTune's
// unfrozen phase 0.3) or flat-cos (0.75) schedule spent before the peak or
// the decay.
func PctStart(p float64) Option {
	return opt("PctStart", inFit|inFineTune, func(s *settings) { s.pctStart = &p })
}

// Div sets one-cycle's division of the peak rate at the start (default 25;
// FineTune's unfrozen phase 5).
func Div(d float64) Option { return opt("Div", inFit|inFineTune, func(s *settings) { s.div = &d }) }

// DivFinal sets the division of the peak rate at the end of a one-cycle or
// flat-cos schedule (default 1e5).
func DivFinal(d float64) Option {
	return opt("DivFinal", inFit|inFineTune, func(s *settings) { s.divFinal = &d })
}

// Moms sets one-cycle's momentum schedule (default 0.95, 0.85, 0.95).
func Moms(start, mid, end float64) Option {
	m := [3]float64{start, mid, end}
	return opt("Moms", inFit|inFineTune, func(s *settings) { s.moms = &m })
}

// CycleMult sets FitSGDR's cycle-length multiplier (default 2).
func CycleMult(m int) Option { return opt("CycleMult", inFit, func(s *settings) { s.cycleMult = &m }) }

// FreezeEpochs sets the length of FineTune's frozen phase (default 1; 0
// skips it).
func FreezeEpochs(n int) Option {
	return opt("FreezeEpochs", inFineTune, func(s *settings) { s.freezeEpochs = &n })
}

// LRMult sets the ratio of the last layer group's rate to the first's in
// FineTune's unfrozen phase (default 100).
func LRMult(m float64) Option { return opt("LRMult", inFineTune, func(s *settings) { s.lrMult = &m }) }

// StartLR sets where LRFind's exponential schedule starts (default 1e-7).
func StartLR(lr float64) Option {
	return opt("StartLR", inLRFind, func(s *settings) { s.startLR = &lr })
}

// EndLR sets where LRFind's exponential schedule ends (default 10).
func EndLR(lr float64) Option { return opt("EndLR", inLRFind, func(s *settings) { s.endLR = &lr }) }

// NumIt sets the number of LRFind's batches (default 100; at least 6).
func NumIt(n int) Option { return opt("NumIt", inLRFind, func(s *settings) { s.numIt = &n }) }

// NoStopDiv keeps LRFind going after the loss diverges (fastai's
// stop_div=False).
func NoStopDiv() Option { return opt("NoStopDiv", inLRFind, func(s *settings) { s.noStopDiv = true }) }

// OnLoader makes GetPreds, Validate or NewClassificationInterpretation run
// over dl instead of the validation loader (fastai's dl=).
func OnLoader(dl data.Loader) Option {
	return opt("OnLoader", inPreds, func(s *settings) { s.loader = dl })
}

// WithInput makes GetPreds keep the inputs (Preds.Inputs).
func WithInput() Option { return opt("WithInput", inPreds, func(s *settings) { s.withInput = true }) }

// WithLoss makes GetPreds compute the per-item losses (Preds.Losses).
func WithLoss() Option { return opt("WithLoss", inPreds, func(s *settings) { s.withLoss = true }) }

// Passes sets the number of augmented passes of TTA (default 4).
func Passes(n int) Option { return opt("Passes", inTTA, func(s *settings) { s.passes = &n }) }

// Beta sets TTA's weight of the plain pass against the augmented mean
// (default 0.25).
func Beta(b float64) Option { return opt("Beta", inTTA, func(s *settings) { s.beta = &b }) }

// WithoutOpt makes Save leave the optimizer's state out of the file, and
// Load ignore it (fastai's with_opt=False).
func WithoutOpt() Option { return opt("WithoutOpt", inSave, func(s *settings) { s.withoutOpt = true }) }

// SkipStart makes PlotLoss leave out the first n batches (default 5).
func SkipStart(n int) Option { return opt("SkipStart", inPlot, func(s *settings) { s.skipStart = &n }) }

// TrainOnly makes PlotLoss draw the training loss alone (fastai's
// with_valid=False).
func TrainOnly() Option { return opt("TrainOnly", inPlot, func(s *settings) { s.trainOnly = true }) }

// MarkBatch makes PlotLoss draw a dashed vertical line at batch, named
// label in the legend: where a second fit began, adversarial training for
// instance. It may be given more than once.
func MarkBatch(batch int, label string) Option {
	return opt("MarkBatch", inPlot, func(s *settings) { s.marks = append(s.marks, plotMark{batch, label}) })
}

// plotMark is one MarkBatch.
type plotMark struct {
	batch int
	label string
}

// Normalized makes PlotConfusionMatrix show each row as fractions of the
// row's items (fastai's normalize=True).
func Normalized() Option { return opt("Normalized", inPlot, func(s *settings) { s.normalize = true }) }

// BuildOption returns an option of a function that builds Learners from
// options (vision.CNNLearner's NIn, FromScratch...): it carries value under
// key, for that function to read with BuildOptions. New and the fits refuse
// it.
func BuildOption(name string, key, value any) Option {
	return opt(name, inBuild, func(s *settings) {
		if s.build == nil {
			s.build = map[any]any{}
		}
		s.build[key] = value
	})
}

// BuildOptions separates the options made by BuildOption, returned as a map
// from key to value (the last option with a key wins), from the others,
// which the builder passes on to New.
func BuildOptions(opts []Option) (values map[any]any, rest []Option) {
	var s settings
	for _, o := range opts {
		if o.scope == inBuild {
			o.apply(&s)
		} else {
			rest = append(rest, o)
		}
	}
	if s.build == nil {
		s.build = map[any]any{}
	}
	return s.build, rest
}
