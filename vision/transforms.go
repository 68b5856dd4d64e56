package vision

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/tensor"
)

// ResizeMode says how Resize fits an image of another aspect ratio
// (fastai's ResizeMethod).
type ResizeMode int

const (
	// Crop keeps the largest region of the target's aspect ratio (centred
	// for validation, at a random place for training) and scales it.
	Crop ResizeMode = iota
	// Pad scales the whole image to fit inside the target and fills the
	// border by reflection (fastai's PadMode.Reflection: the edge pixel is
	// not repeated, as numpy's "reflect").
	Pad
	// Squish scales the whole image to the target, changing its aspect
	// ratio.
	Squish
)

// String returns the mode's name.
func (m ResizeMode) String() string {
	switch m {
	case Crop:
		return "Crop"
	case Pad:
		return "Pad"
	case Squish:
		return "Squish"
	}
	return fmt.Sprintf("ResizeMode(%d)", int(m))
}

// Resize returns fastai's Resize(size, method) item transform: every image
// becomes h x w, for training and validation alike. Crop and Pad first take
// fastai's integer crop box (the largest box of the target's aspect ratio
// inside the image for Crop, the smallest around it for Pad, at a random
// place for training and in the centre for validation), then scale it as
// PIL's bilinear resize does: a triangle filter widened by the scale factor
// when shrinking, so downscaled images are not aliased, with the taps kept
// inside the box. The result matches fastai's Resize on a PIL float image to
// float32 rounding.
func Resize(h, w int, mode ResizeMode) ItemTransform {
	if h < 1 || w < 1 || h > MaxImagePixels/w {
		panic(fastgo.Errorf("vision.Resize: size %dx%d (want positive sizes of at most MaxImagePixels, %d, pixels)", h, w, MaxImagePixels))
	}
	if mode < Crop || mode > Squish {
		panic(fastgo.Errorf("vision.Resize: unknown mode %v", mode))
	}
	return &resize{h: h, w: w, mode: mode}
}

type resize struct {
	h, w int
	mode ResizeMode
}

// String describes the transform.
func (r *resize) String() string { return fmt.Sprintf("Resize(%d, %d, %v)", r.h, r.w, r.mode) }

func (r *resize) TransformItem(x *tensor.Tensor, rng *tensor.RNG, split Split) *tensor.Tensor {
	train := split == TrainSplit
	_, H, W := chw(x)
	if H == r.h && W == r.w {
		return x
	}
	px, py := 0.5, 0.5
	if train && rng != nil && r.mode != Squish {
		px, py = rng.Float64(), rng.Float64()
	}
	sx, sy := r.spans(W, H, px, py)
	return resample(x, sx, sy, r.h, r.w, 0, 0, r.h, r.w, reflectPad)
}

// spans returns the source box of fastai's Resize for an image of W x H
// pixels, placed at the fractions px, py of the free room.
func (r *resize) spans(W, H int, px, py float64) (sx, sy span) {
	if r.mode == Squish {
		return span{0, W}, span{0, H}
	}
	rw, rh := float64(W)/float64(r.w), float64(H)/float64(r.h)
	m := rh
	if (r.mode == Crop && rw < rh) || (r.mode == Pad && rw > rh) {
		m = rw
	}
	// At least one pixel: for an image far thinner than the target's aspect
	// ratio fastai's box is empty (and PIL fails on it).
	cw, ch := max(int(m*float64(r.w)), 1), max(int(m*float64(r.h)), 1)
	// Go's int() truncates toward zero, as Python's does.
	return cropPadSpans(W, H, int(px*float64(W-cw)), int(py*float64(H-ch)), cw, ch)
}

// RandomResizedCrop returns fastai's RandomResizedCrop(size, min_scale,
// ratio=(3/4, 4/3), val_xtra=0.14) item transform. For training it takes a
// random box of between minScale and all of the image's area, with an aspect
// ratio drawn log-uniformly from [3/4, 4/3] (ten tries, then the largest
// centred box with a ratio in range), and scales it to h x w; for
// validation it scales the whole image to (h+extra) x (w+extra), where extra
// is max(h,w)*0.14 rounded up to a multiple of 8, and keeps the centre
// h x w. fastai's default minScale is 0.08; values outside (0, 1] are
// clamped into it.
func RandomResizedCrop(h, w int, minScale float64) ItemTransform {
	if h < 1 || w < 1 || h > MaxImagePixels/w {
		panic(fastgo.Errorf("vision.RandomResizedCrop: size %dx%d (want positive sizes of at most MaxImagePixels, %d, pixels)", h, w, MaxImagePixels))
	}
	if !(minScale > 0) {
		minScale = 1e-3
	}
	return &randomResizedCrop{h: h, w: w, minScale: min(minScale, 1), maxScale: 1, ratio: [2]float64{3.0 / 4, 4.0 / 3}, valXtra: 0.14}
}

type randomResizedCrop struct {
	h, w               int
	minScale, maxScale float64
	ratio              [2]float64
	valXtra            float64
}

// String describes the transform.
func (r *randomResizedCrop) String() string {
	return fmt.Sprintf("RandomResizedCrop(%d, %d, %g)", r.h, r.w, r.minScale)
}

func (r *randomResizedCrop) TransformItem(x *tensor.Tensor, rng *tensor.RNG, split Split) *tensor.Tensor {
	train := split == TrainSplit
	_, H, W := chw(x)
	if !train || rng == nil {
		xtra := int(math.Ceil(float64(max(r.h, r.w))*r.valXtra/8)) * 8
		fh, fw := r.h+xtra, r.w+xtra
		return resample(x, span{0, W}, span{0, H}, fh, fw, (fh-r.h)/2, (fw-r.w)/2, r.h, r.w, zeroPad)
	}
	x0, y0, cw, ch := r.box(W, H, rng)
	return resample(x, span{x0, x0 + cw}, span{y0, y0 + ch}, r.h, r.w, 0, 0, r.h, r.w, zeroPad)
}

// box draws a training crop box of a W x H image as fastai does.
func (r *randomResizedCrop) box(W, H int, rng *tensor.RNG) (x0, y0, cw, ch int) {
	fw, fh := float64(W), float64(H)
	area := fw * fh
	lr0, lr1 := math.Log(r.ratio[0]), math.Log(r.ratio[1])
	for range 10 {
		a := area * (r.minScale + (r.maxScale-r.minScale)*rng.Float64())
		ratio := math.Exp(lr0 + (lr1-lr0)*rng.Float64())
		// Python's round() rounds half to even.
		nw := int(math.RoundToEven(math.Sqrt(a * ratio)))
		nh := int(math.RoundToEven(math.Sqrt(a / ratio)))
		if nw <= W && nh <= H && nw >= 1 && nh >= 1 {
			return rng.IntN(W - nw + 1), rng.IntN(H - nh + 1), nw, nh
		}
	}
	cw, ch = W, H
	switch {
	case fw/fh < r.ratio[0]:
		ch = int(fw / r.ratio[0])
	case fw/fh > r.ratio[1]:
		cw = int(fh * r.ratio[1])
	}
	return (W - cw) / 2, (H - ch) / 2, cw, ch
}

// CenterCrop returns fastai's CropPad(size) item transform: the centre h x w
// of every image without scaling, padded with zeros where the image is
// smaller.
func CenterCrop(h, w int) ItemTransform {
	if h < 1 || w < 1 || h > MaxImagePixels/w {
		panic(fastgo.Errorf("vision.CenterCrop: size %dx%d (want positive sizes of at most MaxImagePixels, %d, pixels)", h, w, MaxImagePixels))
	}
	return &centerCrop{h: h, w: w}
}

type centerCrop struct{ h, w int }

// String describes the transform.
func (r *centerCrop) String() string { return fmt.Sprintf("CenterCrop(%d, %d)", r.h, r.w) }

func (r *centerCrop) TransformItem(x *tensor.Tensor, _ *tensor.RNG, _ Split) *tensor.Tensor {
	C, H, W := chw(x)
	if H == r.h && W == r.w {
		return x
	}
	// fastai's tl = (orig - size) // 2 floors, also for negative values.
	sx, sy := cropPadSpans(W, H, floorDiv(W-r.w, 2), floorDiv(H-r.h, 2), r.w, r.h)
	out := tensor.Zeros(C, r.h, r.w)
	src, dst := x.Data(), out.Data()
	for c := 0; c < C; c++ {
		for oy := 0; oy < r.h; oy++ {
			y := sy.lo + oy
			if y < 0 || y >= H || y >= sy.hi {
				continue
			}
			for ox := 0; ox < r.w; ox++ {
				if xx := sx.lo + ox; xx >= 0 && xx < W && xx < sx.hi {
					dst[(c*r.h+oy)*r.w+ox] = src[(c*H+y)*W+xx]
				}
			}
		}
	}
	return out
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// chw returns the dimensions of an image tensor, panicking on another rank.
func chw(x *tensor.Tensor) (c, h, w int) {
	s := x.Shape()
	if len(s) != 3 {
		panic(fastgo.Errorf("vision: image tensor of shape %v: want [C,H,W]", s))
	}
	return s[0], s[1], s[2]
}

// span is an interval [lo, hi) of source pixel indices along one axis. It
// may reach outside the image [0, n): those pixels are padding.
type span struct{ lo, hi int }

// cropPadSpans returns the source box of fastai's crop_pad(size, tl) on a
// W x H image: the part of the box inside the image is cropped and, when a
// corner lies outside, the rest is padding. It follows fastai's
// _do_crop_pad, quirks included: a dimension is padded only when some
// coordinate of tl is negative.
func cropPadSpans(W, H, tlx, tly, cw, ch int) (sx, sy span) {
	crop := tlx >= 0 || tly >= 0
	pad := tlx < 0 || tly < 0
	f := func(n, tl, sz int) span {
		a, b := 0, n
		if crop {
			a = max(tl, 0)
			b = min(a+sz, n)
		}
		if pad {
			p := max(-tl, 0)
			a -= p
			b += max(sz-n-p, 0)
		}
		return span{a, b}
	}
	return f(W, tlx, cw), f(H, tly, ch)
}

type padMode int

const (
	reflectPad padMode = iota // numpy's "reflect": ... 2 1 | 0 1 2 ... n-1 | n-2 ...
	zeroPad
)

// taps holds, for each output index along one axis, n consecutive source
// positions starting at first[o] and their weights. Positions are relative
// to the source span, so they never leave it; outputs with fewer taps than
// n have zero weights.
type taps struct {
	first []int32
	n     int
	w     []float32 // n per output
}

// axisTaps returns PIL's bilinear taps (ImagingResample's precompute_coeffs)
// that scale a source span of length pixels to full output pixels, for the
// outputs [o0, o0+out). The taps stay inside the span, as PIL resizing the
// cropped (and padded) image: padding pixels count in the normalisation.
// Taps are cached by their arguments: a data set of equal-sized images
// computes them once.
func axisTaps(length, full, o0, out int) taps {
	key := tapKey{length, full, o0, out}
	if t, ok := tapCache.Load(key); ok {
		return t.(taps)
	}
	t := computeTaps(length, full, o0, out)
	if tapCacheLen.Add(1) <= maxCachedTaps {
		tapCache.Store(key, t)
	}
	return t
}

type tapKey struct{ length, full, o0, out int }

// maxCachedTaps bounds the tap cache (a few MB at most).
const maxCachedTaps = 4096

var (
	tapCache    sync.Map
	tapCacheLen atomic.Int64
)

func computeTaps(length, full, o0, out int) taps {
	scale := float64(length) / float64(full)
	fscale := math.Max(scale, 1)
	support := fscale // the triangle filter's support is 1
	weight := func(x int, center float64) float64 {
		return max(1-math.Abs((float64(x)-center+0.5)/fscale), 0)
	}
	// bounds returns the taps of output o with a non-zero weight.
	bounds := func(o int) (lo, hi int, center float64) {
		center = (float64(o0+o) + 0.5) * scale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), length)
		for xmin < xmax && weight(xmin, center) == 0 {
			xmin++
		}
		for xmax > xmin && weight(xmax-1, center) == 0 {
			xmax--
		}
		if xmin == xmax { // no tap: the nearest pixel
			xmin = min(max(int(center), 0), length-1)
			xmax = xmin + 1
		}
		return xmin, xmax, center
	}
	n := 1
	for o := 0; o < out; o++ {
		lo, hi, _ := bounds(o)
		n = max(n, hi-lo)
	}
	t := taps{first: make([]int32, out), n: n, w: make([]float32, out*n)}
	for o := 0; o < out; o++ {
		lo, hi, center := bounds(o)
		sum := 0.0
		for x := lo; x < hi; x++ {
			sum += weight(x, center)
		}
		first := min(lo, length-n) // keep first+n inside the span
		t.first[o] = int32(first)
		for x := lo; x < hi; x++ {
			wt := 1.0
			if sum > 0 {
				wt = weight(x, center) / sum
			}
			t.w[o*n+x-first] = float32(wt)
		}
	}
	return t
}

// reflect101 reflects i into [0,n) about the edge pixels without repeating
// them (numpy's and torchvision's "reflect": -1 -> 1, n -> n-2).
func reflect101(i, n int) int {
	if n == 1 {
		return 0
	}
	p := 2 * (n - 1)
	m := i % p
	if m < 0 {
		m += p
	}
	if m >= n {
		m = p - m
	}
	return m
}

// sourceIndex maps position j of a span to a pixel of an axis of n pixels,
// or -1 for a zero padding pixel.
func sourceIndex(j, n int, pad padMode) int {
	if j >= 0 && j < n {
		return j
	}
	if pad == zeroPad {
		return -1
	}
	return reflect101(j, n)
}

// resample scales the source box sx x sy of x to a full image of fh x fw
// pixels and returns its window of oh x ow pixels at (oy0, ox0), as PIL's
// two-pass resize of the cropped and padded box. The vertical pass runs
// first, over contiguous rows, so that the gathering horizontal pass works
// on the smaller image when shrinking.
func resample(x *tensor.Tensor, sx, sy span, fh, fw, oy0, ox0, oh, ow int, pad padMode) *tensor.Tensor {
	C, H, W := chw(x)
	bw := sx.hi - sx.lo
	tx := axisTaps(bw, fw, ox0, ow)
	ty := axisTaps(sy.hi-sy.lo, fh, oy0, oh)
	// The columns of x the box reads.
	c0, c1 := max(sx.lo, 0), min(sx.hi, W)
	if pad == reflectPad && (sx.lo < 0 || sx.hi > W) {
		c0, c1 = 0, W
	}
	cw := c1 - c0
	tp := scratchPool.Get().(*[]float32)
	defer scratchPool.Put(tp)
	need := C*oh*cw + bw
	if cap(*tp) < need {
		*tp = make([]float32, need)
	}
	tmp := (*tp)[:C*oh*cw]
	ext := (*tp)[C*oh*cw : need]
	resampleRows(tmp, x.Data(), C, H, W, c0, c1, oh, ty, sy.lo, pad)
	out := tensor.Zeros(C, oh, ow)
	dst := out.Data()
	resampleCols(dst, tmp, ext, C*oh, W, c0, cw, ow, tx, sx, pad)
	clamp01(dst)
	return out
}

// resampleRows is resample's vertical pass: tmp's row (c, o) is the
// weighted sum of the source rows of channel c, columns [c0, c1), that
// output row o's taps ty read (from source row y0 on), up to four rows at a
// time in one pass.
func resampleRows(tmp, src []float32, C, H, W, c0, c1, oh int, ty taps, y0 int, pad padMode) {
	cw := c1 - c0
	// Vertical: each output row is a weighted sum of source rows, up to
	// four at a time in one pass.
	var rows [4][]float32
	var ws [4]float32
	for c := 0; c < C; c++ {
		for o := 0; o < oh; o++ {
			orow := tmp[(c*oh+o)*cw : (c*oh+o+1)*cw]
			w := ty.w[o*ty.n : (o+1)*ty.n]
			m := 0
			first := true
			flush := func() {
				switch m {
				case 1:
					vrow1(orow, rows[0], ws[0], first)
				case 2:
					vrow2(orow, rows[0], rows[1], ws[0], ws[1], first)
				case 3:
					vrow3(orow, rows[0], rows[1], rows[2], ws[0], ws[1], ws[2], first)
				case 4:
					vrow4(orow, rows[0], rows[1], rows[2], rows[3], ws[0], ws[1], ws[2], ws[3], first)
				}
				if m > 0 {
					first = false
				}
				m = 0
			}
			for k, wt := range w {
				y := sourceIndex(y0+int(ty.first[o])+k, H, pad)
				if wt == 0 || y < 0 {
					continue
				}
				rows[m] = src[(c*H+y)*W+c0 : (c*H+y)*W+c1]
				ws[m] = wt
				m++
				if m == 4 {
					flush()
				}
			}
			flush()
			if first { // every tap was padding
				clear(orow)
			}
		}
	}
}

// resampleCols is resample's horizontal pass: each of the rows rows of tmp
// (cw columns from c0) gives one output row of ow pixels, each the weighted
// sum of n consecutive pixels of the box's row (extended into ext by the
// padding where the box leaves the image).
func resampleCols(dst, tmp, ext []float32, rows, W, c0, cw, ow int, tx taps, sx span, pad padMode) {
	// Horizontal: gather n consecutive pixels of the box's row.
	inside := sx.lo >= 0 && sx.hi <= W
	n := tx.n
	for r := 0; r < rows; r++ {
		row := tmp[r*cw : (r+1)*cw]
		box := ext
		if inside {
			box = row[sx.lo-c0 : sx.hi-c0]
		} else {
			for j := range box {
				if i := sourceIndex(sx.lo+j, W, pad); i >= 0 {
					box[j] = row[i-c0]
				} else {
					box[j] = 0
				}
			}
		}
		orow := dst[r*ow : (r+1)*ow]
		switch n {
		case 2:
			for o := range orow {
				f := int(tx.first[o])
				b, w := box[f:f+2:f+2], tx.w[2*o:2*o+2:2*o+2]
				orow[o] = w[0]*b[0] + w[1]*b[1]
			}
		case 4:
			for o := range orow {
				f := int(tx.first[o])
				b, w := box[f:f+4:f+4], tx.w[4*o:4*o+4:4*o+4]
				orow[o] = w[0]*b[0] + w[1]*b[1] + w[2]*b[2] + w[3]*b[3]
			}
		default:
			for o := range orow {
				f := int(tx.first[o])
				b := box[f : f+n]
				w := tx.w[o*n : o*n+n]
				w = w[:len(b)]
				var s float32
				for k, v := range b {
					s += w[k] * v
				}
				orow[o] = s
			}
		}
	}
}

// vrow1 to vrow4 set (first) or add to dst the weighted sum of source rows.
func vrow1(dst, a []float32, wa float32, first bool) {
	a = a[:len(dst)]
	if first {
		for i, v := range a {
			dst[i] = wa * v
		}
		return
	}
	for i, v := range a {
		dst[i] += wa * v
	}
}

func vrow2(dst, a, b []float32, wa, wb float32, first bool) {
	a, b = a[:len(dst)], b[:len(dst)]
	if first {
		for i := range dst {
			dst[i] = wa*a[i] + wb*b[i]
		}
		return
	}
	for i := range dst {
		dst[i] += wa*a[i] + wb*b[i]
	}
}

func vrow3(dst, a, b, c []float32, wa, wb, wc float32, first bool) {
	a, b, c = a[:len(dst)], b[:len(dst)], c[:len(dst)]
	if first {
		for i := range dst {
			dst[i] = wa*a[i] + wb*b[i] + wc*c[i]
		}
		return
	}
	for i := range dst {
		dst[i] += wa*a[i] + wb*b[i] + wc*c[i]
	}
}

func vrow4(dst, a, b, c, d []float32, wa, wb, wc, wd float32, first bool) {
	a, b, c, d = a[:len(dst)], b[:len(dst)], c[:len(dst)], d[:len(dst)]
	if first {
		for i := range dst {
			dst[i] = wa*a[i] + wb*b[i] + wc*c[i] + wd*d[i]
		}
		return
	}
	for i := range dst {
		dst[i] += wa*a[i] + wb*b[i] + wc*c[i] + wd*d[i]
	}
}

// scratchPool holds resample's intermediate buffers.
var scratchPool = sync.Pool{New: func() any { return new([]float32) }}

// clamp01 keeps rounding from leaving [0,1].
func clamp01(d []float32) {
	for i, v := range d {
		if v < 0 {
			d[i] = 0
		} else if v > 1 {
			d[i] = 1
		}
	}
}
