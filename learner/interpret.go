package learner

import (
	"context"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"

	"github.com/fastgo-ml/fastgo/render"
)

// ClassificationInterpretation explains a classifier's mistakes on a data
// set, as fastai's ClassificationInterpretation: the confusion matrix, the
// most confused pairs of classes and the items with the largest losses.
// Build it with NewClassificationInterpretation.
type ClassificationInterpretation struct {
	// Classes are the class names (Data.Classes, or the indices as text).
	Classes []string
	// Preds holds the predictions, inputs and per-item losses, in dataset
	// order.
	Preds *Preds
}

// NewClassificationInterpretation runs the model over the validation loader
// (or OnLoader's) and keeps its predictions, inputs and per-item losses
// (fastai's ClassificationInterpretation.from_learner).
func NewClassificationInterpretation(ctx context.Context, l *Learner, opts ...Option) (*ClassificationInterpretation, error) {
	dl := resolve("NewClassificationInterpretation", inPreds, opts).loader
	popts := []Option{WithInput(), WithLoss()}
	if dl != nil {
		popts = append(popts, OnLoader(dl))
	}
	p, err := l.GetPreds(ctx, popts...)
	if err != nil {
		return nil, err
	}
	classes := append([]string(nil), l.Data.Classes()...)
	for c := len(classes); c < p.Probs.Dim(1); c++ {
		classes = append(classes, strconv.Itoa(c))
	}
	return &ClassificationInterpretation{Classes: classes, Preds: p}, nil
}

// ConfusionMatrix returns the counts cm[actual][predicted] over the items
// (items whose target is outside the classes, such as unlabelled ones, are
// left out).
func (ci *ClassificationInterpretation) ConfusionMatrix() [][]int {
	n := len(ci.Classes)
	cm := make([][]int, n)
	for i := range cm {
		cm[i] = make([]int, n)
	}
	for i, t := range ci.Preds.Targets {
		if d := ci.Preds.Decoded[i]; t >= 0 && t < n && d >= 0 && d < n {
			cm[t][d]++
		}
	}
	return cm
}

// Confusion is one off-diagonal cell of the confusion matrix.
type Confusion struct {
	// Actual and Predicted are the class names of the cell.
	Actual, Predicted string
	// Count is the number of items of class Actual predicted as Predicted.
	Count int
}

// MostConfused returns the off-diagonal cells with at least minVal items,
// largest first (ties in row-major order), as fastai's most_confused.
func (ci *ClassificationInterpretation) MostConfused(minVal int) []Confusion {
	var out []Confusion
	for i, row := range ci.ConfusionMatrix() {
		for j, v := range row {
			if i != j && v >= minVal && v > 0 {
				out = append(out, Confusion{ci.Classes[i], ci.Classes[j], v})
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Count > out[b].Count })
	return out
}

// TopLosses returns the k largest per-item losses (every item when k <= 0)
// and the items' positions in Preds, largest first, ties by position
// (fastai's top_losses).
func (ci *ClassificationInterpretation) TopLosses(k int) (losses []float64, idx []int) {
	return ci.sortedLosses(k, true)
}

// SmallestLosses returns the k smallest per-item losses (every item when
// k <= 0) and the items' positions in Preds, smallest first, ties by
// position (fastai's top_losses(largest=False)).
func (ci *ClassificationInterpretation) SmallestLosses(k int) (losses []float64, idx []int) {
	return ci.sortedLosses(k, false)
}

func (ci *ClassificationInterpretation) sortedLosses(k int, largest bool) (losses []float64, idx []int) {
	ls := ci.Preds.Losses
	idx = make([]int, len(ls))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if largest {
			return ls[idx[a]] > ls[idx[b]]
		}
		return ls[idx[a]] < ls[idx[b]]
	})
	if k > 0 && k < len(idx) {
		idx = idx[:k]
	}
	losses = make([]float64, len(idx))
	for i, j := range idx {
		losses[i] = ls[j]
	}
	return losses, idx
}

// cmGrid is the confusion matrix as a gonum/plot grid, actual class 0 on
// the top row.
type cmGrid struct{ v [][]float64 }

func (g cmGrid) Dims() (c, r int)   { return len(g.v), len(g.v) }
func (g cmGrid) Z(c, r int) float64 { return g.v[len(g.v)-1-r][c] }
func (g cmGrid) X(c int) float64    { return float64(c) }
func (g cmGrid) Y(r int) float64    { return float64(r) }

// blues is a white-to-blue palette, as matplotlib's "Blues".
type blues int

func (b blues) Colors() []color.Color {
	out := make([]color.Color, int(b))
	lo, hi := [3]float64{247, 251, 255}, [3]float64{8, 48, 107}
	for i := range out {
		t := float64(i) / float64(max(int(b)-1, 1))
		var c [3]uint8
		for k := range c {
			c[k] = uint8(math.Round(lo[k] + t*(hi[k]-lo[k])))
		}
		out[i] = color.RGBA{c[0], c[1], c[2], 255}
	}
	return out
}

// PlotConfusionMatrix writes a PNG of the confusion matrix, actual classes
// down, predicted across, each cell shaded and labelled with its count (with
// Normalized, each row is divided by its total and shown with 2 decimals),
// as fastai's plot_confusion_matrix.
func (ci *ClassificationInterpretation) PlotConfusionMatrix(path string, opts ...Option) error {
	normalize := resolve("PlotConfusionMatrix", inPlot, opts).normalize
	cm := ci.ConfusionMatrix()
	n := len(cm)
	if n == 0 {
		return fmt.Errorf("learner: PlotConfusionMatrix %s: no classes", path)
	}
	v := make([][]float64, n)
	maxV := 0.0
	for i, row := range cm {
		v[i] = make([]float64, n)
		tot := 0
		for _, c := range row {
			tot += c
		}
		for j, c := range row {
			v[i][j] = float64(c)
			if normalize {
				v[i][j] = 0
				if tot > 0 {
					v[i][j] = float64(c) / float64(tot)
				}
			}
			maxV = math.Max(maxV, v[i][j])
		}
	}
	p := plot.New()
	p.Title.Text = "Confusion matrix"
	p.X.Label.Text = "Predicted"
	p.Y.Label.Text = "Actual"
	hm := plotter.NewHeatMap(cmGrid{v}, blues(64))
	hm.Min, hm.Max = 0, math.Max(maxV, 1e-12)
	p.Add(hm)
	var xys plotter.XYs
	var labels []string
	for i := range v {
		for j := range v[i] {
			xys = append(xys, plotter.XY{X: float64(j), Y: float64(n - 1 - i)})
			if normalize {
				labels = append(labels, strconv.FormatFloat(v[i][j], 'f', 2, 64))
			} else {
				labels = append(labels, strconv.Itoa(cm[i][j]))
			}
		}
	}
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return err
	}
	for k := range lb.TextStyle {
		lb.TextStyle[k].XAlign, lb.TextStyle[k].YAlign = text.XCenter, text.YCenter
		lb.TextStyle[k].Color = color.Black
		if v[k/n][k%n] > maxV/2 {
			lb.TextStyle[k].Color = color.White
		}
	}
	p.Add(lb)
	xt, yt := make(plot.ConstantTicks, n), make(plot.ConstantTicks, n)
	for i, c := range ci.Classes[:n] {
		xt[i] = plot.Tick{Value: float64(i), Label: c}
		yt[i] = plot.Tick{Value: float64(n - 1 - i), Label: c}
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = xt, yt
	p.X.Tick.Label.Rotation = math.Pi / 2
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = text.XRight, text.YCenter
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5, -0.5, float64(n)-0.5
	side := vg.Length(max(4, 0.6*float64(n)+2)) * vg.Inch
	return render.SavePlot(path, p, side, side)
}

// PlotTopLosses writes a PNG grid of the k items with the largest losses,
// each titled, as fastai's plot_top_losses, with
//
//	predicted/actual
//	loss / probability of the predicted class
//
// Inputs are [C,H,W] pixels in [0,1]: one channel is drawn grey, three as
// RGB (others as their first channel). Small images are scaled up.
func (ci *ClassificationInterpretation) PlotTopLosses(path string, k int) error {
	in := ci.Preds.Inputs
	if in == nil || in.Rank() != 4 {
		return fmt.Errorf("learner: PlotTopLosses %s: the inputs are not images [N,C,H,W]", path)
	}
	losses, idx := ci.TopLosses(k)
	if len(idx) == 0 {
		return fmt.Errorf("learner: PlotTopLosses %s: no item", path)
	}
	titles := make([][2]string, len(idx))
	for i, j := range idx {
		pred, act := ci.Preds.Decoded[j], ci.Preds.Targets[j]
		prob := ci.Preds.Probs.Data()[j*ci.Preds.Probs.Dim(1)+pred]
		titles[i] = [2]string{ci.className(pred) + "/" + ci.className(act), fmt.Sprintf("%.2f / %.2f", losses[i], prob)}
	}
	items := render.Items(in)
	cells := make([]render.Cell, len(idx))
	for i, j := range idx {
		cells[i] = render.Cell{Image: items[j], Caption: titles[i][:]}
	}
	img, err := render.Grid(render.Square(cells), render.Title("Prediction/Actual/Loss/Probability"), render.MinSide(112))
	if err != nil {
		return fmt.Errorf("learner: PlotTopLosses %s: %w", path, err)
	}
	return render.WritePNG(path, img)
}

func (ci *ClassificationInterpretation) className(i int) string {
	if i >= 0 && i < len(ci.Classes) {
		return ci.Classes[i]
	}
	return strconv.Itoa(i)
}
