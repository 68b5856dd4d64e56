package vision

import (
	"math"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// halves is a 1xHxW image, 0 on the left half and 1 on the right.
func halves(h, w int) *tensor.Tensor {
	x := tensor.Zeros(1, h, w)
	for y := 0; y < h; y++ {
		for i := w / 2; i < w; i++ {
			x.Set(1, 0, y, i)
		}
	}
	return x
}

func mean(d []float32) float64 {
	s := 0.0
	for _, v := range d {
		s += float64(v)
	}
	return s / float64(len(d))
}

func inUnit(t *testing.T, what string, d []float32) {
	t.Helper()
	for i, v := range d {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("%s: element %d is %v", what, i, v)
		}
	}
}

func TestResize(t *testing.T) {
	x := halves(5, 10)
	rng := tensor.NewRNG(1)
	cases := []struct {
		mode      ResizeMode
		h, w      int
		wantMean  float64
		wantShape []int
	}{
		{Squish, 5, 5, 0.5, []int{1, 5, 5}},
		// fastai's integer box: tl = int(0.5*(10-5)) = 2, so columns 2-6,
		// of which two are bright.
		{Crop, 5, 5, 0.4, []int{1, 5, 5}},
		{Pad, 10, 10, 0.5, []int{1, 10, 10}}, // reflection repeats the halves
	}
	for _, tc := range cases {
		y := Resize(tc.h, tc.w, tc.mode).TransformItem(x, rng, ValidSplit)
		if !slices.Equal(y.Shape(), tc.wantShape) {
			t.Errorf("%v: shape %v", tc.mode, y.Shape())
		}
		if m := mean(y.Data()); math.Abs(m-tc.wantMean) > 0.02 {
			t.Errorf("%v %dx%d: mean %v, want %v", tc.mode, tc.h, tc.w, m, tc.wantMean)
		}
		inUnit(t, tc.mode.String(), y.Data())
	}
	// Halving uses a widened triangle filter, as PIL: the halves stay
	// apart and symmetric.
	y := Resize(5, 5, Squish).TransformItem(x, nil, ValidSplit)
	l, r := y.At(0, 2, 0), y.At(0, 2, 4)
	if l > 0.05 || r < 0.95 || math.Abs(float64(l+r-1)) > 1e-6 || math.Abs(float64(y.At(0, 2, 2))-0.5) > 1e-6 {
		t.Errorf("squished row %v", y.Data()[10:15])
	}
	// The same size is the identity; training crops move with the RNG.
	if Resize(5, 10, Crop).TransformItem(x, rng, TrainSplit) != x {
		t.Error("same size: not the identity")
	}
	a := Resize(5, 5, Crop).TransformItem(x, tensor.NewRNG(1), TrainSplit)
	c := Resize(5, 5, Crop).TransformItem(x, tensor.NewRNG(1), TrainSplit)
	if !slices.Equal(a.Data(), c.Data()) {
		t.Error("same RNG, different crops")
	}
	// Images far thinner than the target (fastai's box would be empty).
	for _, s := range [][2]int{{1, 500}, {500, 1}, {1, 1}, {2, 3000}} {
		for _, mode := range []ResizeMode{Crop, Pad, Squish} {
			for _, split := range []Split{ValidSplit, TrainSplit} {
				y := Resize(7, 5, mode).TransformItem(tensor.Full[float32](0.25, 2, s[0], s[1]), tensor.NewRNG(3), split)
				if !slices.Equal(y.Shape(), []int{2, 7, 5}) {
					t.Fatalf("%v %dx%d: shape %v", mode, s[0], s[1], y.Shape())
				}
				for _, v := range y.Data() {
					if math.Abs(float64(v)-0.25) > 1e-6 {
						t.Fatalf("%v %dx%d: value %v", mode, s[0], s[1], v)
					}
				}
			}
		}
		y := RandomResizedCrop(7, 5, 0.08).TransformItem(tensor.Full[float32](0.5, 1, s[0], s[1]), tensor.NewRNG(1), TrainSplit)
		if !slices.Equal(y.Shape(), []int{1, 7, 5}) {
			t.Fatalf("RandomResizedCrop %dx%d: shape %v", s[0], s[1], y.Shape())
		}
	}
	// A wide image cropped on the left or right during training.
	seen := map[bool]bool{}
	for s := uint64(0); s < 20; s++ {
		seen[mean(Resize(5, 5, Crop).TransformItem(x, tensor.NewRNG(s), TrainSplit).Data()) > 0.5] = true
	}
	if len(seen) != 2 {
		t.Error("random crops never move")
	}
}

func TestRandomResizedCrop(t *testing.T) {
	x := tensor.Uniform[float32](tensor.NewRNG(2), 0, 1, 3, 20, 30)
	tf := RandomResizedCrop(8, 8, 0.08)
	shapes := map[string]bool{}
	for s := uint64(0); s < 30; s++ {
		y := tf.TransformItem(x, tensor.NewRNG(s), TrainSplit)
		if !slices.Equal(y.Shape(), []int{3, 8, 8}) {
			t.Fatalf("shape %v", y.Shape())
		}
		inUnit(t, "RandomResizedCrop", y.Data())
		shapes[string(rune(int(y.Data()[0]*1000)))] = true
	}
	if len(shapes) < 10 {
		t.Errorf("only %d distinct crops in 30", len(shapes))
	}
	v1 := tf.TransformItem(x, tensor.NewRNG(1), ValidSplit)
	v2 := tf.TransformItem(x, tensor.NewRNG(2), ValidSplit)
	if !slices.Equal(v1.Data(), v2.Data()) {
		t.Error("validation crop depends on the RNG")
	}
}

func TestCenterCrop(t *testing.T) {
	x := tensor.FromSlice([]float32{
		1, 2, 3, 4,
		5, 6, 7, 8,
		9, 10, 11, 12}, 1, 3, 4)
	y := CenterCrop(1, 2).TransformItem(x, nil, TrainSplit)
	if !slices.Equal(y.Data(), []float32{6, 7}) {
		t.Errorf("crop %v", y.Data())
	}
	y = CenterCrop(5, 4).TransformItem(x, nil, ValidSplit)
	if y.At(0, 0, 0) != 0 || y.At(0, 1, 0) != 1 || y.At(0, 4, 3) != 0 {
		t.Errorf("pad %v", y.Data())
	}
}

func TestAugmentKeepsRangeAndIdentity(t *testing.T) {
	ds := toyDataset(16)
	rngs := func() []*tensor.RNG {
		r := make([]*tensor.RNG, 16)
		for i := range r {
			r[i] = tensor.NewRNG(uint64(i))
		}
		return r
	}
	orig := ds.X.Clone()
	// Zero value, validation: nothing changes.
	x := ds.X.Clone()
	(&Augment{}).TransformBatch(x, rngs(), TrainSplit)
	AugTransforms().TransformBatch(x, rngs(), ValidSplit)
	RandomErasing{}.TransformBatch(x, rngs(), ValidSplit)
	if !slices.Equal(x.Data(), orig.Data()) {
		t.Error("zero Augment or validation changed the batch")
	}
	// Training: in [0,1], changed.
	x = ds.X.Clone()
	AugTransforms().TransformBatch(x, rngs(), TrainSplit)
	inUnit(t, "AugTransforms", x.Data())
	if slices.Equal(x.Data(), orig.Data()) {
		t.Error("AugTransforms changed nothing")
	}
	x = ds.X.Clone()
	RandomErasing{P: 1, MaxCount: 3}.TransformBatch(x, rngs(), TrainSplit)
	inUnit(t, "RandomErasing", x.Data())
	if slices.Equal(x.Data(), orig.Data()) {
		t.Error("RandomErasing changed nothing")
	}
}

func TestAugmentFlipIsExact(t *testing.T) {
	x := tensor.Uniform[float32](tensor.NewRNG(5), 0, 1, 1, 2, 4, 5)
	y := x.Clone()
	(&Augment{FlipP: 1}).TransformBatch(y, []*tensor.RNG{tensor.NewRNG(0)}, TrainSplit)
	for c := 0; c < 2; c++ {
		for r := 0; r < 4; r++ {
			for i := 0; i < 5; i++ {
				if d := y.At(0, c, r, i) - x.At(0, c, r, 4-i); math.Abs(float64(d)) > 1e-6 {
					t.Fatalf("(%d,%d,%d): %v, want %v", c, r, i, y.At(0, c, r, i), x.At(0, c, r, 4-i))
				}
			}
		}
	}
}

// TestAugmentConstant: reflection padding keeps a constant image constant
// under any rotation, zoom and warp (zero padding would not).
func TestAugmentConstant(t *testing.T) {
	x := tensor.Full[float32](0.3, 8, 3, 9, 7)
	rngs := make([]*tensor.RNG, 8)
	for i := range rngs {
		rngs[i] = tensor.NewRNG(uint64(i))
	}
	a := AugTransforms()
	a.MaxLighting = 0
	a.MaxRotate, a.MaxWarp, a.PAffine = 45, 0.4, 1
	a.MinZoom, a.MaxZoom = 0.7, 1.5
	a.TransformBatch(x, rngs, TrainSplit)
	for i, v := range x.Data() {
		if math.Abs(float64(v)-0.3) > 1e-5 {
			t.Fatalf("element %d: %v", i, v)
		}
	}
}

func TestLightingIsMonotone(t *testing.T) {
	x := tensor.Zeros(1, 1, 1, 11)
	for i := range x.Data() {
		x.Data()[i] = float32(i) / 10
	}
	a := &Augment{MaxLighting: 0.2, PLighting: 1}
	a.TransformBatch(x, []*tensor.RNG{tensor.NewRNG(9)}, TrainSplit)
	d := x.Data()
	for i := 1; i < len(d); i++ {
		if !(d[i] > d[i-1]) {
			t.Fatalf("not increasing: %v", d)
		}
	}
	inUnit(t, "lighting", d)
}

func TestPerspectiveCoeffs(t *testing.T) {
	from := [4][2]float64{{-1.1, -0.9}, {-0.8, 1.1}, {1.2, -1}, {0.9, 0.95}}
	to := [4][2]float64{{-1, -1}, {-1, 1}, {1, -1}, {1, 1}}
	c := perspectiveCoeffs(from, to)
	for i, p := range from {
		den := c[6]*p[0] + c[7]*p[1] + 1
		u := (c[0]*p[0] + c[1]*p[1] + c[2]) / den
		v := (c[3]*p[0] + c[4]*p[1] + c[5]) / den
		if math.Abs(u-to[i][0]) > 1e-9 || math.Abs(v-to[i][1]) > 1e-9 {
			t.Errorf("point %d maps to (%v,%v), want %v", i, u, v, to[i])
		}
	}
}

// TestTransformsKeepLabels runs the whole pipeline on a labelled data set and
// checks that each item's label is its own.
func TestTransformsKeepLabels(t *testing.T) {
	ds := toyDataset(32)
	dl := NewDataLoader(ds, TrainSplit, BatchSize(8),
		ItemTfms(RandomResizedCrop(6, 6, 0.5)), BatchTfms(AugTransforms(), RandomErasing{}))
	for _, b := range allBatches(t, dl, 0) {
		inUnit(t, "batch", b.X.Data())
		if !slices.Equal(b.X.Shape(), []int{8, 3, 6, 6}) {
			t.Fatalf("shape %v", b.X.Shape())
		}
		for k, i := range b.Index {
			if b.Y[k] != ds.Y[i] {
				t.Fatalf("item %d labelled %d, want %d", i, b.Y[k], ds.Y[i])
			}
		}
	}
}

// TestLightingTable checks the tabulated curve against the exact formula.
func TestLightingTable(t *testing.T) {
	for _, bc := range [][2]float64{{0, 1}, {0.4, 1}, {-0.4, 1}, {0.4, 0.8}, {-0.4, 1.25}, {0.2, 1 / 0.8}, {0, 0.8}, {-0.4, 0.8}} {
		x := make([]float32, 10001)
		for i := range x {
			x[i] = float32(i) / 10000
		}
		y := slices.Clone(x)
		lighting(y, bc[0], bc[1])
		worst := 0.0
		for i, v := range x {
			p := min(max(float64(v), 1e-7), 1-1e-7)
			want := 1 / (1 + math.Exp(-(math.Log(p/(1-p))+bc[0])*bc[1]))
			worst = max(worst, math.Abs(float64(y[i])-want))
		}
		if worst > 5e-5 {
			t.Errorf("b=%v c=%v: error %v", bc[0], bc[1], worst)
		}
	}
}

// TestRandomResizedCropBox checks the training boxes' distribution: inside
// the image, of between minScale and all of its area and an aspect ratio in
// [3/4, 4/3] (up to the rounding to whole pixels), spread over the image,
// and fastai's fallback when ten draws do not fit.
func TestRandomResizedCropBox(t *testing.T) {
	r := RandomResizedCrop(8, 8, 0.2).(*randomResizedCrop)
	const W, H = 40, 30
	var minA, maxA, minR, maxR = 2.0, 0.0, 9.0, 0.0
	left, right := 0, 0
	for s := uint64(0); s < 2000; s++ {
		x0, y0, cw, ch := r.box(W, H, tensor.NewRNG(s))
		if x0 < 0 || y0 < 0 || x0+cw > W || y0+ch > H || cw < 1 || ch < 1 {
			t.Fatalf("box (%d,%d)+%dx%d outside %dx%d", x0, y0, cw, ch, W, H)
		}
		a := float64(cw*ch) / (W * H)
		ratio := float64(cw) / float64(ch)
		minA, maxA = math.Min(minA, a), math.Max(maxA, a)
		minR, maxR = math.Min(minR, ratio), math.Max(maxR, ratio)
		if x0+cw/2 < W/2 {
			left++
		} else {
			right++
		}
	}
	if minA < 0.18 || minA > 0.25 || maxA < 0.9 || maxA > 1 {
		t.Errorf("areas in [%.3f, %.3f], want about [0.2, 1]", minA, maxA)
	}
	if minR < 0.7 || minR > 0.8 || maxR < 1.25 || maxR > 1.4 {
		t.Errorf("ratios in [%.3f, %.3f], want about [0.75, 1.33]", minR, maxR)
	}
	if left < 700 || right < 700 {
		t.Errorf("box centres %d left, %d right", left, right)
	}
	// A 100x5 strip fits no box of 90% of its area with a ratio in range:
	// fastai falls back to the centred (int(5*4/3)=6) x 5 box.
	if x0, y0, cw, ch := RandomResizedCrop(4, 4, 0.9).(*randomResizedCrop).box(100, 5, tensor.NewRNG(1)); x0 != 47 || y0 != 0 || cw != 6 || ch != 5 {
		t.Errorf("fallback box (%d,%d)+%dx%d, want (47,0)+6x5", x0, y0, cw, ch)
	}
	if x0, y0, cw, ch := RandomResizedCrop(4, 4, 0.9).(*randomResizedCrop).box(5, 100, tensor.NewRNG(1)); x0 != 0 || y0 != 47 || cw != 5 || ch != 6 {
		t.Errorf("tall fallback box (%d,%d)+%dx%d, want (0,47)+5x6 (int(5/0.75) = 6, (100-6)//2 = 47)", x0, y0, cw, ch)
	}
}

// TestAugmentDraws checks aug_transforms' draws: each part with its
// probability and within its range.
func TestAugmentDraws(t *testing.T) {
	a := AugTransforms()
	const n = 20000
	var flips, warpX, warpY, rot, zoom, bright, contrast int
	for s := uint64(0); s < n; s++ {
		p := a.draw(tensor.NewRNG(s))
		if p.dihedral == 1 {
			flips++
		} else if p.dihedral != 0 {
			t.Fatalf("dihedral %d without FlipVert", p.dihedral)
		}
		count := func(v, neutral, lo, hi float64, c *int) {
			if v != neutral {
				*c++
				if v < lo || v > hi {
					t.Fatalf("draw %+v: %v outside [%v, %v]", p, v, lo, hi)
				}
			}
		}
		count(p.warpX, 0, -0.2, 0.2, &warpX)
		count(p.warpY, 0, -0.2, 0.2, &warpY)
		count(p.rotate, 0, -10, 10, &rot)
		count(p.zoom, 1, 1, 1.1, &zoom)
		count(p.brightness, 0.5, 0.4, 0.6, &bright)
		count(p.contrast, 1, 0.8, 1.25, &contrast)
	}
	for _, c := range []struct {
		name string
		got  int
		p    float64
	}{{"flip", flips, 0.5}, {"warp x", warpX, 0.75}, {"warp y", warpY, 0.75}, {"rotate", rot, 0.75},
		{"zoom", zoom, 0.75}, {"brightness", bright, 0.75}, {"contrast", contrast, 0.75}} {
		// Four standard deviations of a binomial.
		if sd := math.Sqrt(n * c.p * (1 - c.p)); math.Abs(float64(c.got)-n*c.p) > 4*sd {
			t.Errorf("%s drawn %d times in %d, want about %.0f", c.name, c.got, n, n*c.p)
		}
	}
	// Dihedral: the eight maps, equally often.
	a.FlipVert, a.FlipP = true, 1
	var ks [8]int
	for s := uint64(0); s < 8000; s++ {
		ks[a.draw(tensor.NewRNG(s)).dihedral]++
	}
	for k, c := range ks {
		if c < 850 || c > 1150 {
			t.Errorf("dihedral %d drawn %d times in 8000", k, c)
		}
	}
}

func TestFastExp(t *testing.T) {
	worst := 0.0
	for x := -50.0; x <= 50; x += 0.0137 {
		got, want := fastExp(x), math.Exp(x)
		worst = math.Max(worst, math.Abs(got-want)/want)
	}
	if worst > 1e-8 {
		t.Errorf("relative error %g", worst)
	}
	if fastExp(800) != math.Inf(1) || fastExp(-800) != 0 || !math.IsNaN(fastExp(math.NaN())) || fastExp(0) != 1 {
		t.Error("special values")
	}
}
