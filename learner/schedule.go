package learner

import (
	"context"
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo"
)

// Sched maps the position in a schedule, from 0 to 1, to a value.
type Sched func(pos float64) float64

// SchedLin goes linearly from start to end.
func SchedLin(start, end float64) Sched {
	return func(p float64) float64 { return start + p*(end-start) }
}

// SchedCos goes from start to end along half a cosine, as fastai's SchedCos:
// start + (1 + cos(pi*(1-pos))) * (end-start) / 2.
func SchedCos(start, end float64) Sched {
	return func(p float64) float64 { return start + (1+math.Cos(math.Pi*(1-p)))*(end-start)/2 }
}

// SchedExp goes exponentially from start to end: start * (end/start)^pos.
func SchedExp(start, end float64) Sched {
	return func(p float64) float64 { return start * math.Pow(end/start, p) }
}

// SchedNo stays at start.
func SchedNo(start float64) Sched { return func(float64) float64 { return start } }

// CombineScheds runs scheds[i] over the fraction pcts[i] of the positions, as
// fastai's combine_scheds. The fractions must be positive and add up to 1.
func CombineScheds(pcts []float64, scheds ...Sched) Sched {
	if len(pcts) != len(scheds) {
		panic(fastgo.Errorf("learner.CombineScheds: %d fractions for %d schedules", len(pcts), len(scheds)))
	}
	edges := make([]float64, len(pcts)+1)
	for i, p := range pcts {
		if p < 0 {
			panic(fastgo.Errorf("learner.CombineScheds: negative fraction %g", p))
		}
		edges[i+1] = edges[i] + p
	}
	if math.Abs(edges[len(pcts)]-1) > 1e-6 {
		panic(fastgo.Errorf("learner.CombineScheds: fractions %v add up to %g, not 1", pcts, edges[len(pcts)]))
	}
	return func(pos float64) float64 {
		if pos >= 1 {
			pos = 1 - 1e-12
		}
		i := 0
		for i < len(pcts)-1 && pos >= edges[i+1] {
			i++
		}
		if pcts[i] == 0 {
			return scheds[i](1)
		}
		return scheds[i]((pos - edges[i]) / pcts[i])
	}
}

// CombinedCos is fastai's combined_cos: cosine from start to middle over
// pct, then from middle to end.
func CombinedCos(pct, start, middle, end float64) Sched {
	return CombineScheds([]float64{pct, 1 - pct}, SchedCos(start, middle), SchedCos(middle, end))
}

// ParamScheduler sets hyper-parameters from schedules before every training
// batch, from the fit's PctTrain: fastai's ParamScheduler. Scheds maps a
// hyper-parameter name to one schedule per layer group (or one for all).
// The values it set are recorded in Hypers.
type ParamScheduler struct {
	// Scheds maps a hyper-parameter's name ("lr", "mom"...) to one
	// schedule per layer group, or one for every group.
	Scheds map[string][]Sched
	// Hypers records, per name, the values set at each training batch.
	Hypers map[string][][]float64
}

// Order runs the scheduler after the Recorder, as in fastai.
func (p *ParamScheduler) Order() int { return 60 }

// Name names the callback.
func (p *ParamScheduler) Name() string { return "ParamScheduler" }

// Handle sets the hyper-parameters before each training batch.
func (p *ParamScheduler) Handle(l *Learner, e Event) error {
	switch e {
	case BeforeFit:
		p.Hypers = map[string][][]float64{}
		// Set the starting values before any batch, so the fit starts on schedule.
		p.update(l)
	case BeforeBatch:
		if l.Training {
			p.update(l)
		}
	}
	return nil
}

func (p *ParamScheduler) update(l *Learner) {
	for name, ss := range p.Scheds {
		vals := make([]float64, len(ss))
		for i, s := range ss {
			vals[i] = s(l.PctTrain)
		}
		l.SetHyper(name, vals...)
		p.Hypers[name] = append(p.Hypers[name], vals)
	}
}

// Rate is what LR takes: one float64 for every layer group, a SliceRate
// (Slice(lo, hi), fastai's slice) or PerGroup rates.
type Rate interface {
	float64 | SliceRate | PerGroup
}

// rate gives a learning rate per layer group.
type rate interface {
	rates(groups int) []float64
}

// oneRate is one learning rate for every layer group.
type oneRate float64

func (r oneRate) rates(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(r)
	}
	return out
}

// PerGroup gives each layer group its own learning rate.
type PerGroup []float64

func (r PerGroup) rates(n int) []float64 {
	if len(r) != n {
		panic(fastgo.Errorf("learner.PerGroup: %d rates for %d layer groups", len(r), n))
	}
	return append([]float64(nil), r...)
}

// SliceRate is fastai's slice(lo, hi): rates spread log-evenly from Lo
// (first group) to Hi (last group). With Lo 0 (slice(hi)), the last group
// gets Hi and the others Hi/10.
type SliceRate struct {
	// Lo is the first layer group's rate (0: Hi/10 for all but the last);
	// Hi the last group's.
	Lo, Hi float64
}

// Slice returns fastai's slice(lo, hi), for LR.
func Slice(lo, hi float64) SliceRate { return SliceRate{lo, hi} }

func (s SliceRate) rates(n int) []float64 {
	out := make([]float64, n)
	switch {
	case s.Lo == 0:
		for i := range out {
			out[i] = s.Hi / 10
		}
		out[n-1] = s.Hi
	case n == 1:
		out[0] = s.Hi
	default:
		step := math.Pow(s.Hi/s.Lo, 1/float64(n-1))
		for i := range out {
			out[i] = s.Lo * math.Pow(step, float64(i))
		}
		out[n-1] = s.Hi
	}
	return out
}

// Rates returns the learning rate of each of n layer groups that an LR
// option gives.
func Rates(lr Option, n int) []float64 {
	s := resolve("Rates", inNew, []Option{lr})
	if s.lr == nil {
		panic(fastgo.Errorf("learner.Rates: %s is not an LR option", lr.name))
	}
	return s.lr.rates(n)
}

// lrMax resolves a rate (nil: the learner's) against the layer groups.
func (l *Learner) lrMax(r rate) []float64 {
	if l.Opt == nil {
		l.CreateOpt()
	}
	if r == nil {
		r = l.lr
	}
	return r.rates(len(l.optGroups))
}

func perGroup(n int, f func(i int) Sched) []Sched {
	out := make([]Sched, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// FitOneCycle trains for nEpoch epochs with the 1cycle policy (fastai's
// fit_one_cycle): the rate goes from lr/Div to lr (the LR option, else the
// learner's) by a cosine over PctStart of the run (default 0.25), then down
// to lr/DivFinal (Div 25, DivFinal 1e5); momentum goes 0.95 -> 0.85 -> 0.95
// along the same cosines (Moms). Its options are the fits' (Callbacks, LR,
// WD, PctStart, Div, DivFinal, Moms, StartEpoch, NoProgress, ProgressTo).
func (l *Learner) FitOneCycle(ctx context.Context, nEpoch int, opts ...Option) error {
	cfg := fitConfigOf(resolve("FitOneCycle", inFit, opts), 0.25)
	return l.fitOneCycle(ctx, nEpoch, cfg)
}

func (l *Learner) fitOneCycle(ctx context.Context, nEpoch int, cfg fitConfig) error {
	lrs := l.lrMax(cfg.lr)
	ps := &ParamScheduler{Scheds: map[string][]Sched{
		"lr": perGroup(len(lrs), func(i int) Sched {
			return CombinedCos(cfg.pctStart, lrs[i]/cfg.div, lrs[i], lrs[i]/cfg.divFinal)
		}),
		"mom": {CombinedCos(cfg.pctStart, cfg.moms[0], cfg.moms[1], cfg.moms[2])},
	}}
	cfg.cbs = append([]Callback{ps}, cfg.cbs...)
	return l.fit(ctx, nEpoch, cfg)
}

// FitFlatCos trains at a flat rate (LR) for PctStart of the run (default
// 0.75), then anneals it by a cosine to lr/DivFinal (fastai's
// fit_flat_cos). Its options are the fits'.
func (l *Learner) FitFlatCos(ctx context.Context, nEpoch int, opts ...Option) error {
	cfg := fitConfigOf(resolve("FitFlatCos", inFit, opts), 0.75)
	lrs := l.lrMax(cfg.lr)
	ps := &ParamScheduler{Scheds: map[string][]Sched{
		"lr": perGroup(len(lrs), func(i int) Sched { return CombinedCos(cfg.pctStart, lrs[i], lrs[i], lrs[i]/cfg.divFinal) }),
	}}
	cfg.cbs = append([]Callback{ps}, cfg.cbs...)
	return l.fit(ctx, nEpoch, cfg)
}

// FitSGDR trains nCycles cosine-annealing cycles with warm restarts (fastai's
// fit_sgdr): the first lasts cycleLen epochs, each next one CycleMult
// (default 2) times longer, each annealing from the rate (LR) to 0. Its
// options are the fits'.
func (l *Learner) FitSGDR(ctx context.Context, nCycles, cycleLen int, opts ...Option) error {
	cfg := fitConfigOf(resolve("FitSGDR", inFit, opts), 0)
	if nCycles < 1 || cycleLen < 1 || cfg.cycleMult < 1 {
		return fmt.Errorf("learner.FitSGDR: %d cycles of length %d, multiplier %d", nCycles, cycleLen, cfg.cycleMult)
	}
	nEpoch, mult := 0, 1
	lens := make([]int, nCycles)
	for i := range lens {
		lens[i] = cycleLen * mult
		nEpoch += lens[i]
		mult *= cfg.cycleMult
	}
	pcts := make([]float64, nCycles)
	for i, n := range lens {
		pcts[i] = float64(n) / float64(nEpoch)
	}
	lrs := l.lrMax(cfg.lr)
	ps := &ParamScheduler{Scheds: map[string][]Sched{
		"lr": perGroup(len(lrs), func(g int) Sched {
			ss := make([]Sched, nCycles)
			for i := range ss {
				ss[i] = SchedCos(lrs[g], 0)
			}
			return CombineScheds(pcts, ss...)
		}),
	}}
	cfg.cbs = append([]Callback{ps}, cfg.cbs...)
	return l.fit(ctx, nEpoch, cfg)
}
