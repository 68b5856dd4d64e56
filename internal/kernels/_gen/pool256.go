package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX2 2x2 max pool, forward and backward: the AVX-512 kernels' work
// in blocks of 8 outputs. The forward does the partial block of a row
// through masked loads and stores (AVX2 has no byte masks: its codes go
// through a register). The backward runs the first cols columns of each
// row (a multiple of 8); its caller covers the rest with one more block
// that ends at the row's end, or Go when a row has fewer than 8: masked
// stores made a partial block cost as much as 180 full ones on a Zen 3.

// pool256 emits the AVX2 max-pool kernels.
func pool256() {
	maxPool2x2Forward256()
	maxPool2x2Backward256()
}

// laneMasks sets lo and hi to the masks of the first n (0..16) float lanes
// of two ymm vectors, from the 16-ones-16-zeros table gatherRows256 uses.
func laneMasks(n GPVirtual, lo, hi VecVirtual) {
	t, tb := GP64(), GP64()
	MOVQ(U32(16), t)
	SUBQ(n, t)
	LEAQ(maskTable256(), tb)
	VMOVDQU(Mem{Base: tb, Index: t, Scale: 4}, lo)
	VMOVDQU(Mem{Base: tb, Index: t, Scale: 4, Disp: 32}, hi)
}

// broadcastInts returns vectors of the int32 constants 0..n-1.
func broadcastInts(n int) []VecVirtual {
	out := make([]VecVirtual, n)
	for c := range out {
		g := GP32()
		MOVL(U32(c), g)
		x := XMM()
		VMOVD(g, x) // VEX: a legacy-SSE move here cost about 300 ns a call on an Intel Xeon (AVX-SSE transition)
		out[c] = YMM()
		VPBROADCASTD(x, out[c])
	}
	return out
}

// maxPool2x2Forward256 emits maxPool2x2x256, which computes what
// maxPool2x2x512 does (see there) with 8 outputs per block.
func maxPool2x2Forward256() {
	// Byte 0 of each dword of a lane into bytes 0-3 of the lane.
	pick := GLOBL("poolPickBytes256", RODATA|NOPTR)
	for l := 0; l < 2; l++ {
		DATA(16*l, U32(0x0c080400))
		for i := 1; i < 4; i++ {
			DATA(16*l+4*i, U32(0x80808080))
		}
	}
	name := "maxPool2x2x256"
	TEXT(name, NOSPLIT, "func(rows, ow, stride, w int, x, dst *float32, code *uint8)")
	Pragma("noescape")
	Doc(name + " computes rows of a 2x2 stride-2 max pool and the window position of each maximum (AVX2).")
	rows := Load(Param("rows"), GP64()).(GPVirtual)
	ow := Load(Param("ow"), GP64()).(GPVirtual)
	stride := Load(Param("stride"), GP64()).(GPVirtual)
	w := Load(Param("w"), GP64()).(GPVirtual)
	x := Load(Param("x"), GP64()).(GPVirtual)
	dst := Load(Param("dst"), GP64()).(GPVirtual)
	code := Load(Param("code"), GP64()).(GPVirtual)
	SHLQ(U8(2), stride)
	SHLQ(U8(2), w)
	cst := broadcastInts(4)
	pickV := YMM()
	VMOVDQU(pick, pickV)

	// block computes 8 outputs from the row pair at t (partial: the first
	// j, with in masks mlo, mhi for the 2j inputs and out for the j
	// outputs) and stores them.
	block := func(t, o, cp GPVirtual, j GPVirtual, mlo, mhi, out VecVirtual) {
		partial := j != nil
		a0, a1, b0, b1 := YMM(), YMM(), YMM(), YMM()
		rowsMem := []Mem{{Base: t}, {Base: t, Disp: 32}, {Base: t, Index: w, Scale: 1}, {Base: t, Index: w, Scale: 1, Disp: 32}}
		for i, r := range []VecVirtual{a0, a1, b0, b1} {
			if partial {
				VMASKMOVPS(rowsMem[i], []VecVirtual{mlo, mhi}[i%2], r)
			} else {
				VMOVUPS(rowsMem[i], r)
			}
		}
		// Even and odd inputs, in the lane order of outputs 0 1 4 5 | 2 3 6 7.
		best, v1, v2, v3 := YMM(), YMM(), YMM(), YMM()
		VSHUFPS(U8(0x88), a1, a0, best) // top-left
		VSHUFPS(U8(0xdd), a1, a0, v1)   // top-right
		VSHUFPS(U8(0x88), b1, b0, v2)   // bottom-left
		VSHUFPS(U8(0xdd), b1, b0, v3)   // bottom-right
		c := YMM()
		VPXOR(c, c, c)
		for i, v := range []VecVirtual{v1, v2, v3} {
			ord, gt := YMM(), YMM()
			VCMPPS(U8(0x07), best, best, ord) // best is not NaN
			VCMPPS(U8(0x16), best, v, gt)     // and v > best or v is NaN
			VANDPS(ord, gt, gt)
			VBLENDVPS(gt, v, best, best)
			VBLENDVPS(gt, cst[i+1], c, c)
		}
		VPERMPD(U8(0xd8), best, best) // outputs 0..7
		VPERMPD(U8(0xd8), c, c)
		VPSHUFB(pickV, c, c) // codes 0-3 in lane 0, 4-7 in lane 1
		hi := XMM()
		VEXTRACTI128(U8(1), c, hi)
		VPUNPCKLDQ(hi, c.AsX(), hi) // codes 0..7 in bytes 0..7
		if !partial {
			VMOVUPS(best, Mem{Base: o})
			VMOVQ(hi, Mem{Base: cp})
			return
		}
		VMASKMOVPS(best, out, Mem{Base: o})
		b, i := GP64(), GP64()
		VMOVQ(hi, b)
		XORQ(i, i)
		Label(name + "_codes")
		MOVB(b.As8(), Mem{Base: cp, Index: i, Scale: 1})
		SHRQ(U8(8), b)
		INCQ(i)
		CMPQ(i, j)
		JL(LabelRef(name + "_codes"))
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
	CMPQ(j, U8(8))
	JL(LabelRef(name + "_partial"))
	block(t, o, cp, nil, nil, nil, nil)
	ADDQ(U8(64), t)
	ADDQ(U8(32), o)
	ADDQ(U8(8), cp)
	SUBQ(U8(8), j)
	JMP(LabelRef(name + "_col"))
	Label(name + "_partial")
	TESTQ(j, j)
	JZ(LabelRef(name + "_next"))
	mlo, mhi, out, unused := YMM(), YMM(), YMM(), YMM()
	j2 := GP64()
	LEAQ(Mem{Base: j, Index: j, Scale: 1}, j2)
	laneMasks(j2, mlo, mhi)
	laneMasks(j, out, unused)
	block(t, o, cp, j, mlo, mhi, out)
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

// maxPool2x2Backward256 emits maxPool2x2Back256, which computes what
// maxPool2x2Back512 does (see there) with 8 outputs per block, for the
// first cols (a multiple of 8) of each row's ow outputs.
func maxPool2x2Backward256() {
	name := "maxPool2x2Back256"
	TEXT(name, NOSPLIT, "func(rows, ow, cols, stride, w int, gy *float32, code *uint8, gx *float32)")
	Pragma("noescape")
	Doc(name + " scatters the first cols columns of rows of a 2x2 stride-2 max pool's output gradient to the window positions in code (AVX2).")
	rows := Load(Param("rows"), GP64()).(GPVirtual)
	ow := Load(Param("ow"), GP64()).(GPVirtual)
	cols := Load(Param("cols"), GP64()).(GPVirtual)
	stride := Load(Param("stride"), GP64()).(GPVirtual)
	w := Load(Param("w"), GP64()).(GPVirtual)
	gy := Load(Param("gy"), GP64()).(GPVirtual)
	code := Load(Param("code"), GP64()).(GPVirtual)
	gx := Load(Param("gx"), GP64()).(GPVirtual)
	SHLQ(U8(2), stride)
	SHLQ(U8(2), w)
	cst := broadcastInts(4)

	block := func(g, cp, t GPVirtual) {
		gv, cv := YMM(), YMM()
		VMOVUPS(Mem{Base: g}, gv)
		VPMOVZXBD(Mem{Base: cp}, cv)
		// Outputs in the lane order 0 1 4 5 | 2 3 6 7, so that the
		// interleaves below give the rows' floats in order.
		VPERMPD(U8(0xd8), gv, gv)
		VPERMQ(U8(0xd8), cv, cv)
		var part [4]VecVirtual
		for c := 0; c < 4; c++ {
			k := YMM()
			VPCMPEQD(cst[c], cv, k)
			part[c] = YMM()
			VANDPS(gv, k, part[c])
		}
		for r, base := range []Mem{{Base: t}, {Base: t, Index: w, Scale: 1}} {
			first, second := YMM(), YMM()
			VUNPCKLPS(part[2*r+1], part[2*r], first)  // outputs 0-3, interleaved
			VUNPCKHPS(part[2*r+1], part[2*r], second) // outputs 4-7
			VMOVUPS(first, base)
			VMOVUPS(second, base.Offset(32))
		}
	}

	Label(name + "_row")
	TESTQ(rows, rows)
	JZ(LabelRef(name + "_done"))
	g, cp, t, j := GP64(), GP64(), GP64(), GP64()
	MOVQ(gy, g)
	MOVQ(code, cp)
	MOVQ(gx, t)
	MOVQ(cols, j)
	Label(name + "_col")
	CMPQ(j, U8(8))
	JL(LabelRef(name + "_next"))
	block(g, cp, t)
	ADDQ(U8(32), g)
	ADDQ(U8(8), cp)
	ADDQ(U8(64), t)
	SUBQ(U8(8), j)
	JMP(LabelRef(name + "_col"))
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
