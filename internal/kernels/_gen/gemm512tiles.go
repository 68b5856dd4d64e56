package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// gemmTiles512 emits sgemmTiles512, the AVX-512 micro-kernel of
// sgemmKernel512x12 for a column of full 12x32 tiles: n tiles stacked down
// C (rows 12t..12t+11 from A sliver t, the slivers consecutive in a), each
// C = alpha*A*B + beta*C over the same B sliver, with C not read when beta
// == 0. Looping over the tiles here, not in Go, saves a call per tile.
func gemmTiles512() {
	name := "sgemmTiles512"
	TEXT(name, NOSPLIT, "func(n, k int, a, b, c *float32, ldc int, alpha, beta float32)")
	Pragma("noescape")
	Doc(name + " computes n full 12x32 tiles, stacked down C, of C = alpha*A*B + beta*C from packed slivers (AVX-512).")

	const mr = mr512
	acc := func(i, h int) VecPhysical { return zmm(2*i + h) }
	bv := [2]VecPhysical{Z28, Z29}
	bc := [2]VecPhysical{Z30, Z31}

	Load(Param("n"), R10)
	Load(Param("k"), R13)
	Load(Param("a"), RAX)
	Load(Param("b"), R12)
	Load(Param("c"), R8)
	Load(Param("ldc"), RDX)
	SHLQ(U8(2), RDX)
	alpha, err := Param("alpha").Resolve()
	check(err)
	beta, err := Param("beta").Resolve()
	check(err)
	MOVL(beta.Addr, R11L)
	ANDL(U32(0x7fffffff), R11L) // beta == 0 (either sign) means: do not read C

	Label(name + "_tile")
	MOVQ(R13, RCX)
	MOVQ(R12, RBX)
	MOVQ(R8, R9)
	for i := 0; i < mr; i++ {
		PREFETCHT0(Mem{Base: R9})
		PREFETCHT0(Mem{Base: R9, Disp: 64})
		if i < mr-1 {
			ADDQ(RDX, R9)
		}
	}
	for i := 0; i < mr; i++ {
		for h := 0; h < 2; h++ {
			VPXORD(acc(i, h), acc(i, h), acc(i, h))
		}
	}
	step := func(s int) {
		VMOVUPS(Mem{Base: RBX, Disp: s * nr512 * 4}, bv[0])
		VMOVUPS(Mem{Base: RBX, Disp: s*nr512*4 + 64}, bv[1])
		for i := 0; i < mr; i++ {
			r := bc[i%2]
			VBROADCASTSS(Mem{Base: RAX, Disp: (s*mr512 + i) * 4}, r)
			VFMADD231PS(bv[0], r, acc(i, 0))
			VFMADD231PS(bv[1], r, acc(i, 1))
		}
	}
	const unroll = 4
	Label(name + "_loop4")
	CMPQ(RCX, U8(unroll))
	JL(LabelRef(name + "_tail"))
	PREFETCHT0(Mem{Base: RAX, Disp: 512})
	PREFETCHT0(Mem{Base: RAX, Disp: 576})
	PREFETCHT0(Mem{Base: RAX, Disp: 640})
	for s := 0; s < unroll; s++ {
		step(s)
	}
	ADDQ(U32(unroll*mr512*4), RAX)
	ADDQ(U32(unroll*nr512*4), RBX)
	SUBQ(U8(unroll), RCX)
	JMP(LabelRef(name + "_loop4"))

	Label(name + "_tail")
	TESTQ(RCX, RCX)
	JZ(LabelRef(name + "_epilogue"))
	step(0)
	ADDQ(U8(mr512*4), RAX)
	ADDQ(U32(nr512*4), RBX)
	DECQ(RCX)
	JMP(LabelRef(name + "_tail"))

	Label(name + "_epilogue")
	VBROADCASTSS(alpha.Addr, bv[0])
	for i := 0; i < mr; i++ {
		for h := 0; h < 2; h++ {
			VMULPS(bv[0], acc(i, h), acc(i, h))
		}
	}
	TESTL(R11L, R11L)
	JZ(LabelRef(name + "_store"))
	VBROADCASTSS(beta.Addr, bv[1])
	MOVQ(R8, R9)
	for i := 0; i < mr; i++ {
		VFMADD231PS(Mem{Base: R9}, bv[1], acc(i, 0))
		VFMADD231PS(Mem{Base: R9, Disp: 64}, bv[1], acc(i, 1))
		if i < mr-1 {
			ADDQ(RDX, R9)
		}
	}
	Label(name + "_store")
	for i := 0; i < mr; i++ {
		VMOVUPS(acc(i, 0), Mem{Base: R8})
		VMOVUPS(acc(i, 1), Mem{Base: R8, Disp: 64})
		ADDQ(RDX, R8) // after the last row: the next tile's first
	}
	DECQ(R10)
	JNZ(LabelRef(name + "_tile"))
	VZEROUPPER()
	RET()
}
