package autograd

import (
	"sync"

	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Conv2d's float32 path. Every GEMM runs over the whole batch at once with
// its operands packed straight from the tensors (kernels.SgemmPacked): the
// unfolded input ("im2col", Cin*KH*KW rows by N*OH*OW columns) is never
// stored, and the output is written in NCHW order directly.
//
//	forward   Y = W · unfold(X)                          (per group)
//	dX        stride 1: dX = conv(dY, W flipped and transposed), the same
//	          forward GEMM on dY; otherwise unfold(dX) = Wᵀ · dY in chunks
//	          of samples, folded back by col2im
//	dW        dWᵀ = unfold(X) · dYᵀ, split over fixed groups of samples
//	          (summed in order) when the GEMM alone cannot use every thread
//
// Every sum runs in an order fixed by the shapes, so results are
// bit-identical for any GOMAXPROCS.

// unfold is the unfolded view of an NCHW batch for one group of a
// convolution: row k is (channel c0 + k/(KH*KW), tap k%(KH*KW)), column j is
// (sample j/(OH*OW), output pixel j%(OH*OW)).
type unfold struct {
	src                    []float32
	c, h, w                int // channels, height and width of src
	c0                     int // the group's first channel
	kh, kw                 int
	sh, sw, ph, pw, dh, dw int
	oh, ow                 int
}

// pos is a column of the unfolded matrix as (sample, output row, output
// column), found once per packed block and then advanced by counting.
type pos struct{ n, oy, ox int }

// at returns the position of column j.
func (u *unfold) at(j int) pos {
	ohw := u.oh * u.ow
	q := j % ohw
	return pos{j / ohw, q / u.ow, q % u.ow}
}

// row writes row k of the unfolded matrix, from column position c on, to
// dst (len(dst) columns).
func (u *unfold) row(dst []float32, k int, c pos) {
	taps := u.kh * u.kw
	ci, t := u.c0+k/taps, k%taps
	offY, offX := (t/u.kw)*u.dh-u.ph, (t%u.kw)*u.dw-u.pw
	plane := u.h * u.w
	base := (c.n*u.c + ci) * plane // the input plane of sample c.n
	cPlane := u.c * plane
	n, oy, ox := c.n, c.oy, c.ox
	for d := 0; d < len(dst); {
		run := min(u.ow-ox, len(dst)-d)
		out := dst[d : d+run]
		if iy := oy*u.sh + offY; iy < 0 || iy >= u.h {
			clear(out)
		} else {
			src := u.src[base+iy*u.w : base+iy*u.w+u.w]
			if u.sw == 1 {
				ix0 := ox + offX
				lo := min(max(0, -ix0), run)
				hi := max(min(run, u.w-ix0), lo)
				clear(out[:lo])
				if hi > lo { // else the run lies wholly in the padding (ix0 may pass the row's end)
					copy(out[lo:hi], src[ix0+lo:ix0+hi])
				}
				clear(out[hi:])
			} else {
				ix := ox*u.sw + offX
				for i := range out {
					if ix >= 0 && ix < u.w {
						out[i] = src[ix]
					} else {
						out[i] = 0
					}
					ix += u.sw
				}
			}
		}
		d += run
		if ox += run; ox == u.ow {
			ox = 0
			if oy++; oy == u.oh {
				oy = 0
				n++
				base += cPlane
			}
		}
	}
}

// packB packs the unfolded matrix as the GEMM's B (rows are steps), its
// columns offset by j0.
func (u *unfold) packB(j0 int) func(dst []float32, p0, kc, col, w, nr int) {
	return func(dst []float32, p0, kc, col, w, nr int) {
		c := u.at(j0 + col)
		for p := 0; p < kc; p++ {
			row := dst[p*nr : (p+1)*nr]
			u.row(row[:w], p0+p, c)
			clear(row[w:])
		}
	}
}

// rowScratch holds the scratch rows of the packA functions (at most MR x
// kc floats, a few KiB): one per packing worker, reused without the
// allocation of a tensor per sliver (which a ResNet-18 step made 180,000
// of).
var rowScratch sync.Pool // of *[]float32

// getRowScratch returns a scratch of n floats from rowScratch; put it back
// with rowScratch.Put.
func getRowScratch(n int) *[]float32 {
	if p, ok := rowScratch.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// packA packs the unfolded matrix as the GEMM's A (rows are rows, its
// columns the steps), the columns offset by j0: the rows are gathered into
// a scratch, then packed by the tier's packer.
func (u *unfold) packA(j0 int) func(dst []float32, row, h, p0, kc, mr int) {
	return func(dst []float32, row, h, p0, kc, mr int) {
		tmp := getRowScratch(h * kc)
		t := *tmp
		c := u.at(j0 + p0)
		for i := 0; i < h; i++ {
			u.row(t[i*kc:(i+1)*kc], row+i, c)
		}
		kernels.PackRowsA(dst, t, kc, h, kc, mr)
		rowScratch.Put(tmp)
	}
}

// planes is an NCHW tensor seen as one group's matrix: row r is channel
// c0+r, column j is (sample j/hw, pixel j%hw).
type planes struct {
	d         []float32
	c, hw, c0 int
}

// at returns where element (r, j) lives and how many columns from j are
// contiguous (to the end of the sample's plane).
func (s *planes) at(r, j int) ([]float32, int, int) {
	n, q := j/s.hw, j%s.hw
	return s.d[(n*s.c+s.c0+r)*s.hw+q:], s.hw, s.hw - q
}

// packB packs the matrix as the GEMM's B, columns offset by j0.
func (s *planes) packB(j0 int) func(dst []float32, p0, kc, col, w, nr int) {
	return func(dst []float32, p0, kc, col, w, nr int) {
		for p := 0; p < kc; p++ {
			row := dst[p*nr : (p+1)*nr]
			for d := 0; d < w; {
				src, _, run := s.at(p0+p, j0+col+d)
				seg := min(run, w-d)
				copy(row[d:d+seg], src[:seg])
				d += seg
			}
			clear(row[w:])
		}
	}
}

// packBT packs the transpose of the matrix as the GEMM's B (steps are its
// columns, offset by j0; the GEMM's columns are its rows), one run of a
// sample's pixels at a time through the tier's transposing packer.
func (s *planes) packBT(j0 int) func(dst []float32, p0, kc, col, w, nr int) {
	return func(dst []float32, p0, kc, col, w, nr int) {
		for d := 0; d < kc; {
			src, ld, run := s.at(col, j0+p0+d)
			seg := min(run, kc-d)
			kernels.PackColsB(dst[d*nr:(d+seg)*nr], src, ld, seg, w, nr)
			d += seg
		}
	}
}

// c returns the GEMM's C mapping onto the matrix, columns offset by j0.
func (s *planes) cAt(j0 int) func(row, col int) ([]float32, int, int) {
	return func(row, col int) ([]float32, int, int) { return s.at(row, j0+col) }
}

// dense returns the C mapping of a plain row-major matrix.
func dense(c []float32, ldc, cols int) func(row, col int) ([]float32, int, int) {
	return func(row, col int) ([]float32, int, int) { return c[row*ldc+col:], ldc, cols - col }
}

// unfoldOf returns the unfolded view of x for group g of p.
func (p *convPlan) unfoldOf(x []float32, g int) *unfold {
	return &unfold{src: x, c: p.cin, h: p.h, w: p.w, c0: g * p.cinG, kh: p.geom.KH, kw: p.geom.KW,
		sh: p.geom.StrideH, sw: p.geom.StrideW, ph: p.geom.PadH, pw: p.geom.PadW,
		dh: p.geom.DilH, dw: p.geom.DilW, oh: p.oh, ow: p.ow}
}

// conv32Forward computes out = conv(x, w) + b.
func conv32Forward(p *convPlan, x, w, b, out []float32, relu bool, st *planeStats) {
	if p.sameConv() {
		sameForward(p, x, w, b, out, relu, st)
		return
	}
	cols := p.n * p.oh * p.ow
	for g := 0; g < p.groups; g++ {
		o := &planes{d: out, c: p.cout, hw: p.oh * p.ow, c0: g * p.coutG}
		kernels.SgemmPacked(p.coutG, cols, p.kG, 1, &kernels.Packed{
			PackA: kernels.PackerA(false, w[g*p.coutG*p.kG:], p.kG),
			PackB: p.unfoldOf(x, g).packB(0),
			C:     o.cAt(0),
		}, 0)
	}
	if b != nil || relu {
		ohw := p.oh * p.ow
		parallel.For(p.n*p.cout, 16, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				row := out[r*ohw : (r+1)*ohw]
				biasReLU(row, row, b, r%p.cout, relu)
			}
		})
	}
}

// conv32Backward computes gx, gw and gb (each when not nil) from gy.
func conv32Backward(p *convPlan, x, w, gy []float32, gx, gw, gb []float32) {
	if p.sameConv() {
		sameBackward(p, x, w, gy, gx, gw, gb)
		return
	}
	if gb != nil {
		conv32BiasGrad(p, gy, gb)
	}
	if gw != nil {
		conv32WeightGrad(p, x, gy, gw)
	}
	if gx != nil {
		if p.flippable() {
			conv32InputGradFlipped(p, w, gy, gx)
		} else {
			conv32InputGradCols(p, w, gy, gx)
		}
	}
}

// conv32BiasGrad sets gb[c] to the sum of gy over samples and pixels of
// channel c: each plane's sum by the SIMD reduction, added over samples in
// float64.
func conv32BiasGrad(p *convPlan, gy, gb []float32) {
	ohw := p.oh * p.ow
	parallel.For(p.cout, 4, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var s float64
			for n := 0; n < p.n; n++ {
				r, _ := kernels.BNStats(gy[(n*p.cout+c)*ohw:(n*p.cout+c+1)*ohw], 0)
				s += float64(r)
			}
			gb[c] = float32(s)
		}
	})
}

// conv32DWGroup is the number of samples whose weight gradients make one
// partial sum when the weight-gradient GEMM cannot use every thread: a
// constant, so the order of the sums does not depend on GOMAXPROCS.
const conv32DWGroup = 8

// The weight-gradient GEMM is split over sample groups when, given
// conv32RefThreads threads, it would run on fewer than conv32MinWorkers.
const (
	conv32RefThreads = 64
	conv32MinWorkers = 4
)

// conv32WeightGrad computes gw through dWᵀ = unfold(X) · dYᵀ per group.
func conv32WeightGrad(p *convPlan, x, gy, gw []float32) {
	ohw := p.oh * p.ow
	wT := tensor.Empty[float32](p.cout * p.kG)
	defer wT.Release()
	wt := wT.Data()
	for g := 0; g < p.groups; g++ {
		u := p.unfoldOf(x, g)
		dy := &planes{d: gy, c: p.cout, hw: ohw, c0: g * p.coutG}
		weightGradT(p, wt[g*p.kG*p.coutG:(g+1)*p.kG*p.coutG], ohw, u.packA, dy.packBT)
	}
	convTransposeWeight(p, wt, gw)
}

// weightGradT computes one group's transposed weight gradient dst [kG,
// coutG] = A · B over the n*perSample columns of the samples, A and B
// packed by packA(j0) and packB(j0) for columns offset by j0. When the GEMM
// alone cannot use every thread (the first layer of a small CNN) the
// samples go in fixed groups of conv32DWGroup, one single-threaded GEMM
// each, and the partials are added in order; whether to split depends on
// the shapes only (the GEMM's workers for a fixed number of threads), never
// on GOMAXPROCS, since it fixes the order of the sums.
func weightGradT(p *convPlan, dst []float32, perSample int,
	packA func(j0 int) func(dst []float32, row, h, p0, kc, mr int),
	packB func(j0 int) func(dst []float32, p0, kc, col, w, nr int)) {
	convWeightGEMMs.Add(1)
	cols := p.n * perSample
	if p.n <= conv32DWGroup || kernels.Workers(p.kG, p.coutG, cols, conv32RefThreads) >= conv32MinWorkers {
		kernels.SgemmPacked(p.kG, p.coutG, cols, 1, &kernels.Packed{
			PackA: packA(0), PackB: packB(0), C: dense(dst, p.coutG, p.coutG),
		}, 0)
		return
	}
	groups := (p.n + conv32DWGroup - 1) / conv32DWGroup
	part := tensor.Empty[float32](groups * len(dst))
	defer part.Release()
	pd := part.Data()
	parallel.For(groups, 1, func(lo, hi int) {
		for grp := lo; grp < hi; grp++ {
			n0, n1 := grp*conv32DWGroup, min((grp+1)*conv32DWGroup, p.n)
			j0 := n0 * perSample
			kernels.SgemmPacked(p.kG, p.coutG, (n1-n0)*perSample, 1, &kernels.Packed{
				PackA: packA(j0), PackB: packB(j0), C: dense(pd[grp*len(dst):(grp+1)*len(dst)], p.coutG, p.coutG), Threads: 1,
			}, 0)
		}
	})
	copy(dst, pd[:len(dst)])
	for grp := 1; grp < groups; grp++ {
		kernels.Axpy(1, pd[grp*len(dst):(grp+1)*len(dst)], dst)
	}
}

// flipKernel returns every group's kernel flipped in space and transposed
// ([groups, Cin/groups, Cout/groups*KH*KW]): the weight of the input
// gradient as a convolution of dY. The caller releases it.
func flipKernel(p *convPlan, w []float32) *tensor.Tensor {
	// Input channels in blocks of 16, output channels inside: each output
	// channel's read is one contiguous run and the writes are 16
	// sequential streams, where a loop over input channels inside writes
	// 4*Cout*KH*KW bytes apart (18 KB for 512x3x3) and misses L1 on every
	// kernel.
	const blk = 16
	taps := p.geom.KH * p.geom.KW
	kG := p.coutG * taps
	wf := tensor.Empty[float32](p.groups * p.cinG * kG)
	f := wf.Data()
	for grp := 0; grp < p.groups; grp++ {
		parallel.For((p.cinG+blk-1)/blk, 1, func(lo, hi int) {
			for c0 := lo * blk; c0 < min(hi*blk, p.cinG); c0 += blk {
				c1 := min(c0+blk, p.cinG)
				for co := 0; co < p.coutG; co++ {
					for ci := c0; ci < c1; ci++ {
						src := w[((grp*p.coutG+co)*p.cinG+ci)*taps:][:taps]
						dst := f[(grp*p.cinG+ci)*kG+co*taps:][:taps]
						for t, v := range src {
							dst[taps-1-t] = v
						}
					}
				}
			}
		})
	}
	return wf
}

// flippable reports whether the input gradient is a stride-1 convolution of
// dY with the flipped kernel: stride 1 and padding at most the dilated
// kernel's reach.
func (p *convPlan) flippable() bool {
	g := p.geom
	return g.StrideH == 1 && g.StrideW == 1 && g.PadH <= g.DilH*(g.KH-1) && g.PadW <= g.DilW*(g.KW-1)
}

// conv32InputGradFlipped computes gx as the convolution of gy with each
// group's kernel flipped and transposed (Cin/groups x Cout/groups*KH*KW),
// padded by the dilated kernel's reach less the forward padding.
func conv32InputGradFlipped(p *convPlan, w, gy, gx []float32) {
	g := p.geom
	kG := p.coutG * g.KH * g.KW
	wf := flipKernel(p, w)
	defer wf.Release()
	f := wf.Data()
	cols := p.n * p.h * p.w
	for grp := 0; grp < p.groups; grp++ {
		u := &unfold{src: gy, c: p.cout, h: p.oh, w: p.ow, c0: grp * p.coutG, kh: g.KH, kw: g.KW,
			sh: 1, sw: 1, ph: g.DilH*(g.KH-1) - g.PadH, pw: g.DilW*(g.KW-1) - g.PadW,
			dh: g.DilH, dw: g.DilW, oh: p.h, ow: p.w}
		o := &planes{d: gx, c: p.cin, hw: p.h * p.w, c0: grp * p.cinG}
		kernels.SgemmPacked(p.cinG, cols, kG, 1, &kernels.Packed{
			PackA: kernels.PackerA(false, f[grp*p.cinG*kG:], kG),
			PackB: u.packB(0),
			C:     o.cAt(0),
		}, 0)
	}
}

// conv32InputGradCols computes gx through unfold(dX) = Wᵀ · dY, in chunks of
// samples whose unfolded gradient fits the chunk budget, each folded back
// by col2im.
func conv32InputGradCols(p *convPlan, w, gy, gx []float32) {
	ohw := p.oh * p.ow
	S := p.chunk()
	dcols := tensor.Empty[float32](p.colsLen() * S)
	defer dcols.Release()
	dc := dcols.Data()
	for n0 := 0; n0 < p.n; n0 += S {
		s := min(S, p.n-n0)
		ld := s * ohw
		for grp := 0; grp < p.groups; grp++ {
			dy := &planes{d: gy, c: p.cout, hw: ohw, c0: grp * p.coutG}
			kernels.SgemmPacked(p.kG, ld, p.coutG, 1, &kernels.Packed{
				PackA: kernels.PackerA(true, w[grp*p.coutG*p.kG:], p.kG),
				PackB: dy.packB(n0 * ohw),
				C:     dense(dc[grp*p.kG*ld:], ld, ld),
			}, 0)
		}
		parallel.For(s, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				n := n0 + i
				tensor.Col2ImStrided(dc[i*ohw:], ld, p.cin, p.h, p.w, p.geom, gx[n*p.inPlane:(n+1)*p.inPlane])
			}
		})
	}
}
