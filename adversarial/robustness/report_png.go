package robustness

import (
	"fmt"
	"image"
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/fastgo-ml/fastgo/adversarial/attacks"
	"github.com/fastgo-ml/fastgo/adversarial/internal/batch"
	"github.com/fastgo-ml/fastgo/render"
	"github.com/fastgo-ml/fastgo/tensor"
)

// PlotAccuracy writes a PNG of the robust accuracy against eps: a line per
// attack that ran, drawn only at the eps it ran at, the AutoAttack cascade,
// and the worst case (black, dashed); the clean accuracy is a dotted grey
// line, the ticks sit at the evaluated eps and the legend in the lower
// left corner, where accuracies falling with eps leave room.
func (r *Report) PlotAccuracy(path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Robust accuracy (%s, %d %s)", r.Norm, r.Samples, plural(r.Samples, "sample", "samples"))
	p.X.Label.Text = fmt.Sprintf("eps (pixels in [%g, %g])", r.Lo, r.Hi)
	p.Y.Label.Text = "accuracy"
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	series := r.accuracySeries()
	if len(series) == 0 {
		return fmt.Errorf("robustness: PlotAccuracy %s: no attack results to plot", path)
	}
	var evaluated []float64
	var legend []func()
	for _, sr := range drawOrder(series) {
		var pts plotter.XYs
		for k := range sr.eps {
			pts = append(pts, plotter.XY{X: sr.eps[k], Y: sr.acc[k]})
		}
		evaluated = append(evaluated, sr.eps...)
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, s.Color = sr.c, sr.c
		if sr.width > 2 {
			l.Width = vg.Points(min(sr.width, 3))
		}
		if sr.dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l, s)
		legend = append(legend, func() { p.Legend.Add(sr.name, l, s) })
	}
	// The legend in the series' order, the worst case last.
	for _, sr := range series {
		for i, d := range drawOrder(series) {
			if d.name == sr.name {
				legend[i]()
			}
		}
	}
	xmax := slices.Max(evaluated) * 1.05
	clean, err := plotter.NewLine(plotter.XYs{{X: 0, Y: r.CleanAccuracy}, {X: xmax, Y: r.CleanAccuracy}})
	if err != nil {
		return err
	}
	clean.Color = color.Gray{Y: 128}
	clean.Dashes = []vg.Length{vg.Points(1.5), vg.Points(2.5)}
	p.Add(clean)
	p.Legend.Add(fmt.Sprintf("clean (%.3f)", r.CleanAccuracy), clean)
	p.X.Min, p.X.Max = 0, xmax
	p.X.Tick.Marker = render.TicksAt(append([]float64{0}, evaluated...)...)
	p.Legend.Top, p.Legend.Left = false, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Millimeter*3, vg.Millimeter*3
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
