package autograd

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Winograd F(4x4, 3x3) for float32 3x3 convolutions with stride 1,
// dilation 1 and one group (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2015), interpolation points 0, ±1, ±2 and
// infinity. Each 4x4 block of output ("tile") of one output channel is
//
//	Y = Aᵀ [ Σ_ci (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//
// where d is the 6x6 block of the (zero-padded) input under the tile and g
// the 3x3 kernel: the 36 products of the middle replace the 144 of the
// direct convolution, and the sum over input channels is, for each of the
// 36 positions ξ of the 6x6 domain, a GEMM
//
//	M[ξ] (Cout x tiles) = U[ξ] (Cout x Cin) · V[ξ] (Cin x tiles)
//
// run by fastgo's SGEMM. The three passes:
//
//	forward   the above, on the input padded by the convolution's padding
//	dX        the same forward on dY, with the kernel flipped in space and
//	          transposed (Cin x Cout), padded by 2 - padding
//	dW        dU[ξ] = dM[ξ] · V[ξ]ᵀ summed over tiles, dM = A dY Aᵀ per
//	          tile; dW = Gᵀ dU G
//
// F(4x4) rather than F(2x2): 4x fewer multiplications than the direct
// convolution instead of 2.25x, at an error vs float64 of about 1e-5 of the
// output's scale (1.2e-5 at most on the shapes of
// TestConvAlgorithmsConformance, 25x the GEMM's), which training in float32
// absorbs as it does the GEMM's rounding.
//
// Tiles are processed in chunks whose size depends on the shapes only. The
// transforms of a chunk are split over goroutines by channel and row of
// tiles, and its 36 GEMMs one per goroutine, single-threaded (the SGEMM's
// result does not depend on its threads), the parts claimed as they go
// (winoFor); each part writes its own outputs. The weight gradient sums the
// chunks in order. Every result is therefore bit-identical for any
// GOMAXPROCS.
//
// The input and output transforms run on a block of tiles of one channel
// at a time, split by position in the tile so that each of their two
// passes (down the columns, then across) is a column transform over all
// the block's tiles at once: kernels.WinoInputRows and WinoOutputRows, 8
// tiles per vector on the AVX2 tier (the AVX-512 tier uses the same), with
// the operation order of the pure-Go tier, so every tier gives the same
// bits. The kernel and gradient transforms (winoFilter, winoGradOut,
// winoFilterGrad) are plain Go.

// winoChunkFloats bounds the transformed input and output of one chunk of
// tiles (36*(Cin+Cout) floats per tile): 8 MiB, so that the GEMMs' operands
// stay in the last-level cache, unless the transformed kernel (36*Cin*Cout
// floats, times winoChunkPerWeight/36) is larger: every chunk reads it whole
// (and the weight gradient writes it), so the chunks are made as large.
// With 512 channels at 7x7 (batch 32), chunks of 8 MiB made the weight
// gradient 1.3x slower than im2col + GEMM; one chunk made it faster.
// Variables so that tests can force many chunks.
var (
	winoChunkFloats    = 1 << 21
	winoChunkPerWeight = 36
)

// winoable reports whether p can run on Winograd F(4x4, 3x3): a 3x3 kernel,
// stride 1, dilation 1, one group and padding at most 2 (so that the input
// gradient is a Winograd convolution too).
func (p *convPlan) winoable() bool {
	g := p.geom.Norm()
	return p.groups == 1 && g.KH == 3 && g.KW == 3 && g.StrideH == 1 && g.StrideW == 1 &&
		g.DilH == 1 && g.DilW == 1 && g.PadH <= 2 && g.PadW <= 2
}

// winoGeom is the tiling of one Winograd convolution: input [n, cin, h, w]
// padded by (ph, pw), output [n, cout, oh, ow].
type winoGeom struct {
	n, cin, h, w int
	ph, pw       int
	cout, oh, ow int
	th, tw       int // tiles down and across one image
	tiles        int // n*th*tw
	chunk        int // tiles per chunk
	ld           int // row stride of the transformed matrices (>= chunk)
	vs, ms       int // distance between the 36 matrices of V and of M
}

// winoSpread returns a distance of at least n floats between the 36
// matrices of a transform that is 64 bytes more than a multiple of 4 KiB:
// the transforms write (or read) the 36 matrices at once, one stream each,
// and streams 4 KiB apart would share one set of the L1 cache.
func winoSpread(n int) int { return (n+1023)/1024*1024 + 16 }

func newWinoGeom(n, cin, h, w, ph, pw, cout int) *winoGeom {
	oh, ow := h+2*ph-2, w+2*pw-2
	g := &winoGeom{n: n, cin: cin, h: h, w: w, ph: ph, pw: pw, cout: cout, oh: oh, ow: ow,
		th: (oh + 3) / 4, tw: (ow + 3) / 4}
	g.tiles = n * g.th * g.tw
	rows := n * g.th
	budget := max(winoChunkFloats, winoChunkPerWeight*cin*cout)
	per := max(1, budget/(36*(cin+cout)*g.tw)) // tile rows per chunk
	chunks := (rows + per - 1) / per
	g.chunk = (rows + chunks - 1) / chunks * g.tw
	g.ld = kernels.PaddedLD(g.chunk)
	g.vs, g.ms = winoSpread(cin*g.ld), winoSpread(cout*g.ld)
	return g
}

// winoFilter writes U[ξ][o][c] = (G g Gᵀ)[ξ] for the kernels g of w [co,
// ci, 3, 3].
func winoFilter(w []float32, co, ci int, u []float32) {
	stride := winoSpread(co * ci)
	winoFor(co, func(lo, hi int) {
		var t [18]float32
		for o := lo; o < hi; o++ {
			for c := 0; c < ci; c++ {
				k := w[(o*ci+c)*9:][:9]
				// t = G g: 6x3.
				for j := 0; j < 3; j++ {
					g0, g1, g2 := k[j], k[3+j], k[6+j]
					t[j] = g0 / 4
					t[3+j] = -(g0 + g1 + g2) / 6
					t[6+j] = -(g0 - g1 + g2) / 6
					t[9+j] = g0/24 + g1/12 + g2/6
					t[12+j] = g0/24 - g1/12 + g2/6
					t[15+j] = g2
				}
				// U = t Gᵀ: 6x6.
				dst := u[o*ci+c:]
				for i := 0; i < 6; i++ {
					g0, g1, g2 := t[3*i], t[3*i+1], t[3*i+2]
					r := i * 6 * stride
					dst[r] = g0 / 4
					dst[r+stride] = -(g0 + g1 + g2) / 6
					dst[r+2*stride] = -(g0 - g1 + g2) / 6
					dst[r+3*stride] = g0/24 + g1/12 + g2/6
					dst[r+4*stride] = g0/24 - g1/12 + g2/6
					dst[r+5*stride] = g2
				}
			}
		}
	})
}

// winoFilterGrad writes gw [co, ci, 3, 3] = Gᵀ dU G from dU [36][co][ci].
func winoFilterGrad(du []float32, co, ci int, gw []float32) {
	stride := winoSpread(co * ci)
	winoFor(co, func(lo, hi int) {
		var t [18]float32 // Gᵀ dU: 3x6
		for o := lo; o < hi; o++ {
			for c := 0; c < ci; c++ {
				src := du[o*ci+c:]
				for j := 0; j < 6; j++ {
					v0, v1, v2 := src[j*stride], src[(6+j)*stride], src[(12+j)*stride]
					v3, v4, v5 := src[(18+j)*stride], src[(24+j)*stride], src[(30+j)*stride]
					t[j] = v0/4 - (v1+v2)/6 + (v3+v4)/24
					t[6+j] = (v2-v1)/6 + (v3-v4)/12
					t[12+j] = (v3+v4-v1-v2)/6 + v5
				}
				dst := gw[(o*ci+c)*9:][:9]
				for i := 0; i < 3; i++ {
					v := t[6*i : 6*i+6]
					dst[3*i] = v[0]/4 - (v[1]+v[2])/6 + (v[3]+v[4])/24
					dst[3*i+1] = (v[2]-v[1])/6 + (v[3]-v[4])/12
					dst[3*i+2] = (v[3]+v[4]-v[1]-v[2])/6 + v[5]
				}
			}
		}
	})
}

// winoInput writes V[ξ][c][t-t0] (row stride g.ld) for the tiles [t0,
// t0+tc) (whole rows of tiles) of x [n, cin, h, w]. One parallel item is a
// channel's block of rows of tiles (about winoBlock tiles): the 6x6 input
// block of each tile is split by row i and column j (D[i][j][t], t the tile
// within the block, contiguous; zeros beyond the plane), then
// transformed down the columns (Bᵀ d, for each phase j) and across (· B,
// for each row of Bᵀ d), each over all the block's tiles at once by
// kernels.WinoInputRows (8 tiles per vector on the AVX2 tier); the second
// writes V's rows directly.
//
// The split goes through a strip per row i of the tiles: the input rows the
// block's rows of tiles read, each cut to the 4*tw columns from -pw (zeros
// beyond the plane) and laid end to end, so that tile t's window is
// strip[4t : 4t+6] and kernels.WinoSplit transposes all of them at once;
// columns 4 and 5 of the last tile of each row lie past its part of the
// strip and are set afterwards.
func winoInput(g *winoGeom, x []float32, t0, tc int, v []float32) {
	stride := g.vs
	rows := tc / g.tw
	rb := max(1, min(rows, winoBlock/g.tw)) // rows of tiles per item
	nb := (rows + rb - 1) / rb
	winoFor(g.cin*nb, func(lo, hi int) {
		mt := rb * g.tw
		bp := winoScratch(76*mt + 4)
		defer winoScratchPool.Put(bp)
		buf := *bp
		d, e, strip := buf[:36*mt], buf[36*mt:72*mt], buf[72*mt:]
		var last [2][winoBlock]float32 // columns 4 and 5 of each row's last tile
		for it := lo; it < hi; it++ {
			c, b := it/nb, it%nb
			r0, r1 := b*rb, min(rows, (b+1)*rb)
			nt := (r1 - r0) * g.tw // tiles of this item; D and E rows are nt apart
			for i := 0; i < 6; i++ {
				for r := r0; r < r1; r++ {
					last[0][r-r0], last[1][r-r0] = g.stripRow(x, c, t0/g.tw+r, i, strip[(r-r0)*4*g.tw:(r-r0+1)*4*g.tw])
				}
				clear(strip[4*nt : 4*nt+4])
				kernels.WinoSplit(d[6*i*nt:], nt, strip[:4*nt+4], nt)
				for r := r0; r < r1; r++ {
					t := (r-r0)*g.tw + g.tw - 1
					d[(6*i+4)*nt+t], d[(6*i+5)*nt+t] = last[0][r-r0], last[1][r-r0]
				}
			}
			for j := 0; j < 6; j++ { // E[i][j] = (Bᵀ D[·][j])[i]
				kernels.WinoInputRows(e[j*nt:], 6*nt, d[j*nt:], 6*nt, nt)
			}
			o := v[c*g.ld+r0*g.tw:]
			for i := 0; i < 6; i++ { // V[6i+k] = (E[i][·] B)[k]
				kernels.WinoInputRows(o[6*i*stride:], stride, e[6*i*nt:], nt, nt)
			}
		}
	})
}

// stripRow fills seg (4*tw floats) with row i of channel c's tiles in row
// of tiles R (over all images): input columns -pw to 4*tw-pw-1 of input row
// 4*ty-ph+i, zeros beyond the plane. It returns the values of columns 4*tw-pw
// and 4*tw-pw+1, which the row's last tile also reads.
func (g *winoGeom) stripRow(x []float32, c, R, i int, seg []float32) (c4, c5 float32) {
	img, ty := R/g.th, R%g.th
	y := ty*4 - g.ph + i
	if y < 0 || y >= g.h {
		clear(seg)
		return 0, 0
	}
	prow := x[((img*g.cin+c)*g.h+y)*g.w:][:g.w]
	// seg[k] is column k - pw.
	n := copy(seg[g.pw:], prow)
	clear(seg[:g.pw])
	clear(seg[g.pw+n:])
	if k := 4*g.tw - g.pw; k < g.w {
		c4 = prow[k]
	}
	if k := 4*g.tw - g.pw + 1; k < g.w {
		c5 = prow[k]
	}
	return c4, c5
}

// winoScratchPool holds the transforms' scratch buffers between calls (a
// few tens of KiB each, taken by every range of every call).
var winoScratchPool sync.Pool

// winoScratch returns a buffer of n floats from winoScratchPool, with
// arbitrary contents: the transforms write every element they read.
func winoScratch(n int) *[]float32 {
	p, _ := winoScratchPool.Get().(*[]float32)
	if p == nil || cap(*p) < n {
		b := make([]float32, n)
		p = &b
	}
	*p = (*p)[:n]
	return p
}

// winoBlock is about the number of tiles one transform item processes at
// once: its scratch (72 floats per tile) stays in the L1 and L2 caches.
const winoBlock = 64

// winoOutput writes the tiles [t0, t0+tc) (whole rows of tiles) of out [n,
// cout, oh, ow] from M[ξ][o][t-t0] (row stride g.ld). One parallel item is
// a channel's block of rows of tiles (about winoBlock tiles): Aᵀ M down the
// columns of each tile, then across, each over all the block's tiles at
// once by kernels.WinoOutputRows (8 tiles per vector on the AVX2 tier);
// then the 16 outputs of each tile into four output rows by
// kernels.WinoMerge, over all the block's tiles at once; and those rows
// into out, plus bias[o] when bias is not nil, then the ReLU when relu is
// set.
func winoOutput(g *winoGeom, m []float32, t0, tc int, out, bias []float32, relu bool) {
	stride := g.ms
	rows := tc / g.tw
	ohw := g.oh * g.ow
	wq := 4 * g.tw
	rb := max(1, min(rows, winoBlock/g.tw)) // rows of tiles per item
	nb := (rows + rb - 1) / rb
	winoFor(g.cout*nb, func(lo, hi int) {
		mt := rb * g.tw
		bp := winoScratch(56 * mt)
		defer winoScratchPool.Put(bp)
		buf := *bp
		t, y, z := buf[:24*mt], buf[24*mt:40*mt], buf[40*mt:]
		for it := lo; it < hi; it++ {
			o, b := it/nb, it%nb
			r0, r1 := b*rb, min(rows, (b+1)*rb)
			nt := (r1 - r0) * g.tw // tiles of this item; T and Y rows are nt apart
			src := m[o*g.ld+r0*g.tw:]
			for j := 0; j < 6; j++ { // T[i][j] = (Aᵀ M[·][j])[i]
				kernels.WinoOutputRows(t[j*nt:], 6*nt, src[j*stride:], 6*stride, nt)
			}
			for i := 0; i < 4; i++ { // Y[i][k] = (T[i][·] A)[k]
				kernels.WinoOutputRows(y[4*i*nt:], nt, t[6*i*nt:], nt, nt)
			}
			// Z[i] holds output row i of every row of tiles, end to end
			// (4*tw values per row of tiles).
			for i := 0; i < 4; i++ {
				kernels.WinoMerge(z[4*i*nt:], y[4*i*nt:], nt, nt)
			}
			for r := r0; r < r1; r++ {
				R := t0/g.tw + r
				img, ty := R/g.th, R%g.th
				plane := out[(img*g.cout+o)*ohw:][:ohw]
				for i := 0; i < min(4, g.oh-4*ty); i++ {
					zr := z[4*i*nt+(r-r0)*wq:]
					biasReLU(plane[(4*ty+i)*g.ow:(4*ty+i+1)*g.ow], zr[:g.ow], bias, o, relu)
				}
			}
		}
	})
}

// winoGradOut writes dM[ξ][o][t-t0] = (A dY Aᵀ)[ξ] (row stride g.ld) for
// the tiles [t0, t0+tc) (whole rows of tiles) of gy [n, cout, oh, ow],
// zero beyond its edges: per channel's row of tiles, four rows of dY in a
// zero-padded strip, transformed down the columns (A dY), then across each
// tile (· Aᵀ).
func winoGradOut(g *winoGeom, gy []float32, t0, tc int, dm []float32) {
	stride := g.ms
	rows := tc / g.tw
	ohw := g.oh * g.ow
	wq := 4 * g.tw
	winoFor(g.cout*rows, func(lo, hi int) {
		bp := winoScratch(10 * wq)
		defer winoScratchPool.Put(bp)
		buf := *bp
		in, t := buf[:4*wq], buf[4*wq:]
		for it := lo; it < hi; it++ {
			o, r := it/rows, it%rows
			R := t0/g.tw + r
			img, ty := R/g.th, R%g.th
			plane := gy[(img*g.cout+o)*ohw:][:ohw]
			for i := 0; i < 4; i++ {
				row := in[i*wq : (i+1)*wq]
				if y := 4*ty + i; y < g.oh {
					copy(row, plane[y*g.ow:(y+1)*g.ow])
					clear(row[g.ow:])
				} else {
					clear(row)
				}
			}
			y0, y1, y2, y3 := in[0:wq], in[wq:2*wq], in[2*wq:3*wq], in[3*wq:4*wq]
			r0, r1, r2 := t[0:wq], t[wq:2*wq], t[2*wq:3*wq]
			r3, r4, r5 := t[3*wq:4*wq], t[4*wq:5*wq], t[5*wq:6*wq]
			for j := range r0 {
				e0, e1, e2, e3 := y0[j], y1[j], y2[j], y3[j]
				a, bb := e0+e2, e1+e3
				c, d := e0+4*e2, 2*e1+8*e3
				r0[j] = e0
				r1[j] = a + bb
				r2[j] = a - bb
				r3[j] = c + d
				r4[j] = c - d
				r5[j] = e3
			}
			for tx := 0; tx < g.tw; tx++ {
				dst := dm[o*g.ld+r*g.tw+tx:]
				for i := 0; i < 6; i++ {
					e := t[i*wq+4*tx : i*wq+4*tx+4 : i*wq+4*tx+4]
					a, bb := e[0]+e[2], e[1]+e[3]
					c, d := e[0]+4*e[2], 2*e[1]+8*e[3]
					k := 6 * i * stride
					dst[k] = e[0]
					dst[k+stride] = a + bb
					dst[k+2*stride] = a - bb
					dst[k+3*stride] = c + d
					dst[k+4*stride] = c - d
					dst[k+5*stride] = e[3]
				}
			}
		}
	})
}

// winoFor calls fn(lo, hi) over disjoint ranges that cover [0, n), which
// the caller and the workers it can reserve claim as they go (about 64
// ranges in all): on a machine whose CPUs are busy with other work, a
// worker that starts late takes fewer ranges instead of holding up the
// others, as in the GEMM (parallel.Team.RunHelpers). Each range writes its
// own outputs, so which goroutine runs it changes no result.
func winoFor(n int, fn func(lo, hi int)) {
	threads := runtime.GOMAXPROCS(0)
	grain := max(1, n/64)
	if threads == 1 || n <= grain {
		fn(0, n)
		return
	}
	var next atomic.Int64
	team := parallel.Reserve(threads)
	team.RunHelpers(team.Size(), func(int) {
		for {
			lo := int(next.Add(int64(grain))) - grain
			if lo >= n {
				return
			}
			fn(lo, min(lo+grain, n))
		}
	})
}

// winoGEMMs runs the 36 GEMMs C[ξ] = A[ξ]·op(B[ξ]) + beta*C[ξ], one per
// goroutine at a time, each single-threaded: A[ξ] is m x k at a[ξ*aStride]
// (row stride lda), op(B[ξ]) k x n at b[ξ*bStride] (stored n x k when
// transB, row stride ldb), C[ξ] m x n at c[ξ*cStride] (row stride ldc).
func winoGEMMs(m, n, k int, a []float32, aStride, lda int, transB bool, b []float32, bStride, ldb int,
	beta float32, c []float32, cStride, ldc int) {
	winoFor(36, func(lo, hi int) {
		for x := lo; x < hi; x++ {
			kernels.SgemmPacked(m, n, k, 1, &kernels.Packed{
				PackA:   kernels.PackerA(false, a[x*aStride:], lda),
				PackB:   kernels.PackerB(transB, b[x*bStride:], ldb),
				C:       dense(c[x*cStride:], ldc, n),
				Threads: 1,
			}, beta)
		}
	})
}

// winoConv computes out [n, co, oh, ow] = the 3x3 convolution of x [n, ci,
// h, w], padded by (ph, pw), with the transformed kernels u [36][co][ci],
// plus bias (when not nil), then the ReLU when relu is set.
func winoConv(x []float32, n, ci, h, w, ph, pw int, u []float32, co int, out, bias []float32, relu bool) {
	g := newWinoGeom(n, ci, h, w, ph, pw, co)
	vt := tensor.Empty[float32](36 * g.vs)
	defer vt.Release()
	mt := tensor.Empty[float32](36 * g.ms)
	defer mt.Release()
	v, m := vt.Data(), mt.Data()
	for t0 := 0; t0 < g.tiles; t0 += g.chunk {
		tc := min(g.chunk, g.tiles-t0)
		winoInput(g, x, t0, tc, v)
		winoGEMMs(co, tc, ci, u, winoSpread(co*ci), ci, false, v, g.vs, g.ld, 0, m, g.ms, g.ld)
		winoOutput(g, m, t0, tc, out, bias, relu)
	}
}

// winoForward is convForward on Winograd F(4x4, 3x3).
func winoForward(p *convPlan, x, w, b, out []float32, relu bool) {
	ut := tensor.Empty[float32](36 * winoSpread(p.cout*p.cin))
	defer ut.Release()
	u := ut.Data()
	winoFilter(w, p.cout, p.cin, u)
	winoConv(x, p.n, p.cin, p.h, p.w, p.geom.PadH, p.geom.PadW, u, p.cout, out, b, relu)
}

// winoInputGrad computes gx as the Winograd convolution of gy with the
// flipped and transposed kernel, padded by 2 - padding.
func winoInputGrad(p *convPlan, w, gy, gx []float32) {
	wf := flipKernel(p, w) // [cin, cout, 3, 3]
	defer wf.Release()
	ut := tensor.Empty[float32](36 * winoSpread(p.cout*p.cin))
	defer ut.Release()
	u := ut.Data()
	winoFilter(wf.Data(), p.cin, p.cout, u)
	winoConv(gy, p.n, p.cout, p.oh, p.ow, 2-p.geom.PadH, 2-p.geom.PadW, u, p.cin, gx, nil, false)
}

// winoWeightGrad computes gw from x and gy: dU[ξ] = Σ_chunks dM[ξ] ·
// V[ξ]ᵀ, chunk after chunk in order, then gw = Gᵀ dU G.
func winoWeightGrad(p *convPlan, x, gy, gw []float32) {
	convWeightGEMMs.Add(1)
	g := newWinoGeom(p.n, p.cin, p.h, p.w, p.geom.PadH, p.geom.PadW, p.cout)
	vt := tensor.Empty[float32](36 * g.vs)
	defer vt.Release()
	mt := tensor.Empty[float32](36 * g.ms)
	defer mt.Release()
	ut := tensor.Empty[float32](36 * winoSpread(p.cout*p.cin))
	defer ut.Release()
	v, dm, du := vt.Data(), mt.Data(), ut.Data()
	for t0 := 0; t0 < g.tiles; t0 += g.chunk {
		tc := min(g.chunk, g.tiles-t0)
		winoInput(g, x, t0, tc, v)
		winoGradOut(g, gy, t0, tc, dm)
		var beta float32
		if t0 > 0 {
			beta = 1
		}
		winoGEMMs(p.cout, p.cin, tc, dm, g.ms, g.ld, true, v, g.vs, g.ld, beta, du, winoSpread(p.cout*p.cin), p.cin)
	}
	winoFilterGrad(du, p.cout, p.cin, gw)
}
