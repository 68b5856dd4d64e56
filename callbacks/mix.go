package callbacks

import (
	"fmt"
	"image"
	"math"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
)

// perItemCrossEntropy is the default per-item loss of MixUp and CutMix.
func perItemCrossEntropy(pred *autograd.Value, targets []int) *autograd.Value {
	return autograd.CrossEntropy(pred, targets, autograd.ReductionNone)
}

// MixUp trains on convex combinations of pairs of items (Zhang et al.,
// "mixup: Beyond Empirical Risk Minimization"), as fastai's MixUp: before
// each training batch it draws for every item i a weight lam_i from
// Beta(Alpha, Alpha), replaced by max(lam_i, 1-lam_i) so that the item
// itself dominates, pairs the batch with a shuffle of itself (Perm), and
// replaces the inputs with
//
//	x_i = lam_i*x_i + (1-lam_i)*x_Perm[i]
//
// The batch's loss becomes the mean over items of
// lam_i*loss(pred_i, y_i) + (1-lam_i)*loss(pred_i, y_Perm[i]), through
// Learner.LossFuncOverride; the targets in YB are left as they are.
// Validation batches are untouched.
type MixUp struct {
	// Alpha is the Beta distribution's parameter (0 means 0.4).
	Alpha float64
	// Seed seeds the callback's random draws; the same seed gives the same
	// run.
	Seed uint64
	// Loss is the per-item loss, returning one value per item (default:
	// cross-entropy with no reduction).
	Loss learner.LossFunc

	// Lam and Perm are the current training batch's weights and pairing,
	// set in BeforeBatch.
	Lam  []float64
	Perm []int

	mixer
}

// Order runs MixUp before the other callbacks see the batch.
func (c *MixUp) Order() int { return 0 }

// Name names the callback.
func (c *MixUp) Name() string { return "MixUp" }

// Handle mixes each training batch.
func (c *MixUp) Handle(l *learner.Learner, e learner.Event) error {
	alpha, ok := c.begin(l, e, c.Seed, c.Alpha, 0.4)
	if !ok {
		return nil
	}
	x := l.XB.Data()
	n := len(l.YB)
	if x.Rank() == 0 || x.Dim(0) != n {
		return fmt.Errorf("callbacks.MixUp: inputs of shape %v for %d targets", x.Shape(), n)
	}
	c.Lam = make([]float64, n)
	for i := range c.Lam {
		lam := betaSample(c.rng, alpha, alpha)
		c.Lam[i] = max(lam, 1-lam)
	}
	c.Perm = c.rng.Perm(n)
	row := x.Len() / max(n, 1)
	src := x.Data()
	out := tensor.New[float32](x.Shape()...)
	dst := out.Data()
	for i, j := range c.Perm {
		a, b := float32(c.Lam[i]), float32(1-c.Lam[i])
		xi, xj, oi := src[i*row:(i+1)*row], src[j*row:(j+1)*row], dst[i*row:(i+1)*row]
		for k := range oi {
			oi[k] = a*xi[k] + b*xj[k]
		}
	}
	l.XB = autograd.Const(out)
	y2 := make([]int, n)
	for i, j := range c.Perm {
		y2[i] = l.YB[j]
	}
	lam32 := make([]float32, n)
	for i, v := range c.Lam {
		lam32[i] = float32(v)
	}
	lamV := autograd.Const(tensor.FromSlice(lam32, n))
	lossFn := c.Loss
	if lossFn == nil {
		lossFn = perItemCrossEntropy
	}
	l.LossFuncOverride = func(pred *autograd.Value, y []int) *autograd.Value {
		// lerp(loss(y2), loss(y), lam) = loss(y2) + lam*(loss(y) - loss(y2))
		a, b := lossFn(pred, y), lossFn(pred, y2)
		return autograd.MeanAll(autograd.Add(b, autograd.Mul(lamV, autograd.Sub(a, b))))
	}
	return nil
}

// CutMix pastes a rectangle of another item into each item (Yun et al.,
// "CutMix: Regularization Strategy to Train Strong Classifiers with
// Localizable Features"), as fastai's CutMix: before each training batch it
// draws one lam from Beta(Alpha, Alpha), shuffles the batch (Perm), and
// copies into every image [N,C,H,W] the box Box of its partner, a box of
// about (1-lam) of the image's area centred on a uniform point and clipped
// to the image. lam then becomes the fraction of the image left untouched,
// 1 - Box's area/(H*W), and the batch's loss is the mean over items of
// lam*loss(pred_i, y_i) + (1-lam)*loss(pred_i, y_Perm[i]). Validation
// batches are untouched.
type CutMix struct {
	// Alpha is the Beta distribution's parameter (0 means 1).
	Alpha float64
	// Seed seeds the callback's random draws.
	Seed uint64
	// Loss is the per-item loss (default: cross-entropy with no reduction).
	Loss learner.LossFunc

	// Lam, Perm and Box are the current training batch's draw: the
	// fraction of each image kept, the pairing, and the pasted box in
	// pixel coordinates (x across W, y across H).
	Lam  float64
	Perm []int
	Box  image.Rectangle

	mixer
}

// Order runs CutMix before the other callbacks see the batch.
func (c *CutMix) Order() int { return 0 }

// Name names the callback.
func (c *CutMix) Name() string { return "CutMix" }

// Handle cuts and pastes each training batch.
func (c *CutMix) Handle(l *learner.Learner, e learner.Event) error {
	alpha, ok := c.begin(l, e, c.Seed, c.Alpha, 1)
	if !ok {
		return nil
	}
	x := l.XB.Data()
	n := len(l.YB)
	if x.Rank() != 4 || x.Dim(0) != n {
		return fmt.Errorf("callbacks.CutMix: inputs of shape %v for %d targets, want [N,C,H,W]", x.Shape(), n)
	}
	ch, h, w := x.Dim(1), x.Dim(2), x.Dim(3)
	lam := betaSample(c.rng, alpha, alpha)
	c.Perm = c.rng.Perm(n)
	c.Box = randBox(c.rng, w, h, lam)
	c.Lam = 1 - float64(c.Box.Dx()*c.Box.Dy())/float64(w*h)
	out := x.Clone()
	src, dst := x.Data(), out.Data()
	plane, item := h*w, ch*h*w
	for i, j := range c.Perm {
		for k := 0; k < ch; k++ {
			for y := c.Box.Min.Y; y < c.Box.Max.Y; y++ {
				o := i*item + k*plane + y*w
				s := j*item + k*plane + y*w
				copy(dst[o+c.Box.Min.X:o+c.Box.Max.X], src[s+c.Box.Min.X:s+c.Box.Max.X])
			}
		}
	}
	l.XB = autograd.Const(out)
	y2 := make([]int, n)
	for i, j := range c.Perm {
		y2[i] = l.YB[j]
	}
	lossFn := c.Loss
	if lossFn == nil {
		lossFn = perItemCrossEntropy
	}
	lam32 := float32(c.Lam)
	l.LossFuncOverride = func(pred *autograd.Value, y []int) *autograd.Value {
		a, b := lossFn(pred, y), lossFn(pred, y2)
		return autograd.MeanAll(autograd.Add(b, autograd.MulScalar(autograd.Sub(a, b), lam32)))
	}
	return nil
}

// randBox is fastai's rand_bbox: a box of sides round(W*sqrt(1-lam)) and
// round(H*sqrt(1-lam)) centred on a uniform pixel, clipped to the image.
func randBox(rng *tensor.RNG, w, h int, lam float64) image.Rectangle {
	cut := math.Sqrt(1 - lam)
	cw, chh := int(math.RoundToEven(float64(w)*cut)), int(math.RoundToEven(float64(h)*cut))
	cx, cy := rng.IntN(w), rng.IntN(h)
	clamp := func(v, hi int) int { return min(max(v, 0), hi) }
	return image.Rectangle{
		Min: image.Point{X: clamp(cx-cw/2, w), Y: clamp(cy-chh/2, h)},
		Max: image.Point{X: clamp(cx+cw/2, w), Y: clamp(cy+chh/2, h)},
	}
}

// gammaSample draws from Gamma(a, 1) by Marsaglia and Tsang's method ("A
// Simple Method for Generating Gamma Variables", 2000), boosting a < 1
// with Gamma(a+1) * U^(1/a).
func gammaSample(rng *tensor.RNG, a float64) float64 {
	if a < 1 {
		u := 1 - rng.Float64() // in (0, 1]
		return gammaSample(rng, a+1) * math.Pow(u, 1/a)
	}
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// betaSample draws from Beta(a, b) as X/(X+Y) with X ~ Gamma(a) and
// Y ~ Gamma(b).
func betaSample(rng *tensor.RNG, a, b float64) float64 {
	for {
		x, y := gammaSample(rng, a), gammaSample(rng, b)
		if s := x + y; s > 0 {
			return x / s
		}
	}
}

// mixer is the start MixUp and CutMix share.
type mixer struct {
	rng *tensor.RNG
}

// begin reports whether e is a training batch's BeforeBatch, the only
// event the mixing callbacks act on; then it makes the generator from seed
// on first use and returns alpha, or def when alpha is 0.
func (m *mixer) begin(l *learner.Learner, e learner.Event, seed uint64, alpha, def float64) (float64, bool) {
	if e != learner.BeforeBatch || !l.Training {
		return 0, false
	}
	if m.rng == nil {
		m.rng = tensor.NewRNG(seed)
	}
	if alpha == 0 {
		alpha = def
	}
	return alpha, true
}
