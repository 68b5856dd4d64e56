package robustness

import (
	"fmt"
	"image"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/render"
	"github.com/fastgo-ml/fastgo/tensor"
)

// PlotAccuracy writes a PNG of the robust accuracy against eps: a line per
// attack that ran, the AutoAttack cascade, and the worst case (black,
// dashed), each starting from the clean accuracy at eps 0.
func (r *Report) PlotAccuracy(path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Robust accuracy (%s, %d samples)", r.Norm, r.Samples)
	p.X.Label.Text = "eps"
	p.Y.Label.Text = "accuracy"
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	lines := 0
	add := func(name string, eps, acc []float64, c color.Color, dashed, thick bool) error {
		pts := plotter.XYs{{X: 0, Y: r.CleanAccuracy}}
		for k := range eps {
			if eps[k] == 0 {
				pts[0].Y = acc[k]
				continue
			}
			pts = append(pts, plotter.XY{X: eps[k], Y: acc[k]})
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, s.Color = c, c
		if thick {
			l.Width = vg.Points(2)
		}
		if dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l, s)
		p.Legend.Add(name, l, s)
		lines++
		return nil
	}
	for _, a := range r.Attacks {
		if a.Skipped != "" || len(a.Results) == 0 {
			continue
		}
		var eps, acc []float64
		for _, res := range a.Results {
			eps, acc = append(eps, res.Eps), append(acc, res.RobustAccuracy)
		}
		if err := add(a.Name, eps, acc, render.Color(lines), false, false); err != nil {
			return err
		}
	}
	if len(r.AutoAttack) > 0 {
		var eps, acc []float64
		for _, c := range r.AutoAttack {
			eps, acc = append(eps, c.Eps), append(acc, c.RobustAccuracy)
		}
		if err := add("AutoAttack cascade", eps, acc, render.Color(lines), false, true); err != nil {
			return err
		}
	}
	if len(r.WorstCase) > 0 {
		var eps, acc []float64
		for _, w := range r.WorstCase {
			eps, acc = append(eps, w.Eps), append(acc, w.RobustAccuracy)
		}
		if err := add("worst case", eps, acc, color.Black, true, true); err != nil {
			return err
		}
	}
	if lines == 0 {
		return fmt.Errorf("robustness: PlotAccuracy %s: no attack results to plot", path)
	}
	p.Legend.Top = true
	p.X.Min = 0
	return render.SavePlot(path, p, 6*vg.Inch, 4*vg.Inch)
}

// WriteExamples writes a PNG grid of the report's adversarial examples
// (at most maxN, all when maxN <= 0), one per row: the clean image with
// its label and clean prediction, the perturbation amplified to fill the
// grey range (grey is zero; the factor is printed), and the adversarial
// image with its prediction and the attack that made it.
func (r *Report) WriteExamples(path string, maxN int) error {
	ex := r.Examples
	if maxN > 0 && len(ex) > maxN {
		ex = ex[:maxN]
	}
	img, err := ExampleGrid(ex, r.Classes)
	if err != nil {
		return fmt.Errorf("robustness: WriteExamples %s: %w", path, err)
	}
	return render.WritePNG(path, img)
}

// ExamplesFromResult returns the examples of the samples of r that the
// attack fooled (at most maxN, all when maxN <= 0), x being the clean batch
// r was computed from and cleanPred its clean predictions (nil: unknown,
// shown as the label), for ExampleGrid. The label of a sample is the class
// of r's criterion (the true label, or the target of a targeted attack).
func ExamplesFromResult(r *attacks.Result, x *tensor.Tensor, cleanPred []int, maxN int) []Example {
	var out []Example
	n := x.Dim(0)
	d := x.Len() / n
	shape := x.Shape()[1:]
	classes := r.Criterion.Classes()
	for i := 0; i < n && (maxN <= 0 || len(out) < maxN); i++ {
		if !r.Success[i] {
			continue
		}
		cp := classes[i]
		if cleanPred != nil {
			cp = cleanPred[i]
		}
		out = append(out, Example{
			Index: i, Label: classes[i], CleanPred: cp, AdvPred: r.Pred[i], Attack: r.Attack, Eps: r.Eps,
			Clean: tensor.FromSlice(append([]float32(nil), batch.Row(x.Data(), i, d)...), shape...),
			Adv:   tensor.FromSlice(append([]float32(nil), batch.Row(r.Adv.Data(), i, d)...), shape...),
		})
	}
	return out
}

// ExampleGrid draws examples as WriteExamples does, naming classes from
// classes (numbers when it does not cover them). Images are [C, H, W] with
// 1 or 3 channels, all of the same shape.
func ExampleGrid(examples []Example, classes []string) (image.Image, error) {
	if len(examples) == 0 {
		return nil, fmt.Errorf("no examples")
	}
	s := examples[0].Clean.Shape()
	name := func(c int) string {
		if c >= 0 && c < len(classes) {
			return classes[c]
		}
		if c < 0 {
			return "NaN"
		}
		return fmt.Sprint(c)
	}
	rows := make([][]render.Cell, len(examples))
	for i, e := range examples {
		if !tensorShapeIs(e.Clean, s) || !tensorShapeIs(e.Adv, s) {
			return nil, fmt.Errorf("example %d: images of shapes %v and %v, want %v", i, shapeOf(e.Clean), shapeOf(e.Adv), s)
		}
		delta, amp, m := render.Perturbation(e.Clean, e.Adv)
		rows[i] = []render.Cell{
			{Image: e.Clean, Caption: []string{"label: " + name(e.Label), "pred: " + name(e.CleanPred)}},
			{Image: delta, Caption: []string{fmt.Sprintf("x%.3g, max %.3g", amp, m), fmt.Sprintf("eps %g", e.Eps)}},
			{Image: e.Adv, Caption: []string{"pred: " + name(e.AdvPred), e.Attack}},
		}
	}
	return render.Grid(rows, render.ColumnTitles("clean", "perturbation", "adversarial"),
		render.MinSide(96), render.MinCellWidth(140), render.MaxCaption(20), render.Frames())
}

func tensorShapeIs(t *tensor.Tensor, s []int) bool {
	return t != nil && tensor.SameShape(t.Shape(), s)
}

func shapeOf(t *tensor.Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape()
}
