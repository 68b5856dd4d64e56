package vision

import (
	"math"

	"github.com/fastgo-ml/fastgo/tensor"
)

// Augment is fastai's aug_transforms as one batch transform, applied to
// training batches only. Each image gets its own random draw from its item's
// generator: a flip (or, with FlipVert, one of the eight dihedral maps), a
// perspective warp, a rotation and a zoom about a random centre. As in
// fastai after setup_aug_tfms, the affine parts are multiplied into one
// matrix (flip·rotate·zoom, its shear terms corrected for the aspect ratio),
// the warp is applied to the coordinates it gives, and each image is sampled
// once through the result (bilinear, reflection padding, align_corners=True,
// as PyTorch's grid_sample). Then brightness and contrast change in logit
// space, y = sigmoid((logit(x) + logit(b)) * c), so pixels stay in [0,1].
// The output matches fastai's pipeline in PyTorch for the same draws (see
// testdata/augment_parity.json).
//
// The zero value changes nothing; AugTransforms returns fastai's defaults.
// Draws are per image (fastai's batch=False); the output keeps the input's
// size (fastai's size=None).
type Augment struct {
	FlipP       float64 // probability of a horizontal flip (0.5)
	FlipVert    bool    // also flip vertically and transpose (fastai's Dihedral)
	MaxRotate   float64 // rotation in degrees, uniform in [-MaxRotate, MaxRotate] (10)
	MinZoom     float64 // zoom factor, uniform in [MinZoom, MaxZoom] (1)
	MaxZoom     float64 // (1.1)
	MaxWarp     float64 // perspective warp magnitude (0.2)
	MaxLighting float64 // brightness and contrast change (0.2)
	PAffine     float64 // probability of each of warp, rotation and zoom (0.75)
	PLighting   float64 // probability of each of brightness and contrast (0.75)
}

// AugTransforms returns fastai's aug_transforms() defaults: flip p=0.5,
// rotate ±10°, zoom 1-1.1, warp 0.2 and lighting 0.2, each with p=0.75.
func AugTransforms() *Augment {
	return &Augment{
		FlipP: 0.5, MaxRotate: 10, MinZoom: 1, MaxZoom: 1.1,
		MaxWarp: 0.2, MaxLighting: 0.2, PAffine: 0.75, PLighting: 0.75,
	}
}

// augParams are one image's random choices, in fastai's terms. Their
// neutral values (the zero dihedral, warp 0, rotation 0, zoom 1, brightness
// 0.5, contrast 1) change nothing.
type augParams struct {
	dihedral     int     // fastai's dihedral index 0-7; a horizontal flip is 1
	warpX, warpY float64 // fastai's Warp x_t and y_t
	rotate       float64 // degrees
	zoom         float64 // fastai's Zoom scale
	col, row     float64 // the zoom's centre, as fractions of the width and height
	brightness   float64 // fastai's Brightness change (0.5 is none)
	contrast     float64 // fastai's Contrast change (1 is none)
}

// augDraw is what augParams mean for one image size.
type augDraw struct {
	m        [6]float64 // affine map of normalised output to input coordinates
	warp     bool
	coeffs   [8]float64 // the perspective warp applied after m
	resample bool
	light    bool
	logitB   float64 // logit of the brightness change
	contrast float64
}

// draw makes one image's random choices, always in the same order. Each
// part is drawn with its probability, as fastai's per-item masks: flip with
// FlipP, the warp's x and y magnitudes, the rotation and the zoom each with
// PAffine, brightness and contrast each with PLighting.
func (a *Augment) draw(rng *tensor.RNG) augParams {
	p := augParams{zoom: 1, col: 0.5, row: 0.5, brightness: 0.5, contrast: 1}
	if rng.Float64() < a.FlipP {
		p.dihedral = 1
		if a.FlipVert {
			p.dihedral = rng.IntN(8)
		}
	}
	if rng.Float64() < a.PAffine {
		p.warpX = a.MaxWarp * (2*rng.Float64() - 1)
	}
	if rng.Float64() < a.PAffine {
		p.warpY = a.MaxWarp * (2*rng.Float64() - 1)
	}
	if rng.Float64() < a.PAffine {
		p.rotate = a.MaxRotate * (2*rng.Float64() - 1)
	}
	if rng.Float64() < a.PAffine && a.MaxZoom > 0 && (a.MinZoom != 1 || a.MaxZoom != 1) {
		p.zoom = a.MinZoom + (a.MaxZoom-a.MinZoom)*rng.Float64()
		p.col, p.row = rng.Float64(), rng.Float64()
	}
	if a.MaxLighting > 0 && a.MaxLighting < 1 {
		if rng.Float64() < a.PLighting {
			p.brightness = 0.5 * (1 + a.MaxLighting*(2*rng.Float64()-1))
		}
		if rng.Float64() < a.PLighting {
			l := math.Log(1 - a.MaxLighting)
			p.contrast = math.Exp(l + (-2*l)*rng.Float64())
		}
	}
	return p
}

// fastai's dihedral_mat tables: element k is [[xs*m0, xs*m1], [ys*m1, ys*m0]].
var (
	dihedralXS = [8]float64{1, -1, 1, -1, -1, 1, 1, -1}
	dihedralYS = [8]float64{1, 1, -1, 1, -1, -1, 1, -1}
	dihedralM0 = [8]float64{1, 1, 1, 0, 1, 0, 0, 0}
	dihedralM1 = [8]float64{0, 0, 0, 1, 0, 1, 1, 1}
)

// compose turns p into one coordinate map for an H x W image, as fastai's
// AffineCoordTfm after setup_aug_tfms has merged Flip, Warp, Rotate and Zoom:
// the affine matrix flip·rotate·zoom, its off-diagonal terms corrected for
// the aspect ratio (fastai's _prepare_mat), then the perspective warp.
func (p augParams) compose(H, W int) augDraw {
	var d augDraw
	k := p.dihedral & 7
	xs, ys, m0, m1 := dihedralXS[k], dihedralYS[k], dihedralM0[k], dihedralM1[k]
	m := [9]float64{xs * m0, xs * m1, 0, ys * m1, ys * m0, 0, 0, 0, 1}
	if p.rotate != 0 {
		t := p.rotate * math.Pi / 180
		c, s := math.Cos(t), math.Sin(t)
		m = mul3(m, [9]float64{c, s, 0, -s, c, 0, 0, 0, 1})
	}
	if p.zoom != 1 && p.zoom > 0 {
		s := 1 / p.zoom
		m = mul3(m, [9]float64{s, 0, (1 - s) * (2*p.col - 1), 0, s, (1 - s) * (2*p.row - 1), 0, 0, 1})
	}
	m[1] *= float64(H) / float64(W)
	m[3] *= float64(W) / float64(H)
	copy(d.m[:], m[:6])
	d.resample = d.m != [6]float64{1, 0, 0, 0, 1, 0}
	if xm, ym := p.warpX, p.warpY; xm != 0 || ym != 0 {
		d.warp, d.resample = true, true
		d.coeffs = perspectiveCoeffs(
			[4][2]float64{{-1 - ym, -1 - xm}, {-1 + ym, 1 + xm}, {1 + ym, -1 + xm}, {1 - ym, 1 - xm}},
			[4][2]float64{{-1, -1}, {-1, 1}, {1, -1}, {1, 1}})
	}
	d.contrast = p.contrast
	if p.brightness != 0.5 || p.contrast != 1 {
		d.light = true
		d.logitB = math.Log(p.brightness / (1 - p.brightness))
	}
	return d
}

func mul3(a, b [9]float64) (c [9]float64) {
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			c[3*i+j] = a[3*i]*b[j] + a[3*i+1]*b[3+j] + a[3*i+2]*b[6+j]
		}
	}
	return c
}

// perspectiveCoeffs returns the 8 coefficients of the perspective map that
// sends each point of from to the matching point of to: x' = (c0 x + c1 y +
// c2)/(c6 x + c7 y + 1), y' likewise with c3, c4, c5. fastai's
// find_coeffs(orig, targ) solves the same system: its coefficients send the
// target corners to the original ones, and images are sampled through them.
func perspectiveCoeffs(from, to [4][2]float64) [8]float64 {
	var a [8][9]float64
	for i := 0; i < 4; i++ {
		x, y := from[i][0], from[i][1]
		u, v := to[i][0], to[i][1]
		a[2*i] = [9]float64{x, y, 1, 0, 0, 0, -u * x, -u * y, u}
		a[2*i+1] = [9]float64{0, 0, 0, x, y, 1, -v * x, -v * y, v}
	}
	// Gaussian elimination with partial pivoting.
	for c := 0; c < 8; c++ {
		p := c
		for r := c + 1; r < 8; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p] = a[p], a[c]
		if a[c][c] == 0 {
			return [8]float64{1, 0, 0, 0, 1, 0, 0, 0} // degenerate: identity
		}
		for r := 0; r < 8; r++ {
			if r == c {
				continue
			}
			f := a[r][c] / a[c][c]
			for k := c; k < 9; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	var out [8]float64
	for i := range out {
		out[i] = a[i][8] / a[i][i]
	}
	return out
}

// TransformBatch applies the augmentation to each image of a training batch:
// one resampling per image, through the composed map, then the lighting.
func (a *Augment) TransformBatch(x *tensor.Tensor, rngs []*tensor.RNG, split Split) {
	train := split == TrainSplit
	if !train || rngs == nil {
		return
	}
	s := x.Shape()
	C, H, W := s[1], s[2], s[3]
	n := C * H * W
	var scratch []float32
	for i, rng := range rngs {
		d := a.draw(rng).compose(H, W)
		img := x.Data()[i*n : (i+1)*n]
		if d.resample {
			if scratch == nil {
				scratch = make([]float32, n)
			}
			warpImage(scratch, img, C, H, W, &d)
			copy(img, scratch)
		}
		if d.light {
			lighting(img, d.logitB, d.contrast)
		}
	}
}

// warpImage samples src through the draw's coordinate map into dst.
func warpImage(dst, src []float32, C, H, W int, d *augDraw) {
	plane := H * W
	sx := 0.0
	if W > 1 {
		sx = 2 / float64(W-1)
	}
	sy := 0.0
	if H > 1 {
		sy = 2 / float64(H-1)
	}
	m := d.m
	lastX, lastY := float64(W-1), float64(H-1)
	hx, hy := lastX/2, lastY/2
	for py := 0; py < H; py++ {
		v := -1 + float64(py)*sy
		if H == 1 {
			v = 0
		}
		for px := 0; px < W; px++ {
			u := -1 + float64(px)*sx
			if W == 1 {
				u = 0
			}
			xu := m[0]*u + m[1]*v + m[2]
			yv := m[3]*u + m[4]*v + m[5]
			if d.warp {
				c := &d.coeffs
				den := c[6]*xu + c[7]*yv + 1
				if den == 0 {
					den = 1e-12
				}
				xu, yv = (c[0]*xu+c[1]*yv+c[2])/den, (c[3]*xu+c[4]*yv+c[5])/den
			}
			// align_corners=True: -1 and 1 are the centres of the edge pixels.
			fx, fy := (xu+1)*hx, (yv+1)*hy
			if !(fx >= 0 && fx <= lastX) {
				fx = reflectCoord(fx, W)
			}
			if !(fy >= 0 && fy <= lastY) {
				fy = reflectCoord(fy, H)
			}
			x0, y0 := int(fx), int(fy)
			x1, y1 := min(x0+1, W-1), min(y0+1, H-1)
			ax, ay := float32(fx-float64(x0)), float32(fy-float64(y0))
			w00 := (1 - ax) * (1 - ay)
			w01 := ax * (1 - ay)
			w10 := (1 - ax) * ay
			w11 := ax * ay
			o := py*W + px
			i00, i01, i10, i11 := y0*W+x0, y0*W+x1, y1*W+x0, y1*W+x1
			for c := 0; c < C; c++ {
				p := src[c*plane : (c+1)*plane]
				dst[c*plane+o] = w00*p[i00] + w01*p[i01] + w10*p[i10] + w11*p[i11]
			}
		}
	}
}

// reflectCoord reflects a pixel coordinate into [0, n-1] (PyTorch's
// reflection padding with align_corners=True).
func reflectCoord(x float64, n int) float64 {
	last := float64(n - 1)
	if x >= 0 && x <= last {
		return x
	}
	if n <= 1 || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	x = math.Abs(x)
	p := 2 * last
	x = math.Mod(x, p)
	if x > last {
		x = p - x
	}
	return min(max(x, 0), last)
}

// lightingTable is the resolution of lighting's lookup table.
const lightingTable = 512

// logitTable holds logit(clamp(i/lightingTable, 1e-7, 1-1e-7)).
var logitTable = func() (t [lightingTable + 1]float64) {
	for i := range t {
		p := min(max(float64(i)/lightingTable, 1e-7), 1-1e-7)
		t[i] = math.Log(p / (1 - p))
	}
	return t
}()

// lighting applies y = sigmoid((logit(x) + b) * c) with fastai's clamping of
// x to [1e-7, 1-1e-7]. Without a contrast change (c = 1) that is exactly
// x / (x + e^-b (1-x)). Otherwise the curve is tabulated at
// lightingTable+1 points, one exponential each, and interpolated linearly
// (error below 5e-5, an eightieth of an 8-bit level), except near 0 and 1
// where x^c is too steep for the table and the formula is evaluated.
func lighting(img []float32, b, c float64) {
	if c == 1 {
		k := float32(math.Exp(-b))
		for i, v := range img {
			v = min(max(v, 1e-7), 1-1e-7)
			img[i] = v / (v + k*(1-v))
		}
		return
	}
	var lut [lightingTable + 1]float32
	for i := range lut {
		lut[i] = float32(1 / (1 + fastExp(-(logitTable[i]+b)*c)))
	}
	kc := math.Exp(-b * c)
	for i, v := range img {
		v = min(max(v, 0), 1) * lightingTable
		k := int(v)
		switch {
		case k >= lightingTable:
			img[i] = lut[lightingTable]
		case k >= 4 && k < lightingTable-4:
			f := v - float32(k)
			img[i] = lut[k] + f*(lut[k+1]-lut[k])
		case v == 0:
			img[i] = lut[0]
		default:
			p := min(max(float64(v)/lightingTable, 1e-7), 1-1e-7)
			img[i] = float32(1 / (1 + kc*math.Pow((1-p)/p, c)))
		}
	}
}

// fastExp is e^x to a relative error below 1e-8 for |x| < 700 (0 or +Inf
// beyond): 2^n times a degree-7 Taylor polynomial of 2^f, |f| <= 1/2. It
// is about five times quicker than math.Exp, which the lighting table
// calls 513 times per image.
func fastExp(x float64) float64 {
	switch {
	case x > 700:
		return math.Inf(1)
	case x < -700:
		return 0
	case x != x:
		return x
	}
	t := x * math.Log2E
	n := math.Floor(t + 0.5)
	f := (t - n) * math.Ln2 // |f| <= ln2/2
	p := 1 + f*(1+f*(1.0/2+f*(1.0/6+f*(1.0/24+f*(1.0/120+f*(1.0/720+f*(1.0/5040)))))))
	return p * math.Float64frombits(uint64(int64(n)+1023)<<52) // |n| <= 1010: a normal 2^n
}

// RandomErasing is fastai's RandomErasing batch transform (training only):
// with probability P an image gets between 1 and MaxCount rectangles, each
// of a fraction of 1/count of the area drawn from [SL, SH] and an aspect
// ratio drawn log-uniformly from [MinAspect, 1/MinAspect], filled with
// noise. Zero fields take fastai's defaults: P 0.5, SH 0.3, MinAspect 0.3,
// MaxCount 1 (SL's default is 0).
//
// Two deliberate differences from fastai: fastai runs after Normalize and
// fills with N(0,1) noise, which here, in pixel space, is uniform noise in
// [0,1] so batches stay in [0,1]; and fastai draws P and the rectangles once
// per batch, where here each image draws its own from its item's generator,
// so an item's augmentation does not depend on the rest of its batch.
type RandomErasing struct {
	P         float64 // probability that an image is erased (0.5)
	SL, SH    float64 // range of a rectangle's fraction of the area (0, 0.3)
	MinAspect float64 // aspect ratios are drawn from [MinAspect, 1/MinAspect] (0.3)
	MaxCount  int     // rectangles per erased image, drawn from 1..MaxCount (1)
}

// TransformBatch erases rectangles in the images of a training batch.
func (e RandomErasing) TransformBatch(x *tensor.Tensor, rngs []*tensor.RNG, split Split) {
	train := split == TrainSplit
	if !train || rngs == nil {
		return
	}
	p, sh, minAspect, maxCount := e.P, e.SH, e.MinAspect, e.MaxCount
	if p == 0 {
		p = 0.5
	}
	if sh == 0 {
		sh = 0.3
	}
	if minAspect <= 0 || minAspect > 1 {
		minAspect = 0.3
	}
	if maxCount < 1 {
		maxCount = 1
	}
	s := x.Shape()
	C, H, W := s[1], s[2], s[3]
	n := C * H * W
	for i, rng := range rngs {
		if rng.Float64() >= p {
			continue
		}
		img := x.Data()[i*n : (i+1)*n]
		count := 1 + rng.IntN(maxCount)
		area := float64(H*W) / float64(count)
		la := math.Log(minAspect)
		for range count {
			a := area * (e.SL + (sh-e.SL)*rng.Float64())
			asp := math.Exp(la + (-2*la)*rng.Float64())
			eh := min(int(math.RoundToEven(math.Sqrt(a*asp))), H)
			ew := min(int(math.RoundToEven(math.Sqrt(a/asp))), W)
			y0 := rng.IntN(H - eh + 1)
			x0 := rng.IntN(W - ew + 1)
			for c := 0; c < C; c++ {
				for yy := y0; yy < y0+eh; yy++ {
					row := img[(c*H+yy)*W+x0 : (c*H+yy)*W+x0+ew]
					for k := range row {
						row[k] = float32(rng.Float64())
					}
				}
			}
		}
	}
}
