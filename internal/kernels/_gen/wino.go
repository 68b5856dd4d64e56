package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// winoKernels256 emits the AVX2 column transforms of Winograd F(4x4, 3x3):
// six rows in, six (Bᵀ) or four (Aᵀ) rows out, eight columns per vector, in
// the operation order of the Go versions (no FMA), so the results are
// bit-identical.
func winoKernels256() {
	winoRows256("winoInputRows256", 6, "computes the six rows of Bᵀ d (Winograd F(4x4, 3x3) input transform) from six rows of d", func(a []VecVirtual, c map[float32]VecVirtual) []VecVirtual {
		mul := func(k float32, x VecVirtual) VecVirtual { r := YMM(); VMULPS(x, c[k], r); return r }
		sub := func(x, y VecVirtual) VecVirtual { r := YMM(); VSUBPS(y, x, r); return r }
		add := func(x, y VecVirtual) VecVirtual { r := YMM(); VADDPS(y, x, r); return r }
		return []VecVirtual{
			add(sub(mul(4, a[0]), mul(5, a[2])), a[4]),
			sub(add(a[3], a[4]), mul(4, add(a[1], a[2]))),
			add(sub(mul(4, sub(a[1], a[2])), a[3]), a[4]),
			add(sub(mul(2, sub(a[3], a[1])), a[2]), a[4]),
			add(sub(mul(2, sub(a[1], a[3])), a[2]), a[4]),
			add(sub(mul(4, a[1]), mul(5, a[3])), a[5]),
		}
	}, 2, 4, 5)
	winoRows256("winoOutputRows256", 4, "computes the four rows of Aᵀ m (Winograd F(4x4, 3x3) output transform) from six rows of m", func(m []VecVirtual, c map[float32]VecVirtual) []VecVirtual {
		mul := func(k float32, x VecVirtual) VecVirtual { r := YMM(); VMULPS(x, c[k], r); return r }
		sub := func(x, y VecVirtual) VecVirtual { r := YMM(); VSUBPS(y, x, r); return r }
		add := func(x, y VecVirtual) VecVirtual { r := YMM(); VADDPS(y, x, r); return r }
		a, b := add(m[1], m[2]), sub(m[1], m[2])
		cc, d := add(m[3], m[4]), sub(m[3], m[4])
		return []VecVirtual{
			add(add(m[0], a), cc),
			add(b, mul(2, d)),
			add(a, mul(4, cc)),
			add(add(b, mul(8, d)), m[5]),
		}
	}, 2, 4, 8)
}

// winoRows256 emits name(n int, dst *float32, ds int, src *float32, ss int):
// for each of the n columns (n a multiple of 8), six values src[i*ss] in,
// outs values dst[i*ds] out, computed by body; consts are the multipliers
// body uses.
func winoRows256(name string, outs int, doc string, body func(in []VecVirtual, c map[float32]VecVirtual) []VecVirtual, consts ...float32) {
	TEXT(name, NOSPLIT, "func(n int, dst *float32, ds int, src *float32, ss int)")
	Pragma("noescape")
	Doc(name + " " + doc + " (AVX2, n a multiple of 8, strides in floats).")
	n := Load(Param("n"), GP64())
	d0 := Load(Param("dst"), GP64())
	ds := Load(Param("ds"), GP64())
	s0 := Load(Param("src"), GP64())
	ss := Load(Param("ss"), GP64())
	SHLQ(U8(2), ds)
	SHLQ(U8(2), ss)
	// s3 = src + 3*ss, d2 = dst + 2*ds.
	s3 := GP64()
	LEAQ(Mem{Base: s0, Index: ss, Scale: 2}, s3)
	ADDQ(ss, s3)
	d2 := GP64()
	LEAQ(Mem{Base: d0, Index: ds, Scale: 2}, d2)
	c := map[float32]VecVirtual{}
	for _, k := range consts {
		g := GP32()
		MOVL(U32(math.Float32bits(k)), g)
		x := XMM()
		VMOVD(g, x)
		y := YMM()
		VBROADCASTSS(x, y)
		c[k] = y
	}
	Label(name + "_loop")
	CMPQ(n, U32(8))
	JL(LabelRef(name + "_done"))
	srcs := []Mem{{Base: s0}, {Base: s0, Index: ss, Scale: 1}, {Base: s0, Index: ss, Scale: 2},
		{Base: s3}, {Base: s3, Index: ss, Scale: 1}, {Base: s3, Index: ss, Scale: 2}}
	in := make([]VecVirtual, 6)
	for i := range in {
		in[i] = YMM()
		VMOVUPS(srcs[i], in[i])
	}
	out := body(in, c)
	dsts := []Mem{{Base: d0}, {Base: d0, Index: ds, Scale: 1}, {Base: d2}, {Base: d2, Index: ds, Scale: 1},
		{Base: d2, Index: ds, Scale: 2}}
	for i := 0; i < outs; i++ {
		if i < 5 {
			VMOVUPS(out[i], dsts[i])
		} else {
			// dst + 5*ds = d2 + 2*ds + ds: advance a copy.
			t := GP64()
			LEAQ(Mem{Base: d2, Index: ds, Scale: 2}, t)
			ADDQ(ds, t)
			VMOVUPS(out[i], Mem{Base: t})
		}
	}
	ADDQ(U32(32), s0)
	ADDQ(U32(32), s3)
	ADDQ(U32(32), d0)
	ADDQ(U32(32), d2)
	SUBQ(U32(8), n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
