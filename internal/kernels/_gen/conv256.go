package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// conv3x3Rows256 emits the AVX2 direct 3x3 convolution of one zero-padded
// input plane (row stride wp floats) by one output channel: for each block
// of a table of (source offset, destination offset) pairs, the 8 outputs
// dst[d:d+8] = bias + sum over the taps (ky, kx) of w[3*ky+kx] *
// src[s+ky*wp+kx : ...+8], the taps added in that order with FMAs. The nine
// weights and the bias stay in registers; six blocks go at once, six
// independent chains of FMAs whose taps are read from L1.
func conv3x3Rows256() {
	const name = "conv3x3Rows256"
	TEXT(name, NOSPLIT, "func(nb int, src *float32, wp int, tab *int, w *float32, bias float32, dst *float32)")
	Pragma("noescape")
	Doc(name + " computes nb blocks of 8 outputs of a 3x3 convolution of a padded plane (row stride wp) by 9 weights plus bias, block i from src[tab[2i]:] into dst[tab[2i+1]:] (AVX2+FMA).")
	nb := Load(Param("nb"), GP64()).(GPVirtual)
	src := Load(Param("src"), GP64()).(GPVirtual)
	wpb := Load(Param("wp"), GP64()).(GPVirtual)
	SHLQ(U8(2), wpb)
	tab := Load(Param("tab"), GP64()).(GPVirtual)
	wp := Load(Param("w"), GP64()).(GPVirtual)
	dst := Load(Param("dst"), GP64()).(GPVirtual)
	bias, err := Param("bias").Resolve()
	check(err)
	wv := make([]VecPhysical, 9)
	for t := range wv {
		wv[t] = ymm(t)
		VBROADCASTSS(Mem{Base: wp, Disp: 4 * t}, wv[t])
	}
	bv := Y9
	VBROADCASTSS(bias.Addr, bv)
	blocks := func(n int, label string) {
		bases := make([]GPVirtual, n)
		for i := range bases {
			bases[i] = GP64()
			MOVQ(Mem{Base: tab, Disp: 16 * i}, bases[i])
			LEAQ(Mem{Base: src, Index: bases[i], Scale: 4}, bases[i])
		}
		acc := []VecPhysical{Y10, Y11, Y12, Y13, Y14, Y15}[:n]
		for i := range acc {
			VMOVAPS(bv, acc[i])
		}
		for t := 0; t < 9; t++ {
			for i := range acc {
				VFMADD231PS(tap3x3(bases[i], wpb, t), wv[t], acc[i])
			}
		}
		d := GP64()
		for i := range acc {
			MOVQ(Mem{Base: tab, Disp: 16*i + 8}, d)
			VMOVUPS(acc[i], Mem{Base: dst, Index: d, Scale: 4})
		}
		ADDQ(U8(16*n), tab)
		SUBQ(U8(n), nb)
		JMP(LabelRef(label))
	}
	Label(name + "_six")
	CMPQ(nb, U8(6))
	JL(LabelRef(name + "_one"))
	blocks(6, name+"_six")
	Label(name + "_one")
	TESTQ(nb, nb)
	JZ(LabelRef(name + "_done"))
	blocks(1, name+"_one")
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// conv3x3Grad256 emits the AVX2 weight gradient of conv3x3Rows256's
// convolution for one plane: the nine sums s[t] = sum over the outputs of
// gy * the input under tap t, over nb full blocks of 8 outputs (table of
// (source offset, gradient offset) pairs) and then nt partial ones whose
// gradient lanes past tail are read as zero (a masked load). Nine
// accumulators, one per tap, each take one FMA per block; at the end each
// is summed across its lanes (lanes 0-3 plus 4-7, then pairs, then the
// last two) into s.
func conv3x3Grad256(tbl Mem) {
	const name = "conv3x3Grad256"
	TEXT(name, NOSPLIT, "func(nb, nt int, src *float32, wp int, gy *float32, tab *int, tail int, s *float32)")
	Pragma("noescape")
	Doc(name + " adds up, for the 9 taps of a 3x3 convolution of a padded plane (row stride wp), gy times the taps' inputs over nb full blocks of 8 outputs and nt blocks of tail outputs, block i at src[tab[2i]:] and gy[tab[2i+1]:], into s[0:9] (AVX2+FMA).")
	nb := Load(Param("nb"), GP64()).(GPVirtual)
	nt := Load(Param("nt"), GP64()).(GPVirtual)
	src := Load(Param("src"), GP64()).(GPVirtual)
	wpb := Load(Param("wp"), GP64()).(GPVirtual)
	SHLQ(U8(2), wpb)
	gy := Load(Param("gy"), GP64()).(GPVirtual)
	tab := Load(Param("tab"), GP64()).(GPVirtual)
	tail := Load(Param("tail"), GP64()).(GPVirtual)
	sp := Load(Param("s"), GP64()).(GPVirtual)
	acc := make([]VecPhysical, 9)
	for t := range acc {
		acc[t] = ymm(t)
		VXORPS(acc[t], acc[t], acc[t])
	}
	g := Y9
	// Lane i of the mask is set when i < tail.
	mask := laneMasks256(tbl, tail, 1)[0]
	block := func(masked bool) {
		b, o := GP64(), GP64()
		MOVQ(Mem{Base: tab}, b)
		LEAQ(Mem{Base: src, Index: b, Scale: 4}, b)
		MOVQ(Mem{Base: tab, Disp: 8}, o)
		if masked {
			VMASKMOVPS(Mem{Base: gy, Index: o, Scale: 4}, mask, g)
		} else {
			VMOVUPS(Mem{Base: gy, Index: o, Scale: 4}, g)
		}
		for t := 0; t < 9; t++ {
			VFMADD231PS(tap3x3(b, wpb, t), g, acc[t])
		}
		ADDQ(U8(16), tab)
	}
	Label(name + "_full")
	TESTQ(nb, nb)
	JZ(LabelRef(name + "_tails"))
	block(false)
	DECQ(nb)
	JMP(LabelRef(name + "_full"))
	Label(name + "_tails")
	TESTQ(nt, nt)
	JZ(LabelRef(name + "_sum"))
	block(true)
	DECQ(nt)
	JMP(LabelRef(name + "_tails"))
	Label(name + "_sum")
	for t := 0; t < 9; t++ {
		x := acc[t].AsX()
		VEXTRACTF128(U8(1), acc[t], X11)
		VADDPS(X11, x, x)
		VMOVHLPS(x, x, X11)
		VADDPS(X11, x, x)
		VMOVSHDUP(x, X11)
		VADDSS(X11, x, x)
		VMOVSS(x, Mem{Base: sp, Disp: 4 * t})
	}
	VZEROUPPER()
	RET()
}

// tap3x3 addresses tap t (ky = t/3, kx = t%3) of a 3x3 window whose top-left
// input is at base, in a plane of row stride wpb bytes.
func tap3x3(base, wpb GPVirtual, t int) Mem {
	ky, kx := t/3, t%3
	if ky == 0 {
		return Mem{Base: base, Disp: 4 * kx}
	}
	return Mem{Base: base, Index: wpb, Scale: uint8(ky), Disp: 4 * kx}
}
