package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The kernels of the normalisation and pooling layers.
//
// The reductions (bnStats, sumDot) accumulate 32 partial sums, element i
// going to partial i%32, over the whole multiple of 32 of their input; the
// Go side adds the tail in the same layout and reduces the partials in a
// fixed tree. Every tier therefore rounds alike, and results do not depend
// on the tier.

// nnKernels512 emits the AVX-512 kernels.
func nnKernels512() {
	reduce2(isa512, "bnStats", "func(n int, x *float32, shift float32, out *float32)",
		"accumulates d = x - shift and d*d into out's 32+32 partials",
		[]string{"x"}, []string{"shift"},
		func(in map[string]VecVirtual, ks []VecVirtual, s1, s2 VecVirtual) {
			d, k := in["x"], ks[0]
			VSUBPS(k, d, d)
			VADDPS(d, s1, s1)
			VMULPS(d, d, d)
			VADDPS(d, s2, s2)
		})
	reduce2(isa512, "sumDot", "func(n int, grad, x *float32, mu float32, out *float32)",
		"accumulates g and g*(x - mu) into out's 32+32 partials",
		[]string{"grad", "x"}, []string{"mu"},
		func(in map[string]VecVirtual, ks []VecVirtual, s1, s2 VecVirtual) {
			g, d, k := in["grad"], in["x"], ks[0]
			VSUBPS(k, d, d)
			VMULPS(d, g, d)
			VADDPS(g, s1, s1)
			VADDPS(d, s2, s2)
		})
	reduce2(isa512, "sumDotMask", "func(n int, grad, x *float32, mu, a, b float32, out *float32)",
		"accumulates gm and gm*(x - mu), gm = grad where x*a + b > 0 (the multiply rounded) else 0, into out's 32+32 partials",
		[]string{"grad", "x"}, []string{"mu", "a", "b"},
		func(in map[string]VecVirtual, ks []VecVirtual, s1, s2 VecVirtual) {
			g, d := in["grad"], in["x"]
			t, z := ZMM(), ZMM()
			VMULPS(ks[1], d, t)
			VADDPS(ks[2], t, t)
			VPXORD(z, z, z)
			m := K()
			VCMPPS(U8(0x1e), z, t, m) // x*a + b > 0, ordered
			VMOVUPS_Z(g, m, g)
			VSUBPS(ks[0], d, d)
			VMULPS(d, g, d)
			VADDPS(g, s1, s1)
			VADDPS(d, s2, s2)
		})
	nnElementwise(isa512)
	maxPool2x2Forward512()
	maxPool2x2Backward512()
}

// nnKernels256 emits the AVX2 kernels (max-pool has none: the Go code runs).
func nnKernels256() {
	reduce2(isa256, "bnStats", "func(n int, x *float32, shift float32, out *float32)",
		"accumulates d = x - shift and d*d into out's 32+32 partials",
		[]string{"x"}, []string{"shift"},
		func(in map[string]VecVirtual, ks []VecVirtual, s1, s2 VecVirtual) {
			d, k := in["x"], ks[0]
			VSUBPS(k, d, d)
			VADDPS(d, s1, s1)
			VMULPS(d, d, d)
			VADDPS(d, s2, s2)
		})
	reduce2(isa256, "sumDot", "func(n int, grad, x *float32, mu float32, out *float32)",
		"accumulates g and g*(x - mu) into out's 32+32 partials",
		[]string{"grad", "x"}, []string{"mu"},
		func(in map[string]VecVirtual, ks []VecVirtual, s1, s2 VecVirtual) {
			g, d, k := in["grad"], in["x"], ks[0]
			VSUBPS(k, d, d)
			VMULPS(d, g, d)
			VADDPS(g, s1, s1)
			VADDPS(d, s2, s2)
		})
	reduce2(isa256, "sumDotMask", "func(n int, grad, x *float32, mu, a, b float32, out *float32)",
		"accumulates gm and gm*(x - mu), gm = grad where x*a + b > 0 (the multiply rounded) else 0, into out's 32+32 partials",
		[]string{"grad", "x"}, []string{"mu", "a", "b"},
		func(in map[string]VecVirtual, ks []VecVirtual, s1, s2 VecVirtual) {
			g, d := in["grad"], in["x"]
			t, z := YMM(), YMM()
			VMULPS(ks[1], d, t)
			VADDPS(ks[2], t, t)
			VXORPS(z, z, z)
			VCMPPS(U8(0x1e), z, t, t) // x*a + b > 0, ordered: all ones or zeros
			VANDPS(t, g, g)
			VSUBPS(ks[0], d, d)
			VMULPS(d, g, d)
			VADDPS(g, s1, s1)
			VADDPS(d, s2, s2)
		})
	nnElementwise(isa256)
}

// reduce2 emits a kernel that walks n (a multiple of 32) floats of the
// pointer parameters ptrs, 32 at a time, and accumulates two sets of 32
// partial sums, stored at out[0:32] and out[32:64]. body gets one vector of
// each input (loaded fresh, so it may overwrite them), the broadcast scalar
// parameters, and the two accumulators of the vector's lanes.
func reduce2(isa vecISA, base, sig, doc string, ptrs []string, scalars []string, body func(in map[string]VecVirtual, ks []VecVirtual, s1, s2 VecVirtual)) {
	name := base + isa.suffix
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(fmt.Sprintf("%s %s, over n floats (n a multiple of 32).", name, doc))
	n := Load(Param("n"), GP64()).(GPVirtual)
	regs := map[string]GPVirtual{}
	for _, p := range ptrs {
		regs[p] = Load(Param(p), GP64()).(GPVirtual)
	}
	out := Load(Param("out"), GP64()).(GPVirtual)
	ks := make([]VecVirtual, len(scalars))
	for i, sc := range scalars {
		ks[i] = bcast(isa, sc)
	}
	vecs := 32 / isa.lanes // vectors per 32 floats
	s1 := make([]VecVirtual, vecs)
	s2 := make([]VecVirtual, vecs)
	for v := 0; v < vecs; v++ {
		s1[v], s2[v] = zero(isa), zero(isa)
	}
	Label(name + "_loop")
	CMPQ(n, U8(32))
	JL(LabelRef(name + "_done"))
	for v := 0; v < vecs; v++ {
		in := map[string]VecVirtual{}
		for _, p := range ptrs {
			r := isa.vec()
			VMOVUPS(Mem{Base: regs[p], Disp: v * isa.lanes * 4}, r)
			in[p] = r
		}
		body(in, ks, s1[v], s2[v])
	}
	for _, p := range ptrs {
		ADDQ(U8(128), regs[p])
	}
	SUBQ(U8(32), n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	for v := 0; v < vecs; v++ {
		VMOVUPS(s1[v], Mem{Base: out, Disp: v * isa.lanes * 4})
		VMOVUPS(s2[v], Mem{Base: out, Disp: 128 + v*isa.lanes*4})
	}
	VZEROUPPER()
	RET()
}

// nnElementwise emits the element-wise kernels of batch-norm.
func nnElementwise(isa vecISA) {
	type ab struct{ a, b VecVirtual }
	elementwise(isa, "affine", "func(n int, dst, x *float32, a, b float32)", "computes dst = x*a + b",
		[]string{"dst", "x"}, 4,
		func() any { return ab{bcast(isa, "a"), bcast(isa, "b")} },
		func(c ewCtx, k any) {
			s := k.(ab)
			x := c.load("x")
			VMULPS(s.a, x, x)
			VADDPS(s.b, x, x)
			c.store(x, "dst")
		})
	type abz struct{ a, b, z VecVirtual }
	elementwise(isa, "affineRelu", "func(n int, dst, x *float32, a, b float32)", "computes dst = max(x*a + b, 0)",
		[]string{"dst", "x"}, 4,
		func() any { return abz{bcast(isa, "a"), bcast(isa, "b"), zero(isa)} },
		func(c ewCtx, k any) {
			s := k.(abz)
			x := c.load("x")
			VMULPS(s.a, x, x)
			VADDPS(s.b, x, x)
			VMAXPS(s.z, x, x)
			c.store(x, "dst")
		})
	type c3m struct{ a, b, c1, c2, c3, z VecVirtual }
	elementwise(isa, "bnBackwardMask", "func(n int, dst, grad, x *float32, a, b, c1, c2, c3 float32)",
		"computes dst = (c1*gm + c2*x) + c3, gm = grad where x*a + b > 0 (the multiply rounded) else 0",
		[]string{"dst", "grad", "x"}, 2,
		func() any {
			return c3m{bcast(isa, "a"), bcast(isa, "b"), bcast(isa, "c1"), bcast(isa, "c2"), bcast(isa, "c3"), zero(isa)}
		},
		func(c ewCtx, k any) {
			s := k.(c3m)
			g := c.load("grad")
			x := c.load("x")
			t := isa.vec()
			VMULPS(s.a, x, t)
			VADDPS(s.b, t, t)
			if isa.masked {
				m := K()
				VCMPPS(U8(0x1e), s.z, t, m)
				VMOVUPS_Z(g, m, g)
			} else {
				VCMPPS(U8(0x1e), s.z, t, t)
				VANDPS(t, g, g)
			}
			VMULPS(s.c1, g, g)
			VMULPS(s.c2, x, x)
			VADDPS(x, g, g)
			VADDPS(s.c3, g, g)
			c.store(g, "dst")
		})
	type c3 struct{ c1, c2, c3 VecVirtual }
	elementwise(isa, "bnBackward", "func(n int, dst, grad, x *float32, c1, c2, c3 float32)", "computes dst = (c1*g + c2*x) + c3",
		[]string{"dst", "grad", "x"}, 4,
		func() any { return c3{bcast(isa, "c1"), bcast(isa, "c2"), bcast(isa, "c3")} },
		func(c ewCtx, k any) {
			s := k.(c3)
			g := c.load("grad")
			x := c.load("x")
			VMULPS(s.c1, g, g)
			VMULPS(s.c2, x, x)
			VADDPS(x, g, g)
			VADDPS(s.c3, g, g)
			c.store(g, "dst")
		})
}

// permTable emits a 16-entry int32 table in read-only data.
func permTable(name string, f func(i int) int) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(f(i)))
	}
	return m
}

// pool2Masks sets the masks of a partial block of j < 16 outputs: kout for
// the j outputs, klo and khi for the 2j inputs of a row (first and second
// vector).
func pool2Masks(j GPVirtual, kout, klo, khi Op) {
	all, m, t := GP32(), GP32(), GP32()
	MOVL(U32(0xffffffff), all)
	BZHIL(j.As32(), all, m)
	KMOVW(m, kout)
	LEAL(Mem{Base: j, Index: j, Scale: 1}, t) // 2j < 32
	BZHIL(t, all, m)
	KMOVW(m, klo)
	SHRL(U8(16), m)
	KMOVW(m, khi)
}

// maxPool2x2Forward512 emits the 2x2, stride-2 max pool over rows of
// output: for each of rows output rows, the top input row starts at x +
// r*stride floats and the bottom one w floats later; the row's ow outputs go
// to dst + r*ow and their window positions (0 top-left, 1 top-right, 2
// bottom-left, 3 bottom-right) to code + r*ow. Ties go to the first
// position, and a NaN wins over any number unless an earlier one did.
func maxPool2x2Forward512() {
	even := permTable("poolEvenIdx", func(i int) int { return 2 * i })
	odd := permTable("poolOddIdx", func(i int) int { return 2*i + 1 })
	name := "maxPool2x2x512"
	TEXT(name, NOSPLIT, "func(rows, ow, stride, w int, x, dst *float32, code *uint8)")
	Pragma("noescape")
	Doc(name + " computes rows of a 2x2 stride-2 max pool and the window position of each maximum (AVX-512).")
	rows := Load(Param("rows"), GP64()).(GPVirtual)
	ow := Load(Param("ow"), GP64()).(GPVirtual)
	stride := Load(Param("stride"), GP64()).(GPVirtual)
	w := Load(Param("w"), GP64()).(GPVirtual)
	x := Load(Param("x"), GP64()).(GPVirtual)
	dst := Load(Param("dst"), GP64()).(GPVirtual)
	code := Load(Param("code"), GP64()).(GPVirtual)
	SHLQ(U8(2), stride)
	SHLQ(U8(2), w)

	ie, io := ZMM(), ZMM()
	VMOVDQU32(even, ie)
	VMOVDQU32(odd, io)
	var cst [4]VecVirtual
	for c := 1; c <= 3; c++ {
		g := GP32()
		MOVL(U32(c), g)
		cst[c] = ZMM()
		VPBROADCASTD(g, cst[c])
	}
	kout, klo, khi := K(), K(), K()

	// block computes 16 outputs from the loaded vectors and stores them
	// (masked by kout when partial).
	block := func(t, o, cp GPVirtual, partial bool) {
		a0, a1, b0, b1 := ZMM(), ZMM(), ZMM(), ZMM()
		bot := Mem{Base: t, Index: w, Scale: 1}
		bot64 := Mem{Base: t, Index: w, Scale: 1, Disp: 64}
		if partial {
			VMOVUPS_Z(Mem{Base: t}, klo, a0)
			VMOVUPS_Z(Mem{Base: t, Disp: 64}, khi, a1)
			VMOVUPS_Z(bot, klo, b0)
			VMOVUPS_Z(bot64, khi, b1)
		} else {
			VMOVUPS(Mem{Base: t}, a0)
			VMOVUPS(Mem{Base: t, Disp: 64}, a1)
			VMOVUPS(bot, b0)
			VMOVUPS(bot64, b1)
		}
		best, v1, v2, v3 := ZMM(), ZMM(), ZMM(), ZMM()
		VMOVDQA32(ie, best)
		VPERMI2PS(a1, a0, best) // top-left
		VMOVDQA32(io, v1)
		VPERMI2PS(a1, a0, v1) // top-right
		VMOVDQA32(ie, v2)
		VPERMI2PS(b1, b0, v2) // bottom-left
		VMOVDQA32(io, v3)
		VPERMI2PS(b1, b0, v3) // bottom-right
		c := ZMM()
		VPXORD(c, c, c)
		kord, kk := K(), K()
		for i, v := range []VecVirtual{v1, v2, v3} {
			VCMPPS(U8(0x07), best, best, kord)  // best is not NaN
			VCMPPS(U8(0x16), best, v, kord, kk) // and v > best or v is NaN
			VMOVAPS(v, kk, best)
			VMOVDQA32(cst[i+1], kk, c)
		}
		if partial {
			VMOVUPS(best, kout, Mem{Base: o})
			VPMOVDB(c, kout, Mem{Base: cp})
		} else {
			VMOVUPS(best, Mem{Base: o})
			VPMOVDB(c, Mem{Base: cp})
		}
	}

	Label(name + "_row")
	TESTQ(rows, rows)
	JZ(LabelRef(name + "_done"))
	t, o, cp, j := GP64(), GP64(), GP64(), GP64()
	MOVQ(x, t)
	MOVQ(dst, o)
	MOVQ(code, cp)
	MOVQ(ow, j)
	Label(name + "_col")
	CMPQ(j, U8(16))
	JL(LabelRef(name + "_partial"))
	block(t, o, cp, false)
	ADDQ(U8(128), t)
	ADDQ(U8(64), o)
	ADDQ(U8(16), cp)
	SUBQ(U8(16), j)
	JMP(LabelRef(name + "_col"))
	Label(name + "_partial")
	TESTQ(j, j)
	JZ(LabelRef(name + "_next"))
	pool2Masks(j, kout, klo, khi)
	block(t, o, cp, true)
	Label(name + "_next")
	ADDQ(stride, x)
	LEAQ(Mem{Base: dst, Index: ow, Scale: 4}, dst)
	ADDQ(ow, code)
	DECQ(rows)
	JMP(LabelRef(name + "_row"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// maxPool2x2Backward512 emits the backward of maxPool2x2x512: for each row,
// output gradient gy + r*ow goes to the window position code + r*ow says, in
// the top (gx + r*stride) and bottom (w floats later) rows of the input
// gradient; the other three positions of each window get 0. Columns 2*ow on
// are not written.
func maxPool2x2Backward512() {
	lo := permTable("poolInterleaveLo", func(i int) int { return i/2 + 16*(i%2) })
	hi := permTable("poolInterleaveHi", func(i int) int { return 8 + i/2 + 16*(i%2) })
	name := "maxPool2x2Back512"
	TEXT(name, NOSPLIT, "func(rows, ow, stride, w int, gy *float32, code *uint8, gx *float32)")
	Pragma("noescape")
	Doc(name + " scatters rows of a 2x2 stride-2 max pool's output gradient to the window positions in code (AVX-512).")
	rows := Load(Param("rows"), GP64()).(GPVirtual)
	ow := Load(Param("ow"), GP64()).(GPVirtual)
	stride := Load(Param("stride"), GP64()).(GPVirtual)
	w := Load(Param("w"), GP64()).(GPVirtual)
	gy := Load(Param("gy"), GP64()).(GPVirtual)
	code := Load(Param("code"), GP64()).(GPVirtual)
	gx := Load(Param("gx"), GP64()).(GPVirtual)
	SHLQ(U8(2), stride)
	SHLQ(U8(2), w)
	ilo, ihi := ZMM(), ZMM()
	VMOVDQU32(lo, ilo)
	VMOVDQU32(hi, ihi)
	var cst [4]VecVirtual
	for c := 0; c <= 3; c++ {
		g := GP32()
		MOVL(U32(c), g)
		cst[c] = ZMM()
		VPBROADCASTD(g, cst[c])
	}
	kout, klo, khi := K(), K(), K()

	block := func(g, cp, t GPVirtual, partial bool) {
		gv, cv := ZMM(), ZMM()
		if partial {
			VMOVUPS_Z(Mem{Base: g}, kout, gv)
			VPMOVZXBD(Mem{Base: cp}, kout, cv)
		} else {
			VMOVUPS(Mem{Base: g}, gv)
			VPMOVZXBD(Mem{Base: cp}, cv)
		}
		var part [4]VecVirtual
		for c := 0; c < 4; c++ {
			k := K()
			VPCMPEQD(cst[c], cv, k)
			part[c] = ZMM()
			VMOVUPS_Z(gv, k, part[c])
		}
		for r, base := range []Mem{{Base: t}, {Base: t, Index: w, Scale: 1}} {
			l, h := ZMM(), ZMM()
			VMOVDQA32(ilo, l)
			VPERMI2PS(part[2*r+1], part[2*r], l)
			VMOVDQA32(ihi, h)
			VPERMI2PS(part[2*r+1], part[2*r], h)
			if partial {
				VMOVUPS(l, klo, base)
				VMOVUPS(h, khi, base.Offset(64))
			} else {
				VMOVUPS(l, base)
				VMOVUPS(h, base.Offset(64))
			}
		}
	}

	Label(name + "_row")
	TESTQ(rows, rows)
	JZ(LabelRef(name + "_done"))
	g, cp, t, j := GP64(), GP64(), GP64(), GP64()
	MOVQ(gy, g)
	MOVQ(code, cp)
	MOVQ(gx, t)
	MOVQ(ow, j)
	Label(name + "_col")
	CMPQ(j, U8(16))
	JL(LabelRef(name + "_partial"))
	block(g, cp, t, false)
	ADDQ(U8(64), g)
	ADDQ(U8(16), cp)
	ADDQ(U8(128), t)
	SUBQ(U8(16), j)
	JMP(LabelRef(name + "_col"))
	Label(name + "_partial")
	TESTQ(j, j)
	JZ(LabelRef(name + "_next"))
	pool2Masks(j, kout, klo, khi)
	block(g, cp, t, true)
	Label(name + "_next")
	ADDQ(stride, gx)
	LEAQ(Mem{Base: gy, Index: ow, Scale: 4}, gy)
	ADDQ(ow, code)
	DECQ(rows)
	JMP(LabelRef(name + "_row"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
