package main

import (
	"fmt"
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/render"
)

// plotRobustness writes robust accuracy against eps for both models: for
// each, the worst case over the suite (solid) and PGD alone (dashed), at
// the eps they were evaluated at, and the clean accuracy (dotted). The
// ticks sit at the evaluated eps; the legend in the lower left corner.
func plotRobustness(path string, before, after *robustness.Report) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Robust accuracy against eps (Linf, %d validation images)", before.Samples)
	p.X.Label.Text = "eps (pixels in [0,1])"
	p.Y.Label.Text = "accuracy"
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	var evaluated []float64
	for _, r := range []*robustness.Report{before, after} {
		for _, w := range r.WorstCase {
			evaluated = append(evaluated, w.Eps)
		}
	}
	if len(evaluated) == 0 {
		return fmt.Errorf("%s: no robust accuracy to plot", path)
	}
	xmax := slices.Max(evaluated) * 1.05
	for _, m := range []struct {
		name string
		r    *robustness.Report
		c    color.Color
	}{{"standard", before, render.Color(0)}, {"adversarially trained", after, render.Color(1)}} {
		var worst plotter.XYs
		for _, w := range m.r.WorstCase {
			worst = append(worst, plotter.XY{X: w.Eps, Y: w.RobustAccuracy})
		}
		if err := addLine(p, m.name+": worst case", worst, m.c, nil, true); err != nil {
			return err
		}
		if a := iterativeAttack(m.r); a != nil {
			var pts plotter.XYs
			for _, res := range a.Results {
				pts = append(pts, plotter.XY{X: res.Eps, Y: res.RobustAccuracy})
			}
			if err := addLine(p, m.name+": "+a.Name, pts, m.c, []vg.Length{vg.Points(5), vg.Points(3)}, true); err != nil {
				return err
			}
		}
		clean := plotter.XYs{{X: 0, Y: m.r.CleanAccuracy}, {X: xmax, Y: m.r.CleanAccuracy}}
		if err := addLine(p, fmt.Sprintf("%s: clean (%.3f)", m.name, m.r.CleanAccuracy), clean, m.c, []vg.Length{vg.Points(1.5), vg.Points(2.5)}, false); err != nil {
			return err
		}
	}
	p.X.Min, p.X.Max = 0, xmax
	p.X.Tick.Marker = render.TicksAt(append([]float64{0}, evaluated...)...)
	p.Legend.Top, p.Legend.Left = false, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Millimeter*3, vg.Millimeter*3
	return render.SavePlot(path, p, 7*vg.Inch, 4.5*vg.Inch)
}

// iterativeAttack returns the report's first iterative attack that ran at
// two eps or more (PGD in the demo's suite), or nil.
func iterativeAttack(r *robustness.Report) *robustness.AttackReport {
	for i, a := range r.Attacks {
		if a.Kind == robustness.Iterative && a.Skipped == "" && len(a.Results) >= 2 {
			return &r.Attacks[i]
		}
	}
	return nil
}

// addLine adds a line through pts (with a marker at each point when
// points is set) to p and its legend.
func addLine(p *plot.Plot, name string, pts plotter.XYs, c color.Color, dashes []vg.Length, points bool) error {
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	l.Color, s.Color = c, c
	l.Width = vg.Points(1.5)
	l.Dashes = dashes
	if !points {
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}
