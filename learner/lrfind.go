package learner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/render"
)

// LRFindResult holds the recorded curve and fastai's four suggestions.
type LRFindResult struct {
	// LRs and Losses are every recorded (lr, smoothed loss) pair.
	LRs, Losses []float64
	// Valley is fastai's default suggestion: a point 2/3 of the way down
	// the longest descending stretch of the curve.
	Valley float64
	// Slide is where the loss gradient stops changing (fastai's slide).
	Slide float64
	// Minimum is a tenth of the lr with the lowest loss.
	Minimum float64
	// Steep is the lr where the loss falls fastest.
	Steep float64
}

// lrFinder is fastai's LRFinder: an exponential lr schedule over NumIt
// training batches that cancels the fit on divergence.
type lrFinder struct {
	start, end float64
	numIt      int
	stopDiv    bool
	best       float64
}

func (f *lrFinder) Order() int   { return 60 }
func (f *lrFinder) Name() string { return "LRFinder" }

func (f *lrFinder) Handle(l *Learner, e Event) error {
	switch e {
	case BeforeFit:
		f.best = math.Inf(1)
	case BeforeBatch:
		if l.Training {
			l.SetHyper("lr", f.start*math.Pow(f.end/f.start, float64(l.TrainIter)/float64(f.numIt)))
		}
	case AfterBatch:
		if !l.Training {
			return nil
		}
		s := l.Recorder.SmoothLoss
		if s < f.best {
			f.best = s
		}
		if (f.stopDiv && (s > 4*f.best || math.IsNaN(s))) || l.TrainIter >= f.numIt {
			return CancelFit
		}
	case BeforeValidate:
		return CancelValidate
	}
	return nil
}

// LRFind runs fastai's learning-rate finder and returns the curve and the
// suggestions: the rate grows exponentially from StartLR (1e-7) to EndLR
// (10) over NumIt (100) training batches, stopping when the smoothed loss
// passes 4 times its best (unless NoStopDiv). The model's weights and
// buffers, the optimizer (its state and hyper-parameters), the Recorder and
// the data epoch are restored after, so LRFind has no side effects on later
// training. NoProgress and ProgressTo set its display.
func (l *Learner) LRFind(ctx context.Context, opts ...Option) (*LRFindResult, error) {
	s := resolve("LRFind", inLRFind, opts)
	c := struct {
		StartLR, EndLR float64
		NumIt          int
	}{1e-7, 10, 100}
	if s.startLR != nil {
		c.StartLR = *s.startLR
	}
	if s.endLR != nil {
		c.EndLR = *s.endLR
	}
	if s.numIt != nil {
		c.NumIt = *s.numIt
	}
	c.NumIt = max(c.NumIt, 6)
	if !(c.StartLR > 0 && c.EndLR > c.StartLR) {
		return nil, fmt.Errorf("learner.LRFind: lr range [%g, %g] is not increasing and positive", c.StartLR, c.EndLR)
	}
	// Snapshot everything the finder touches.
	hadOpt := l.Opt != nil
	if !hadOpt {
		l.CreateOpt()
	}
	modelState := snapshot(l.Model)
	optState := l.Opt.StateDict()
	rec, dataEpoch, epoch := l.Recorder, l.DataEpoch, l.Epoch
	l.Recorder = &Recorder{Beta: rec.Beta}
	l.cbs[indexOf(l.cbs, Callback(rec))] = l.Recorder
	l.lrFinding = true
	defer func() {
		l.lrFinding = false
		restore(l.Model, modelState)
		if err := l.Opt.LoadStateDict(optState); err != nil {
			panic(fastgo.Errorf("learner.LRFind: restoring the optimizer: "+"%v", err))
		}
		l.Opt.ZeroGrad()
		if !hadOpt {
			l.Opt = nil
		}
		l.cbs[indexOf(l.cbs, Callback(l.Recorder))] = rec
		l.Recorder, l.DataEpoch, l.Epoch = rec, dataEpoch, epoch
	}()
	nEpoch := c.NumIt/max(l.Data.TrainLoader().Len(), 1) + 1
	finder := &lrFinder{start: c.StartLR, end: c.EndLR, numIt: c.NumIt, stopDiv: !s.noStopDiv}
	cfg := fitConfigOf(settings{cbs: []Callback{finder}, progress: s.progress}, 0)
	if err := l.fit(ctx, nEpoch, cfg); err != nil && !errors.Is(err, ErrNaNLoss) {
		return nil, err
	}
	res := &LRFindResult{LRs: l.Recorder.LRs, Losses: l.Recorder.Losses}
	// fastai skips the first tenth and the last 5 points, and what follows
	// a non-finite loss.
	lo, hi := c.NumIt/10, len(res.LRs)-5
	for i := lo; i < hi; i++ {
		if math.IsNaN(res.Losses[i]) || math.IsInf(res.Losses[i], 0) {
			hi = i
		}
	}
	if hi-lo < 3 {
		return res, fmt.Errorf("learner.LRFind: only %d points recorded (the loss diverged at once?); widen the range or lower StartLR", len(res.LRs))
	}
	lrs, losses := res.LRs[lo:hi], res.Losses[lo:hi]
	res.Valley = valley(lrs, losses)
	res.Slide = slide(lrs, losses, 15, 0.005)
	res.Minimum = minimum(lrs, losses) / 10
	res.Steep = steep(lrs, losses)
	return res, nil
}

func indexOf(cbs []Callback, cb Callback) int {
	for i, c := range cbs {
		if c == cb {
			return i
		}
	}
	panic(fastgo.Errorf("learner: callback not found"))
}

// snapshot copies a module's state dict.
func snapshot(m layers.Module) *layers.StateDict { return layers.GetStateDict(m).Clone() }

func restore(m layers.Module, sd *layers.StateDict) {
	if _, err := layers.LoadStateDict(m, sd); err != nil {
		panic(fastgo.Errorf("learner: restoring a snapshot of the same model: "+"%v", err))
	}
}

// valley is fastai's valley: the longest decreasing subsequence of the
// losses, and the point 2/3 of the way along it.
func valley(lrs, losses []float64) float64 {
	n := len(losses)
	lds := make([]int, n)
	for i := range lds {
		lds[i] = 1
	}
	maxStart, maxEnd := 0, 0
	for i := 1; i < n; i++ {
		for j := 0; j < i; j++ {
			if losses[i] < losses[j] && lds[i] < lds[j]+1 {
				lds[i] = lds[j] + 1
			}
			if lds[maxEnd] < lds[i] {
				maxEnd = i
				maxStart = maxEnd - lds[maxEnd]
			}
		}
	}
	sections := float64(maxEnd-maxStart) / 3
	idx := maxStart + int(sections) + int(sections/2)
	return lrs[max(0, min(idx, n-1))]
}

// slide is fastai's slide: walking left from the end, the first lr where the
// loss gradient at distance lrDiff differs by no more than thresh.
func slide(lrs, losses []float64, lrDiff int, thresh float64) float64 {
	n := len(losses)
	grad := gradient(losses)
	r, l := n-1, n-1-lrDiff
	if l < 0 {
		return lrs[0]
	}
	local := lrs[l]
	for l >= 0 && math.Abs(grad[r]-grad[l]) > thresh {
		local = lrs[l]
		r--
		l--
	}
	return local
}

// gradient is numpy.gradient with unit spacing.
func gradient(y []float64) []float64 {
	n := len(y)
	g := make([]float64, n)
	if n < 2 {
		return g
	}
	g[0], g[n-1] = y[1]-y[0], y[n-1]-y[n-2]
	for i := 1; i < n-1; i++ {
		g[i] = (y[i+1] - y[i-1]) / 2
	}
	return g
}

func minimum(lrs, losses []float64) float64 {
	best := 0
	for i, v := range losses {
		if v < losses[best] {
			best = i
		}
	}
	return lrs[best]
}

func steep(lrs, losses []float64) float64 {
	best, bestG := 0, math.Inf(1)
	for i := 0; i+1 < len(losses); i++ {
		g := (losses[i+1] - losses[i]) / (math.Log(lrs[i+1]) - math.Log(lrs[i]))
		if g < bestG {
			best, bestG = i, g
		}
	}
	return lrs[best]
}

// Plot writes a PNG of the loss against the learning rate (log scale),
// without the last 5 points, with the suggestions marked, as fastai's
// plot_lr_find.
func (r *LRFindResult) Plot(path string) error {
	p := plot.New()
	p.Title.Text = "Learning rate finder"
	p.X.Label.Text = "Learning rate"
	p.Y.Label.Text = "Loss"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = decadeTicks{}
	n := len(r.LRs)
	if n > 10 {
		n -= 5
	}
	pts := finiteXYs(r.LRs[:n], r.Losses[:n])
	if len(pts) == 0 {
		return fmt.Errorf("learner: LRFind plot %s: no finite point", path)
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	line.Color = render.Color(0)
	p.Add(line)
	// lossAt interpolates the curve at lr in log space, as fastai marks
	// its suggestions.
	lossAt := func(lr float64) float64 {
		if lr <= pts[0].X {
			return pts[0].Y
		}
		for i := 1; i < len(pts); i++ {
			if lr <= pts[i].X {
				t := (math.Log(lr) - math.Log(pts[i-1].X)) / (math.Log(pts[i].X) - math.Log(pts[i-1].X))
				return pts[i-1].Y + t*(pts[i].Y-pts[i-1].Y)
			}
		}
		return pts[len(pts)-1].Y
	}
	for i, s := range []struct {
		name string
		lr   float64
	}{{"valley", r.Valley}, {"slide", r.Slide}, {"minimum", r.Minimum}, {"steep", r.Steep}} {
		if !(s.lr > 0) {
			continue
		}
		sc, err := plotter.NewScatter(plotter.XYs{{X: s.lr, Y: lossAt(s.lr)}})
		if err != nil {
			return err
		}
		sc.Color = render.Color(i + 1)
		sc.Shape = draw.CircleGlyph{}
		sc.Radius = vg.Points(4)
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("%s %.2g", s.name, s.lr), sc)
	}
	p.Legend.Top = true
	return render.SavePlot(path, p, 6*vg.Inch, 4*vg.Inch)
}

// decadeTicks marks the powers of ten of a log axis, labelled 1e-07 ...
type decadeTicks struct{}

// Ticks returns the powers of ten in [lo, hi], and minor ticks at their
// multiples 2..9.
func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	if !(lo > 0) || !(hi > lo) {
		return ts
	}
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for k := 1; k <= 9; k++ {
			v := base * float64(k)
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if k == 1 {
				t.Label = strconv.FormatFloat(v, 'g', 1, 64)
			}
			ts = append(ts, t)
		}
	}
	return ts
}
