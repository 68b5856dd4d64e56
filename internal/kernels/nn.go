package kernels

import (
	"math"

	"github.com/fastgo-ml/fastgo"
)

// The kernels of batch-norm and the 2x2 max pool. Like the element-wise
// kernels, every tier computes exactly what the pure-Go references below
// compute: the reductions accumulate 32 partial sums (element i into
// partial i%32) and add them in a fixed tree, so results are bit-identical
// across tiers and thread counts.

// partials is the scratch of the two 32-way reductions.
type partials [64]float32

// reduce32 adds 32 partials in a fixed pairwise tree (lane i and lane i+w
// for w = 16, 8, 4, 2, 1), in place: written out, without a loop or bounds
// checks, as batch-norm calls it once per plane and statistic.
func reduce32(t *[32]float32) float32 {
	for i := 0; i < 16; i++ {
		t[i] += t[i+16]
	}
	t[0], t[1], t[2], t[3] = t[0]+t[8], t[1]+t[9], t[2]+t[10], t[3]+t[11]
	t[4], t[5], t[6], t[7] = t[4]+t[12], t[5]+t[13], t[6]+t[14], t[7]+t[15]
	t[0], t[1], t[2], t[3] = t[0]+t[4], t[1]+t[5], t[2]+t[6], t[3]+t[7]
	t[0], t[1] = t[0]+t[2], t[1]+t[3]
	return t[0] + t[1]
}

// BNStats returns the sums of d and of d*d over x, where d = x - shift.
// Batch-norm computes a channel's statistics from them with shift near the
// channel's mean, which keeps the variance free of cancellation.
func BNStats(x []float32, shift float32) (s1, s2 float32) {
	var p partials
	n := len(x) &^ 31
	if n > 0 {
		bnStatsTier(n, x, shift, &p)
	}
	bnStatsGo(x[n:], n, shift, &p)
	return reduce32((*[32]float32)(p[:32])), reduce32((*[32]float32)(p[32:]))
}

// SumDot returns the sums of g and of g*(x - mu) over len(g) elements.
func SumDot(g, x []float32, mu float32) (sg, sgx float32) {
	if len(x) < len(g) {
		panic(fastgo.Errorf("kernels.SumDot: len(x)=%d < len(g)=%d", len(x), len(g)))
	}
	var p partials
	n := len(g) &^ 31
	if n > 0 {
		sumDotTier(n, g, x, mu, &p)
	}
	sumDotGo(g[n:], x[n:len(g)], n, mu, &p)
	return reduce32((*[32]float32)(p[:32])), reduce32((*[32]float32)(p[32:]))
}

// SumDotMask is SumDot of gm, the gradient g masked to where the ReLU of
// x*a + b is positive (AffineRelu's output, recomputed with its rounding:
// the multiply rounded before the add): the sums of gm and of gm*(x - mu).
// It is the backward of a batch-norm fused with the ReLU after it, which
// needs the batch-norm's input only, not its output.
func SumDotMask(g, x []float32, mu, a, b float32) (sg, sgx float32) {
	if len(x) < len(g) {
		panic(fastgo.Errorf("kernels.SumDotMask: len(x)=%d < len(g)=%d", len(x), len(g)))
	}
	var p partials
	n := len(g) &^ 31
	if n > 0 {
		sumDotMaskTier(n, g, x, mu, a, b, &p)
	}
	sumDotMaskGo(g[n:], x[n:len(g)], n, mu, a, b, &p)
	return reduce32((*[32]float32)(p[:32])), reduce32((*[32]float32)(p[32:]))
}

// BNBackwardMask is BNBackward of gm = g where x*a + b > 0 (SumDotMask's
// mask), else 0: dst = (c1*gm + c2*x) + c3.
func BNBackwardMask(dst, g, x []float32, a, b, c1, c2, c3 float32) {
	check2("kernels.BNBackwardMask", dst, g, x)
	active.bnBackwardMask(dst, g[:len(dst)], x[:len(dst)], a, b, c1, c2, c3)
}

// Affine computes dst = x*a + b (the multiply rounded before the add).
func Affine(dst, x []float32, a, b float32) {
	if len(x) < len(dst) {
		panic(fastgo.Errorf("kernels.Affine: len(x)=%d < len(dst)=%d", len(x), len(dst)))
	}
	active.affine(dst, x[:len(dst)], a, b)
}

// AffineRelu computes dst = max(x*a + b, 0), with NaN giving 0.
func AffineRelu(dst, x []float32, a, b float32) {
	if len(x) < len(dst) {
		panic(fastgo.Errorf("kernels.AffineRelu: len(x)=%d < len(dst)=%d", len(x), len(dst)))
	}
	active.affineRelu(dst, x[:len(dst)], a, b)
}

// BNBackward computes dst = (c1*g + c2*x) + c3, each product rounded.
func BNBackward(dst, g, x []float32, c1, c2, c3 float32) {
	check2("kernels.BNBackward", dst, g, x)
	active.bnBackward(dst, g[:len(dst)], x[:len(dst)], c1, c2, c3)
}

// checkPool panics unless rows of the given geometry fit x (or gx), the
// output and the codes.
func checkPool(fn string, rows, ow, stride, w, in, out, codes int) {
	if rows < 0 || ow < 0 || w < 2*ow || stride < 2*w {
		panic(fastgo.Errorf("%s: bad geometry rows=%d ow=%d stride=%d w=%d (want w >= 2*ow, stride >= 2*w)", fn, rows, ow, stride, w))
	}
	if rows == 0 || ow == 0 {
		return
	}
	if need := (rows-1)*stride + w + 2*ow; in < need || out < rows*ow || codes < rows*ow {
		panic(fastgo.Errorf("%s: rows=%d ow=%d stride=%d w=%d need %d inputs and %d outputs, have %d inputs, %d outputs, %d codes",
			fn, rows, ow, stride, w, need, rows*ow, in, out, codes))
	}
}

// MaxPool2x2 computes rows of a 2x2, stride-2 max pool. Output row r (ow
// values at dst[r*ow:]) pools the input rows starting at x[r*stride] (top)
// and x[r*stride+w] (bottom); code[r*ow+j] gets the position of the
// maximum in its window: 0 top-left, 1 top-right, 2 bottom-left, 3
// bottom-right. Ties go to the first position, and a NaN wins unless an
// earlier position holds one too (PyTorch's rule).
func MaxPool2x2(rows, ow, stride, w int, x, dst []float32, code []uint8) {
	checkPool("kernels.MaxPool2x2", rows, ow, stride, w, len(x), len(dst), len(code))
	if rows == 0 || ow == 0 {
		return
	}
	active.maxPool2x2(rows, ow, stride, w, x, dst, code)
}

// MaxPool2x2Backward is MaxPool2x2's backward: each output gradient
// gy[r*ow+j] goes to the window position code[r*ow+j] in the rows of gx
// starting at gx[r*stride] and gx[r*stride+w], and the window's other three
// positions get 0. Columns 2*ow and on of each row are not written.
func MaxPool2x2Backward(rows, ow, stride, w int, gy []float32, code []uint8, gx []float32) {
	checkPool("kernels.MaxPool2x2Backward", rows, ow, stride, w, len(gx), len(gy), len(code))
	if rows == 0 || ow == 0 {
		return
	}
	active.maxPool2x2Backward(rows, ow, stride, w, gy, code, gx)
}

// MaxPool2x2BackwardOver is MaxPool2x2Backward for a caller that lets it
// write past the rows: besides the windows, it may write anything to the
// floats from column 2*ow up to column 16 of each row of every row pair but
// the last (gx[r*stride+2*ow : r*stride+16] and gx[r*stride+w+2*ow :
// r*stride+w+16] for r < rows-1, clipped to gx), and the caller clears or
// overwrites them afterwards. Rows of 4 to 7 outputs then run as whole
// vectors of 8 whatever the layout, as MaxPool2x2Backward runs them only in
// planes without gaps: a zero-padded layout, whose padding the caller
// writes after the call.
func MaxPool2x2BackwardOver(rows, ow, stride, w int, gy []float32, code []uint8, gx []float32) {
	checkPool("kernels.MaxPool2x2BackwardOver", rows, ow, stride, w, len(gx), len(gy), len(code))
	if rows == 0 || ow == 0 {
		return
	}
	if rows >= 2 && ow >= 4 && ow < 8 && (rows-2)*stride+w+16 <= len(gx) && maxPool2x2BackwardOverTier(rows, ow, stride, w, gy, code, gx) {
		return
	}
	active.maxPool2x2Backward(rows, ow, stride, w, gy, code, gx)
}

// The pure-Go references.

// bnStatsGo adds x (whose first element has index off) into p.
func bnStatsGo(x []float32, off int, shift float32, p *partials) {
	for i, v := range x {
		d := v - shift
		j := (off + i) & 31
		p[j] += d
		p[32+j] += float32(d * d)
	}
}

// sumDotGo adds g and g*(x - mu) (first index off) into p.
func sumDotGo(g, x []float32, off int, mu float32, p *partials) {
	x = x[:len(g)]
	for i, gi := range g {
		j := (off + i) & 31
		p[j] += gi
		p[32+j] += float32(gi * (x[i] - mu))
	}
}

// sumDotMaskGo adds gm and gm*(x - mu) (first index off) into p.
func sumDotMaskGo(g, x []float32, off int, mu, a, b float32, p *partials) {
	x = x[:len(g)]
	for i, gi := range g {
		gi = maskPositive(gi, float32(x[i]*a)+b)
		j := (off + i) & 31
		p[j] += gi
		p[32+j] += float32(gi * (x[i] - mu))
	}
}

func bnBackwardMaskGo(dst, g, x []float32, a, b, c1, c2, c3 float32) {
	g, x = g[:len(dst)], x[:len(dst)]
	for i := range dst {
		gi := maskPositive(g[i], float32(x[i]*a)+b)
		dst[i] = (float32(c1*gi) + float32(c2*x[i])) + c3
	}
}

func affineGo(dst, x []float32, a, b float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = float32(v*a) + b
	}
}

func affineReluGo(dst, x []float32, a, b float32) {
	x = x[:len(dst)]
	for i, v := range x {
		y := float32(v*a) + b
		dst[i] = maskPositive(y, y)
	}
}

func bnBackwardGo(dst, g, x []float32, c1, c2, c3 float32) {
	g, x = g[:len(dst)], x[:len(dst)]
	for i := range dst {
		dst[i] = (float32(c1*g[i]) + float32(c2*x[i])) + c3
	}
}

func maxPool2x2Go(rows, ow, stride, w int, x, dst []float32, code []uint8) {
	for r := 0; r < rows; r++ {
		t := x[r*stride : r*stride+2*ow]
		b := x[r*stride+w : r*stride+w+2*ow]
		d := dst[r*ow : (r+1)*ow]
		c := code[r*ow : (r+1)*ow]
		for j := range d {
			best, pos := t[2*j], uint8(0)
			for k, v := range [3]float32{t[2*j+1], b[2*j], b[2*j+1]} {
				if best == best && !(v <= best) { // v > best, or v is NaN
					best, pos = v, uint8(k+1)
				}
			}
			d[j], c[j] = best, pos
		}
	}
}

func maxPool2x2BackwardGo(rows, ow, stride, w int, gy []float32, code []uint8, gx []float32) {
	maxPool2x2BackwardColsGo(rows, ow, 0, stride, w, gy, code, gx)
}

// maxPool2x2BackwardColsGo is maxPool2x2BackwardGo for the columns j0 and
// on of each row.
// Each window's four floats are written in order, the gradient's bits
// under a mask that is all ones at the position of code k (position k of
// the window is row k>>1, column k&1) and zero elsewhere: no branch (the
// positions are as good as random) and no store to a computed address.
func maxPool2x2BackwardColsGo(rows, ow, j0, stride, w int, gy []float32, code []uint8, gx []float32) {
	for r := 0; r < rows; r++ {
		t := gx[r*stride+2*j0 : r*stride+2*ow]
		b := gx[r*stride+w+2*j0 : r*stride+w+2*ow]
		g := gy[r*ow+j0 : (r+1)*ow]
		c := code[r*ow+j0 : (r+1)*ow]
		for j, gj := range g {
			v := math.Float32bits(gj)
			k := uint32(c[j] & 3)
			tj, bj := t[2*j:2*j+2:2*j+2], b[2*j:2*j+2:2*j+2]
			tj[0] = math.Float32frombits(v & isZero32(k))
			tj[1] = math.Float32frombits(v & isZero32(k^1))
			bj[0] = math.Float32frombits(v & isZero32(k^2))
			bj[1] = math.Float32frombits(v & isZero32(k^3))
		}
	}
}

// isZero32 returns all ones when k (at most 1<<31) is 0, else 0.
func isZero32(k uint32) uint32 { return uint32(int32(k-1) >> 31) }
