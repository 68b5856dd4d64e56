package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// packBRows emits the packing of four whole B slivers of an untransposed
// B at once, row by row: row p of the kc x 4*nr block at src (row stride
// ldb floats) goes to row p of the four slivers at dst, dst + kc*nr, ...
// One pass reads 4*nr contiguous floats of each row: four times fewer
// rows (pages, cache sets, prefetch streams) than packing the slivers one
// by one.
func packBRows(isa vecISA, nr int) {
	name := fmt.Sprintf("packBRows%dx%d", nr, 4)
	TEXT(name, NOSPLIT, "func(kc int, src *float32, ldb int, dst *float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s packs kc rows of 4 whole %d-float B slivers from src (row stride ldb) into 4 consecutive slivers at dst (%s).", name, nr, map[int]string{16: "AVX2", 32: "AVX-512"}[nr]))
	kc := Load(Param("kc"), GP64()).(GPVirtual)
	src := Load(Param("src"), GP64()).(GPVirtual)
	ldb := Load(Param("ldb"), GP64()).(GPVirtual)
	dst := Load(Param("dst"), GP64()).(GPVirtual)
	SHLQ(U8(2), ldb)
	sl := GP64() // bytes between slivers: kc*nr*4
	MOVQ(kc, sl)
	SHLQ(U8(uint8(log2(nr*4))), sl)
	sl3 := GP64()
	LEAQ(Mem{Base: sl, Index: sl, Scale: 2}, sl3)
	vecs := nr / isa.lanes
	w := isa.lanes * 4 // bytes per vector
	Label(name + "_loop")
	TESTQ(kc, kc)
	JZ(LabelRef(name + "_done"))
	regs := make([]VecVirtual, 4*vecs)
	for q := 0; q < 4; q++ {
		for v := 0; v < vecs; v++ {
			regs[q*vecs+v] = isa.vec()
			VMOVUPS(Mem{Base: src, Disp: (q*vecs + v) * w}, regs[q*vecs+v])
		}
	}
	for q := 0; q < 4; q++ {
		var d Mem
		switch q {
		case 0:
			d = Mem{Base: dst}
		case 1:
			d = Mem{Base: dst, Index: sl, Scale: 1}
		case 2:
			d = Mem{Base: dst, Index: sl, Scale: 2}
		default:
			d = Mem{Base: dst, Index: sl3, Scale: 1}
		}
		for v := 0; v < vecs; v++ {
			VMOVUPS(regs[q*vecs+v], d.Offset(v*w))
		}
	}
	ADDQ(ldb, src)
	ADDQ(U8(uint8(nr*4)), dst)
	DECQ(kc)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

func log2(n int) int {
	l := 0
	for 1<<l < n {
		l++
	}
	return l
}
