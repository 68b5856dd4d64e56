package learner

import (
	"fmt"
	"math"

	"github.com/fastgo-ml/fastgo/render"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// finiteXYs returns the points of ys (x = xs[i], or i when xs is nil) whose
// values are finite.
func finiteXYs(xs []float64, ys []float64) plotter.XYs {
	pts := make(plotter.XYs, 0, len(ys))
	for i, y := range ys {
		x := float64(i)
		if xs != nil {
			x = xs[i]
		}
		if !math.IsNaN(y) && !math.IsInf(y, 0) && !math.IsNaN(x) && !math.IsInf(x, 0) {
			pts = append(pts, plotter.XY{X: x, Y: y})
		}
	}
	return pts
}

// PlotLoss writes a PNG of the smoothed training loss against the batch
// number, from batch 5 on (SkipStart), and the validation loss of each
// epoch at the batch that ended it (unless TrainOnly), as fastai's
// plot_loss; MarkBatch marks a batch (the start of a second fit).
func (r *Recorder) PlotLoss(path string, opts ...Option) error {
	o := resolve("PlotLoss", inPlot, opts)
	skipStart, withValid := 5, !o.trainOnly
	if o.skipStart != nil {
		skipStart = max(*o.skipStart, 0)
	}
	if skipStart >= len(r.Losses) {
		return fmt.Errorf("learner: PlotLoss %s: %d training losses recorded, none after batch %d", path, len(r.Losses), skipStart)
	}
	p := plot.New()
	p.Title.Text = "Loss"
	p.X.Label.Text = "Batch"
	p.Y.Label.Text = "Loss"
	xs := make([]float64, len(r.Losses)-skipStart)
	for i := range xs {
		xs[i] = float64(skipStart + i)
	}
	train := finiteXYs(xs, r.Losses[skipStart:])
	if len(train) == 0 {
		return fmt.Errorf("learner: PlotLoss %s: no finite training loss", path)
	}
	line, err := plotter.NewLine(train)
	if err != nil {
		return err
	}
	line.Color = render.Color(0)
	p.Add(line)
	p.Legend.Add("train", line)
	legendRows := 1 + len(o.marks)
	if withValid {
		var vx, vy []float64
		for e, it := range r.EpochIters {
			if it >= skipStart && e < len(r.Values) && len(r.Values[e]) > 1 {
				vx, vy = append(vx, float64(it)), append(vy, r.Values[e][1])
			}
		}
		if pts := finiteXYs(vx, vy); len(pts) > 0 {
			vl, sc, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			vl.Color, sc.Color = render.Color(1), render.Color(1)
			p.Add(vl, sc)
			p.Legend.Add("valid", vl, sc)
			legendRows++
		}
	}
	if err := addMarks(p, o.marks, train); err != nil {
		return err
	}
	// Room above the curves for the legend, in the upper right corner.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, q := range train {
		lo, hi = math.Min(lo, q.Y), math.Max(hi, q.Y)
	}
	p.Y.Min = math.Min(p.Y.Min, lo)
	p.Y.Max = math.Max(p.Y.Max, hi) + (math.Max(p.Y.Max, hi)-math.Min(p.Y.Min, lo))*0.09*float64(legendRows)
	p.Legend.Top = true
	p.Legend.XOffs, p.Legend.YOffs = -vg.Millimeter*2, -vg.Millimeter*2
	return render.SavePlot(path, p, 6*vg.Inch, 4*vg.Inch)
}

// addMarks draws each MarkBatch as a dashed vertical line across the
// range of the training loss pts, named in the legend.
func addMarks(p *plot.Plot, marks []plotMark, pts plotter.XYs) error {
	if len(marks) == 0 {
		return nil
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, q := range pts {
		lo, hi = math.Min(lo, q.Y), math.Max(hi, q.Y)
	}
	for i, m := range marks {
		l, err := plotter.NewLine(plotter.XYs{{X: float64(m.batch), Y: lo}, {X: float64(m.batch), Y: hi}})
		if err != nil {
			return err
		}
		l.Color = render.Color(3 + i)
		l.Width = vg.Points(1.5)
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (batch %d)", m.label, m.batch), l)
	}
	return nil
}

// PlotSched writes a PNG of the learning rate and, when recorded, the
// momentum of the last layer group against the batch number (fastai's
// plot_sched), one panel each.
func (r *Recorder) PlotSched(path string) error {
	if len(r.LRs) == 0 {
		return fmt.Errorf("learner: PlotSched %s: no learning rate recorded", path)
	}
	var plots []*plot.Plot
	for i, s := range []struct {
		name string
		vals []float64
	}{{"lr", r.LRs}, {"mom", r.Moms}} {
		if len(s.vals) == 0 {
			continue
		}
		p := plot.New()
		p.X.Label.Text = "Batch"
		p.Y.Label.Text = s.name
		line, err := plotter.NewLine(finiteXYs(nil, s.vals))
		if err != nil {
			return err
		}
		line.Color = render.Color(i)
		p.Add(line)
		plots = append(plots, p)
	}
	return render.SavePlots(path, plots, vg.Length(len(plots))*5*vg.Inch, 3.5*vg.Inch)
}
