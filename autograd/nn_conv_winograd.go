package autograd

import (
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
// convolution instead of 2.25x, at an error vs float64 still below 1e-5 of
// the output's scale on ResNet shapes (see TestConvAlgorithmsConformance).
//
// Tiles are processed in chunks whose size depends on the shapes only; the
// transforms of a chunk are split over goroutines by channel and block of
// tiles (each writes its own outputs), and its 36 GEMMs run one per
// goroutine, single-threaded (the SGEMM's result does not depend on its
// threads). The weight gradient sums the chunks in order. Every result is
// therefore bit-identical for any GOMAXPROCS.
//
// The transforms are plain Go (scalar code on a 6x6 array the compiler
// keeps in registers and stack), used by every kernel tier alike.

// winoTiles is the number of tiles a parallel item of a transform covers.
const winoTiles = 64

// winoChunkFloats bounds the transformed input and output of one chunk of
// tiles (36*(Cin+Cout) floats per tile): 8 MiB, so that the GEMMs' operands
// stay in the last-level cache. A variable so that tests can force many
// chunks.
var winoChunkFloats = 1 << 21

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
}

func newWinoGeom(n, cin, h, w, ph, pw, cout int) *winoGeom {
	oh, ow := h+2*ph-2, w+2*pw-2
	g := &winoGeom{n: n, cin: cin, h: h, w: w, ph: ph, pw: pw, cout: cout, oh: oh, ow: ow,
		th: (oh + 3) / 4, tw: (ow + 3) / 4}
	g.tiles = n * g.th * g.tw
	per := max(16, winoChunkFloats/(36*(cin+cout)))
	chunks := (g.tiles + per - 1) / per
	g.chunk = (g.tiles + chunks - 1) / chunks
	g.ld = kernels.PaddedLD(g.chunk)
	return g
}

// tileOrigin returns the image of tile t and the top-left corner of its
// output block.
func (g *winoGeom) tileOrigin(t int) (img, y, x int) {
	per := g.th * g.tw
	img, r := t/per, t%per
	return img, (r / g.tw) * 4, (r % g.tw) * 4
}

// winoFilter writes U[ξ][o][c] = (G g Gᵀ)[ξ] for the kernels g of w [co,
// ci, 3, 3].
func winoFilter(w []float32, co, ci int, u []float32) {
	stride := co * ci
	parallel.For(co, 4, func(lo, hi int) {
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
	stride := co * ci
	parallel.For(co, 4, func(lo, hi int) {
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

// winoLoad copies the 6x6 block of plane (h x w) whose top-left corner is
// (y0, x0) into d, with zeros outside the plane.
func winoLoad(d *[36]float32, plane []float32, h, w, y0, x0 int) {
	if y0 >= 0 && x0 >= 0 && y0+6 <= h && x0+6 <= w {
		for i := 0; i < 6; i++ {
			copy(d[6*i:6*i+6], plane[(y0+i)*w+x0:])
		}
		return
	}
	for i := 0; i < 6; i++ {
		y := y0 + i
		row := d[6*i : 6*i+6]
		if y < 0 || y >= h {
			clear(row)
			continue
		}
		src := plane[y*w : (y+1)*w]
		for j := range row {
			if x := x0 + j; x >= 0 && x < w {
				row[j] = src[x]
			} else {
				row[j] = 0
			}
		}
	}
}

// winoInputTile computes Bᵀ d B in place.
func winoInputTile(d *[36]float32) {
	for j := 0; j < 6; j++ {
		d0, d1, d2, d3, d4, d5 := d[j], d[6+j], d[12+j], d[18+j], d[24+j], d[30+j]
		d[j] = 4*d0 - 5*d2 + d4
		d[6+j] = d3 + d4 - 4*(d1+d2)
		d[12+j] = 4*(d1-d2) - d3 + d4
		d[18+j] = 2*(d3-d1) - d2 + d4
		d[24+j] = 2*(d1-d3) - d2 + d4
		d[30+j] = 4*d1 - 5*d3 + d5
	}
	for i := 0; i < 36; i += 6 {
		r := d[i : i+6 : i+6]
		d0, d1, d2, d3, d4, d5 := r[0], r[1], r[2], r[3], r[4], r[5]
		r[0] = 4*d0 - 5*d2 + d4
		r[1] = d3 + d4 - 4*(d1+d2)
		r[2] = 4*(d1-d2) - d3 + d4
		r[3] = 2*(d3-d1) - d2 + d4
		r[4] = 2*(d1-d3) - d2 + d4
		r[5] = 4*d1 - 5*d3 + d5
	}
}

// winoInput writes V[ξ][c][t-t0] (row stride g.ld) for the tiles [t0,
// t0+tc) of x [n, cin, h, w].
func winoInput(g *winoGeom, x []float32, t0, tc int, v []float32) {
	stride := g.cin * g.ld
	blocks := (tc + winoTiles - 1) / winoTiles
	hw := g.h * g.w
	parallel.For(g.cin*blocks, 1, func(lo, hi int) {
		var d [36]float32
		for it := lo; it < hi; it++ {
			c, b := it/blocks, it%blocks
			for tt := b * winoTiles; tt < min(tc, (b+1)*winoTiles); tt++ {
				img, y, xx := g.tileOrigin(t0 + tt)
				winoLoad(&d, x[(img*g.cin+c)*hw:][:hw], g.h, g.w, y-g.ph, xx-g.pw)
				winoInputTile(&d)
				o := v[c*g.ld+tt:]
				for k, e := range d {
					o[k*stride] = e
				}
			}
		}
	})
}

// winoOutput writes the tiles [t0, t0+tc) of out [n, cout, oh, ow] from
// M[ξ][o][t-t0] (row stride g.ld): Aᵀ M A, plus bias[o] when bias is not
// nil, then the ReLU when relu is set.
func winoOutput(g *winoGeom, m []float32, t0, tc int, out, bias []float32, relu bool) {
	stride := g.cout * g.ld
	blocks := (tc + winoTiles - 1) / winoTiles
	ohw := g.oh * g.ow
	parallel.For(g.cout*blocks, 1, func(lo, hi int) {
		var s [36]float32
		var t [24]float32 // Aᵀ M: 4x6
		for it := lo; it < hi; it++ {
			o, b := it/blocks, it%blocks
			var bo float32
			if bias != nil {
				bo = bias[o]
			}
			for tt := b * winoTiles; tt < min(tc, (b+1)*winoTiles); tt++ {
				src := m[o*g.ld+tt:]
				for k := range s {
					s[k] = src[k*stride]
				}
				for j := 0; j < 6; j++ {
					m0, m1, m2, m3, m4, m5 := s[j], s[6+j], s[12+j], s[18+j], s[24+j], s[30+j]
					a, bb := m1+m2, m1-m2
					c, d := m3+m4, m3-m4
					t[j] = m0 + a + c
					t[6+j] = bb + 2*d
					t[12+j] = a + 4*c
					t[18+j] = bb + 8*d + m5
				}
				img, y0, x0 := g.tileOrigin(t0 + tt)
				plane := out[(img*g.cout+o)*ohw:][:ohw]
				rows, cols := min(4, g.oh-y0), min(4, g.ow-x0)
				for i := 0; i < rows; i++ {
					r := t[6*i : 6*i+6 : 6*i+6]
					a, bb := r[1]+r[2], r[1]-r[2]
					c, d := r[3]+r[4], r[3]-r[4]
					y := [4]float32{r[0] + a + c + bo, bb + 2*d + bo, a + 4*c + bo, bb + 8*d + r[5] + bo}
					if relu {
						for k, e := range y {
							if !(e > 0) {
								y[k] = 0
							}
						}
					}
					copy(plane[(y0+i)*g.ow+x0:][:cols], y[:cols])
				}
			}
		}
	})
}

// winoGradOut writes dM[ξ][o][t-t0] = (A dY Aᵀ)[ξ] (row stride g.ld) for
// the tiles [t0, t0+tc) of gy [n, cout, oh, ow] (zero beyond its edges).
func winoGradOut(g *winoGeom, gy []float32, t0, tc int, dm []float32) {
	stride := g.cout * g.ld
	blocks := (tc + winoTiles - 1) / winoTiles
	ohw := g.oh * g.ow
	parallel.For(g.cout*blocks, 1, func(lo, hi int) {
		var y [16]float32
		var t [24]float32 // A dY: 6x4
		for it := lo; it < hi; it++ {
			o, b := it/blocks, it%blocks
			for tt := b * winoTiles; tt < min(tc, (b+1)*winoTiles); tt++ {
				img, y0, x0 := g.tileOrigin(t0 + tt)
				plane := gy[(img*g.cout+o)*ohw:][:ohw]
				rows, cols := min(4, g.oh-y0), min(4, g.ow-x0)
				clear(y[:])
				for i := 0; i < rows; i++ {
					copy(y[4*i:4*i+cols], plane[(y0+i)*g.ow+x0:])
				}
				for j := 0; j < 4; j++ {
					e0, e1, e2, e3 := y[j], y[4+j], y[8+j], y[12+j]
					a, bb := e0+e2, e1+e3
					c, d := e0+4*e2, 2*e1+8*e3
					t[j] = e0
					t[4+j] = a + bb
					t[8+j] = a - bb
					t[12+j] = c + d
					t[16+j] = c - d
					t[20+j] = e3
				}
				dst := dm[o*g.ld+tt:]
				for i := 0; i < 6; i++ {
					r := t[4*i : 4*i+4 : 4*i+4]
					a, bb := r[0]+r[2], r[1]+r[3]
					c, d := r[0]+4*r[2], 2*r[1]+8*r[3]
					k := 6 * i * stride
					dst[k] = r[0]
					dst[k+stride] = a + bb
					dst[k+2*stride] = a - bb
					dst[k+3*stride] = c + d
					dst[k+4*stride] = c - d
					dst[k+5*stride] = r[3]
				}
			}
		}
	})
}

// winoGEMMs runs the 36 GEMMs C[ξ] = A[ξ]·op(B[ξ]) + beta*C[ξ], one per
// goroutine at a time, each single-threaded: A[ξ] is m x k at a[ξ*aStride]
// (row stride lda), op(B[ξ]) k x n at b[ξ*bStride] (stored n x k when
// transB, row stride ldb), C[ξ] m x n at c[ξ*cStride] (row stride ldc).
func winoGEMMs(m, n, k int, a []float32, aStride, lda int, transB bool, b []float32, bStride, ldb int,
	beta float32, c []float32, cStride, ldc int) {
	parallel.For(36, 1, func(lo, hi int) {
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
	vt := tensor.Empty[float32](36 * ci * g.ld)
	defer vt.Release()
	mt := tensor.Empty[float32](36 * co * g.ld)
	defer mt.Release()
	v, m := vt.Data(), mt.Data()
	for t0 := 0; t0 < g.tiles; t0 += g.chunk {
		tc := min(g.chunk, g.tiles-t0)
		winoInput(g, x, t0, tc, v)
		winoGEMMs(co, tc, ci, u, co*ci, ci, false, v, ci*g.ld, g.ld, 0, m, co*g.ld, g.ld)
		winoOutput(g, m, t0, tc, out, bias, relu)
	}
}

// winoForward is convForward on Winograd F(4x4, 3x3).
func winoForward(p *convPlan, x, w, b, out []float32, relu bool) {
	ut := tensor.Empty[float32](36 * p.cout * p.cin)
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
	ut := tensor.Empty[float32](36 * p.cout * p.cin)
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
	vt := tensor.Empty[float32](36 * p.cin * g.ld)
	defer vt.Release()
	mt := tensor.Empty[float32](36 * p.cout * g.ld)
	defer mt.Release()
	ut := tensor.Empty[float32](36 * p.cout * p.cin)
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
		winoGEMMs(p.cout, p.cin, tc, dm, p.cout*g.ld, g.ld, true, v, p.cin*g.ld, g.ld, beta, du, p.cout*p.cin, p.cin)
	}
	winoFilterGrad(du, p.cout, p.cin, gw)
}
