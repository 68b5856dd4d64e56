package adversarial

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
)

// reportColor returns matplotlib's default colour cycle.
func reportColor(i int) color.Color {
	cycle := []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
		{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255}}
	return cycle[i%len(cycle)]
}

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
		if err := add(a.Name, eps, acc, reportColor(lines), false, false); err != nil {
			return err
		}
	}
	if len(r.AutoAttack) > 0 {
		var eps, acc []float64
		for _, c := range r.AutoAttack {
			eps, acc = append(eps, c.Eps), append(acc, c.RobustAccuracy)
		}
		if err := add("AutoAttack cascade", eps, acc, reportColor(lines), false, true); err != nil {
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
		return fmt.Errorf("adversarial: PlotAccuracy %s: no attack results to plot", path)
	}
	p.Legend.Top = true
	p.X.Min = 0
	wt, err := p.WriterTo(6*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("adversarial: PlotAccuracy %s: %w", path, err)
	}
	return writeAtomically(path, func(w io.Writer) error { _, err := wt.WriteTo(w); return err })
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
		return fmt.Errorf("adversarial: WriteExamples %s: %w", path, err)
	}
	return writeAtomically(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// ExamplesFromResult returns the examples of the samples of r that the
// attack fooled (at most maxN, all when maxN <= 0), x being the clean batch
// r was computed from and cleanPred its clean predictions (nil: unknown,
// shown as the label), for ExampleGrid. The label of a sample is the class
// of r's criterion (the true label, or the target of a targeted attack).
func ExamplesFromResult(r *Result, x *tensor.Tensor, cleanPred []int, maxN int) []Example {
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
			Clean: tensor.FromSlice(append([]float32(nil), row(x.Data(), i, d)...), shape...),
			Adv:   tensor.FromSlice(append([]float32(nil), row(r.Adv.Data(), i, d)...), shape...),
		})
	}
	return out
}

// ExampleGrid draws examples as WriteExamples does, naming classes from
// classes (numbers when it does not cover them). Images are [C, H, W] with
// 1 or 3 channels (vision.ToImage).
func ExampleGrid(examples []Example, classes []string) (image.Image, error) {
	if len(examples) == 0 {
		return nil, fmt.Errorf("no examples")
	}
	s := examples[0].Clean.Shape()
	if len(s) != 3 {
		return nil, fmt.Errorf("example image of shape %v, want [C, H, W]", s)
	}
	h, w := s[1], s[2]
	const pad, capH, titleH, minCell = 6, 30, 18, 140
	k := max(1, int(math.Ceil(96/float64(max(h, w)))))
	cellW := max(w*k, minCell) + pad
	cellH := h*k + capH + pad
	grid := image.NewRGBA(image.Rect(0, 0, 3*cellW+pad, titleH+len(examples)*cellH+pad))
	draw.Draw(grid, grid.Bounds(), image.White, image.Point{}, draw.Src)
	face := basicfont.Face7x13
	text := func(x0, y, width int, s string) {
		if r := []rune(s); len(r) > width/7 {
			s = string(r[:width/7])
		}
		d := font.Drawer{Dst: grid, Src: image.NewUniform(color.Black), Face: face}
		tw := d.MeasureString(s).Ceil()
		d.Dot = fixed.P(x0+(width-tw)/2, y)
		d.DrawString(s)
	}
	name := func(c int) string {
		if c >= 0 && c < len(classes) {
			return classes[c]
		}
		if c < 0 {
			return "NaN"
		}
		return fmt.Sprint(c)
	}
	for col, t := range []string{"clean", "perturbation", "adversarial"} {
		text(pad+col*cellW, 13, cellW-pad, t)
	}
	for i, e := range examples {
		if !tensorShapeIs(e.Clean, s) || !tensorShapeIs(e.Adv, s) {
			return nil, fmt.Errorf("example %d: images of shapes %v and %v, want %v", i, shapeOf(e.Clean), shapeOf(e.Adv), s)
		}
		delta := tensor.New[float32](s...)
		var m float64
		for j := range delta.Data() {
			v := float64(e.Adv.Data()[j]) - float64(e.Clean.Data()[j])
			m = math.Max(m, math.Abs(v))
		}
		amp := 0.0
		if m > 0 {
			amp = 0.5 / m
		}
		for j := range delta.Data() {
			delta.Data()[j] = float32(0.5 + amp*(float64(e.Adv.Data()[j])-float64(e.Clean.Data()[j])))
		}
		y0 := titleH + i*cellH
		for col, t := range []*tensor.Tensor{e.Clean, delta, e.Adv} {
			im, err := vision.ToImage(t)
			if err != nil {
				return nil, err
			}
			x0 := pad + col*cellW + (cellW-pad-w*k)/2
			frame := image.Rect(x0-1, y0-1, x0+w*k+1, y0+h*k+1)
			draw.Draw(grid, frame, image.NewUniform(color.Gray{Y: 160}), image.Point{}, draw.Src)
			for y := 0; y < h*k; y++ {
				for x := 0; x < w*k; x++ {
					grid.Set(x0+x, y0+y, im.At(x/k, y/k))
				}
			}
		}
		base := y0 + h*k + 12
		text(pad, base, cellW-pad, "label: "+name(e.Label))
		text(pad, base+13, cellW-pad, "pred: "+name(e.CleanPred))
		text(pad+cellW, base, cellW-pad, fmt.Sprintf("x%.3g, max %.3g", amp, m))
		text(pad+cellW, base+13, cellW-pad, fmt.Sprintf("eps %g", e.Eps))
		text(pad+2*cellW, base, cellW-pad, "pred: "+name(e.AdvPred))
		text(pad+2*cellW, base+13, cellW-pad, e.Attack)
	}
	return grid, nil
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
