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
	tap := func(base GPVirtual, t int) Mem {
		ky, kx := t/3, t%3
		if ky == 0 {
			return Mem{Base: base, Disp: 4 * kx}
		}
		return Mem{Base: base, Index: wpb, Scale: uint8(ky), Disp: 4 * kx}
	}
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
				VFMADD231PS(tap(bases[i], t), wv[t], acc[i])
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
