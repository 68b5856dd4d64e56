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
	loop8(name, n, func() {
		winoRowsStep(outs, body, c, s0, s3, ss, d0, d2, ds)
	}, advance{s0, 32}, advance{s3, 32}, advance{d0, 32}, advance{d2, 32})
}

// winoRowsStep is one step of winoRows256: eight columns of the six rows
// in, outs rows out.
func winoRowsStep(outs int, body func(in []VecVirtual, c map[float32]VecVirtual) []VecVirtual, c map[float32]VecVirtual, s0, s3, ss, d0, d2, ds Register) {
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
}

// advance is a pointer register and the bytes loop8 moves it by per step.
type advance struct {
	r    Register
	step int
}

// loop8 emits name's loop over n in steps of eight: while at least eight
// are left, step, then each pointer advanced; then VZEROUPPER and RET.
func loop8(name string, n Register, step func(), ptrs ...advance) {
	Label(name + "_loop")
	CMPQ(n, U32(8))
	JL(LabelRef(name + "_done"))
	step()
	for _, p := range ptrs {
		ADDQ(U32(p.step), p.r)
	}
	SUBQ(U32(8), n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// winoSplit256 emits winoSplit256(n int, dst *float32, ds int, src *float32):
// for each of the n tiles t (n a multiple of 8), dst[j*ds+t] = src[4t+j] for
// j < 6: the stride-4 windows of six of an input row of Winograd F(4x4, 3x3)
// transposed into six rows, eight tiles per step. Each step loads the eight
// tiles' first four values as pairs of 128-bit halves (tiles t and t+4 in
// one vector) and transposes them in lanes; values 4 and 5 are values 0 and
// 1 of the next tile. It reads src[0 : 4n+4].
func winoSplit256() {
	name := "winoSplit256"
	TEXT(name, NOSPLIT, "func(n int, dst *float32, ds int, src *float32)")
	Pragma("noescape")
	Doc(name + " writes dst[j*ds+t] = src[4t+j] for j < 6 and each of n tiles t (AVX2, n a multiple of 8, ds in floats; reads src[0:4n+4]).")
	n := Load(Param("n"), GP64())
	d0 := Load(Param("dst"), GP64())
	ds := Load(Param("ds"), GP64())
	s := Load(Param("src"), GP64())
	SHLQ(U8(2), ds)
	d3 := GP64()
	LEAQ(Mem{Base: d0, Index: ds, Scale: 2}, d3)
	ADDQ(ds, d3) // dst + 3*ds
	loop8(name, n, func() {
		// v[k] = [tile k | tile k+4], k < 5 (tile 8 is the next step's tile 0).
		v := make([]VecVirtual, 5)
		for k := range v {
			lo := XMM()
			VMOVUPS(Mem{Base: s, Disp: 16 * k}, lo)
			v[k] = YMM()
			VINSERTF128(U8(1), Mem{Base: s, Disp: 16 * (k + 4)}, lo.AsY(), v[k])
		}
		unpck := func(lo bool, pd bool, a, b VecVirtual) VecVirtual {
			r := YMM()
			switch {
			case lo && !pd:
				VUNPCKLPS(b, a, r)
			case !lo && !pd:
				VUNPCKHPS(b, a, r)
			case lo && pd:
				VUNPCKLPD(b, a, r)
			default:
				VUNPCKHPD(b, a, r)
			}
			return r
		}
		t0, t1 := unpck(true, false, v[0], v[1]), unpck(false, false, v[0], v[1])
		t2, t3 := unpck(true, false, v[2], v[3]), unpck(false, false, v[2], v[3])
		u0, u2 := unpck(true, false, v[1], v[2]), unpck(true, false, v[3], v[4])
		outs := []VecVirtual{
			unpck(true, true, t0, t2), unpck(false, true, t0, t2),
			unpck(true, true, t1, t3), unpck(false, true, t1, t3),
			unpck(true, true, u0, u2), unpck(false, true, u0, u2),
		}
		dsts := []Mem{{Base: d0}, {Base: d0, Index: ds, Scale: 1}, {Base: d0, Index: ds, Scale: 2},
			{Base: d3}, {Base: d3, Index: ds, Scale: 1}, {Base: d3, Index: ds, Scale: 2}}
		for j, o := range outs {
			VMOVUPS(o, dsts[j])
		}
	}, advance{s, 128}, advance{d0, 32}, advance{d3, 32})
}

// winoMerge256 emits winoMerge256(n int, dst *float32, src *float32, ss int):
// for each of the n tiles t (n a multiple of 8), dst[4t+k] = src[k*ss+t]
// for k < 4: four rows of the Winograd F(4x4, 3x3) output tiles' columns
// interleaved into one output row, eight tiles per step (a transpose in
// lanes, then the 128-bit halves put in tile order).
func winoMerge256() {
	name := "winoMerge256"
	TEXT(name, NOSPLIT, "func(n int, dst *float32, src *float32, ss int)")
	Pragma("noescape")
	Doc(name + " writes dst[4t+k] = src[k*ss+t] for k < 4 and each of n tiles t (AVX2, n a multiple of 8, ss in floats).")
	n := Load(Param("n"), GP64())
	d := Load(Param("dst"), GP64())
	s0 := Load(Param("src"), GP64())
	ss := Load(Param("ss"), GP64())
	SHLQ(U8(2), ss)
	s2 := GP64()
	LEAQ(Mem{Base: s0, Index: ss, Scale: 2}, s2)
	loop8(name, n, func() {
		a := make([]VecVirtual, 4)
		srcs := []Mem{{Base: s0}, {Base: s0, Index: ss, Scale: 1}, {Base: s2}, {Base: s2, Index: ss, Scale: 1}}
		for k := range a {
			a[k] = YMM()
			VMOVUPS(srcs[k], a[k])
		}
		t := ymms(4)
		VUNPCKLPS(a[1], a[0], t[0])
		VUNPCKHPS(a[1], a[0], t[1])
		VUNPCKLPS(a[3], a[2], t[2])
		VUNPCKHPS(a[3], a[2], t[3])
		o := ymms(4) // o[q] = [tile q | tile q+4]
		VUNPCKLPD(t[2], t[0], o[0])
		VUNPCKHPD(t[2], t[0], o[1])
		VUNPCKLPD(t[3], t[1], o[2])
		VUNPCKHPD(t[3], t[1], o[3])
		for q, sel := range []struct {
			a, b int
			imm  uint8
		}{{0, 1, 0x20}, {2, 3, 0x20}, {0, 1, 0x31}, {2, 3, 0x31}} {
			p := YMM()
			VPERM2F128(U8(sel.imm), o[sel.b], o[sel.a], p)
			VMOVUPS(p, Mem{Base: d, Disp: 32 * q})
		}
	}, advance{d, 128}, advance{s0, 32}, advance{s2, 32})
}

// ymms returns n new virtual ymm registers.
func ymms(n int) []VecVirtual {
	v := make([]VecVirtual, n)
	for i := range v {
		v[i] = YMM()
	}
	return v
}
