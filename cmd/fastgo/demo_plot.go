package main

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/fastgo-ml/fastgo/adversarial/robustness"
	"github.com/fastgo-ml/fastgo/render"
)

// plotRobustness writes robust accuracy against eps for both models: for
// each, the worst case over the suite (solid) and PGD alone (dashed), from
// the clean accuracy at eps 0.
func plotRobustness(path string, before, after *robustness.Report) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Robust accuracy against eps (Linf, %d validation images)", before.Samples)
	p.X.Label.Text = "eps (pixels in [0,1])"
	p.Y.Label.Text = "accuracy"
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	for _, m := range []struct {
		name string
		r    *robustness.Report
		c    color.Color
	}{{"standard", before, render.Color(0)}, {"adversarially trained", after, render.Color(1)}} {
		worst := plotter.XYs{{X: 0, Y: m.r.CleanAccuracy}}
		for _, w := range m.r.WorstCase {
			if w.Eps > 0 {
				worst = append(worst, plotter.XY{X: w.Eps, Y: w.RobustAccuracy})
			}
		}
		if err := addLine(p, m.name+": worst case", worst, m.c, false); err != nil {
			return err
		}
		for _, a := range m.r.Attacks {
			if a.Kind != robustness.Iterative || len(a.Results) < 2 {
				continue
			}
			pts := plotter.XYs{{X: 0, Y: m.r.CleanAccuracy}}
			for _, res := range a.Results {
				if res.Eps > 0 {
					pts = append(pts, plotter.XY{X: res.Eps, Y: res.RobustAccuracy})
				}
			}
			if err := addLine(p, m.name+": "+a.Name, pts, m.c, true); err != nil {
				return err
			}
			break
		}
	}
	return render.SavePlot(path, p, 7*vg.Inch, 4.5*vg.Inch)
}

func addLine(p *plot.Plot, name string, pts plotter.XYs, c color.Color, dashed bool) error {
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	l.Color, s.Color = c, c
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}
