package learner

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// savePlot writes p as a PNG of w x h to path, atomically.
func savePlot(path string, p *plot.Plot, w, h vg.Length) error {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return fmt.Errorf("learner: plotting %s: %w", path, err)
	}
	return saveAtomically(path, func(out io.Writer) error { _, err := wt.WriteTo(out); return err })
}

// savePlots writes plots side by side, one row, as a PNG to path.
func savePlots(path string, plots []*plot.Plot, w, h vg.Length) error {
	img := vgimg.New(w, h)
	dc := draw.New(img)
	t := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2,
		PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{plots}, t, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	return saveAtomically(path, func(out io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(out)
		return err
	})
}

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
// number, from batch skipStart on, and with withValid the validation loss
// of each epoch at the batch that ended it (fastai's plot_loss; fastai's
// skipStart is 5).
func (r *Recorder) PlotLoss(path string, skipStart int, withValid bool) error {
	skipStart = max(skipStart, 0)
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
	line.Color = plotColor(0)
	p.Add(line)
	p.Legend.Add("train", line)
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
			vl.Color, sc.Color = plotColor(1), plotColor(1)
			p.Add(vl, sc)
			p.Legend.Add("valid", vl, sc)
		}
	}
	p.Legend.Top = true
	return savePlot(path, p, 6*vg.Inch, 4*vg.Inch)
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
		line.Color = plotColor(i)
		p.Add(line)
		plots = append(plots, p)
	}
	return savePlots(path, plots, vg.Length(len(plots))*5*vg.Inch, 3.5*vg.Inch)
}

// plotColor returns matplotlib's default colour cycle (tab:blue, tab:orange...).
func plotColor(i int) color.Color {
	cycle := []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255}}
	return cycle[i%len(cycle)]
}
