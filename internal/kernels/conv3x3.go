package kernels

import "github.com/fastgo-ml/fastgo"

// Conv3x3Plan is the block table of Conv3x3 for output planes of h x w
// pixels (w >= 8), read from input planes zero-padded as a same 3x3
// convolution's input is: one row of zeros above and below, and rows of
// wp = w+1 floats, a zero then the w pixels (the zero that starts a row is
// also the right padding of the row before it). Each row of the output is
// cut into blocks of 8 pixels, the last block ending at the row's end (and
// overlapping the one before it when 8 does not divide w: its pixels are
// computed twice, the same values).
type Conv3x3Plan struct {
	tab    []int // (source offset, destination offset) of each block
	h, w   int
	srcLen int // floats of the padded plane a call reads, one past its end
	// The weight gradient's blocks (Conv3x3Grad): the whole blocks of 8
	// of each row, then the rest of each row (tail < 8 pixels) as one more
	// block; (source offset, gradient offset) pairs.
	gradTab    []int
	full, tail int // whole blocks in gradTab; pixels of each partial one
	gradSrcLen int // floats of the padded input Conv3x3Grad reads
}

// NewConv3x3Plan returns the plan for h x w output planes; it panics when
// w < 8 or h < 1.
func NewConv3x3Plan(h, w int) *Conv3x3Plan {
	if w < 8 || h < 1 {
		panic(fastgo.Errorf("kernels.NewConv3x3Plan: planes of %dx%d, need a width of at least 8", h, w))
	}
	wp := w + 1
	per := (w + 7) / 8
	p := &Conv3x3Plan{tab: make([]int, 0, 2*h*per), h: h, w: w, srcLen: (h+2)*wp + 1}
	for y := 0; y < h; y++ {
		for b := 0; b < per; b++ {
			x0 := min(8*b, w-8)
			p.tab = append(p.tab, y*wp+x0, y*w+x0)
		}
	}
	for y := 0; y < h; y++ {
		for x0 := 0; x0+8 <= w; x0 += 8 {
			p.gradTab = append(p.gradTab, y*wp+x0, y*w+x0)
		}
	}
	p.full, p.tail = len(p.gradTab)/2, w%8
	if p.tail > 0 {
		for y := 0; y < h; y++ {
			x0 := w - p.tail
			p.gradTab = append(p.gradTab, y*wp+x0, y*w+x0)
		}
	}
	// A block reads 8 inputs under each tap, whatever its outputs.
	p.gradSrcLen = p.srcLen
	if p.tail > 0 {
		p.gradSrcLen = max(p.srcLen, (h+1)*wp+w-p.tail+10)
	}
	return p
}

// GradSrcLen is how many floats of the padded input a call of Conv3x3Grad
// reads: SrcLen, and when 8 does not divide w up to 7 floats more, which
// it multiplies by zero (the gradient of no output): the slack after the
// last plane of a same convolution's padded input.
func (p *Conv3x3Plan) GradSrcLen() int { return p.gradSrcLen }

// Conv3x3Grad sets s[ky*3+kx] to the sum over the outputs (y, x) of
// gy[y*w+x] * in(y+ky-1, x+kx-1): Conv3x3's weight gradient for one output
// plane, from its gradient gy and src, the input plane padded as for
// Conv3x3. Each sum runs over the blocks in a fixed order, so it does not
// depend on the caller's threads.
func Conv3x3Grad(s *[9]float32, src, gy []float32, p *Conv3x3Plan) {
	if len(src) < p.gradSrcLen || len(gy) < p.h*p.w {
		panic(fastgo.Errorf("kernels.Conv3x3Grad: %dx%d planes need %d padded input and %d gradient floats, have %d and %d", p.h, p.w, p.gradSrcLen, p.h*p.w, len(src), len(gy)))
	}
	if conv3x3GradTier(s, src, gy, p) {
		return
	}
	conv3x3GradGo(s, src, gy, p)
}

// conv3x3GradGo is Conv3x3Grad in Go.
func conv3x3GradGo(s *[9]float32, src, gy []float32, p *Conv3x3Plan) {
	wp := p.w + 1
	*s = [9]float32{}
	for i := 0; i < len(p.gradTab); i += 2 {
		so, g := p.gradTab[i], p.gradTab[i+1]
		n := 8
		if i >= 2*p.full {
			n = p.tail
		}
		for j := 0; j < n; j++ {
			for t := range s {
				s[t] += gy[g+j] * src[so+(t/3)*wp+t%3+j]
			}
		}
	}
}

// SrcLen is how many floats of the padded input a call of Conv3x3 reads:
// the padded plane, (h+2)*(w+1) floats, and the float after it, which must
// be zero. In the layout of same convolutions it is the first padding
// float of the next plane, or of the zeroed slack after the last one: the
// right padding of the plane's last row, as each row's right padding is
// the next row's first float.
func (p *Conv3x3Plan) SrcLen() int { return p.srcLen }

// Conv3x3 computes one output plane of a 3x3, stride-1, padding-1
// convolution of one input channel: dst[y*w+x] = bias + sum over ky, kx of
// k[3*ky+kx] * in(y+ky-1, x+kx-1), from src, the input plane padded as
// plan p describes, the taps added in that order. A first convolution
// layer on grey images (one input channel) is this per output channel,
// where im2col + GEMM has only 9 steps of k per tile.
func Conv3x3(dst, src []float32, p *Conv3x3Plan, k *[9]float32, bias float32) {
	if len(src) < p.srcLen || len(dst) < p.h*p.w {
		panic(fastgo.Errorf("kernels.Conv3x3: %dx%d planes need %d padded input and %d output floats, have %d and %d", p.h, p.w, p.srcLen, p.h*p.w, len(src), len(dst)))
	}
	if conv3x3Tier(dst, src, p, k, bias) {
		return
	}
	conv3x3Go(dst, src, p, k, bias)
}

// conv3x3Go is Conv3x3 in Go.
func conv3x3Go(dst, src []float32, p *Conv3x3Plan, k *[9]float32, bias float32) {
	wp := p.w + 1
	for i := 0; i < len(p.tab); i += 2 {
		s, d := p.tab[i], p.tab[i+1]
		for j := 0; j < 8; j++ {
			acc := bias
			for t := 0; t < 9; t++ {
				acc += k[t] * src[s+(t/3)*wp+t%3+j]
			}
			dst[d+j] = acc
		}
	}
}
