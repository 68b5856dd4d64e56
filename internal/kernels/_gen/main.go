// Command _gen writes the Go-assembly kernels of package kernels with avo.
//
// Run it through "go generate" in internal/kernels, which executes:
//
//	go run . -out ../kernels_amd64.s -stubs ../kernels_stub_amd64.go -pkg kernels
//
// It lives in its own module so that users of fastgo never import avo.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Register-blocking of the SGEMM micro-kernels. They must match the tier
// tables in internal/kernels/sgemm_amd64.go.
const (
	mr512 = 12 // rows of C per AVX-512 tile (broadcast from packed A)
	nr512 = 32 // columns of C per AVX-512 tile (two zmm vectors of packed B)
	mr256 = 6  // rows of C per AVX2 tile
	nr256 = 16 // columns of C per AVX2 tile (two ymm vectors)
)

func main() {
	ConstraintExpr("amd64,!purego")
	for mr := 1; mr <= mr512; mr++ {
		gemmKernel512(mr)
	}
	gemmTiles512()
	gemm256()
	pool256()
	packBRows(isa256, 16)
	packBRows(isa512, 32)
	packA12x512()
	packBT16x512()
	gatherRows512()
	elementwise512()
	elementwise256()
	nnKernels512()
	nnKernels256()
	winoKernels256()
	winoSplit256()
	winoMerge256()
	conv3x3Rows256()
	conv3x3Grad256(maskTable256())
	Generate()
}

// gemmKernel512 emits the AVX-512 micro-kernel for a tile of mr rows and up
// to 32 columns: C = alpha*A*B + beta*C, with C not read when beta == 0. A is
// a packed sliver of k steps of mr512 floats (rows past mr are ignored), B a
// packed sliver of k steps of 32 floats. mask selects the columns of C that
// are loaded and stored (bit j for column j), so partial tiles need no copy.
func gemmKernel512(mr int) {
	name := fmt.Sprintf("sgemmKernel512x%d", mr)
	TEXT(name, NOSPLIT, "func(k int, a, b, c *float32, ldc int, alpha, beta float32, mask uint32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes a %dx32 tile of C = alpha*A*B + beta*C from packed slivers (AVX-512).", name, mr))

	acc := func(i, h int) VecPhysical { return zmm(2*i + h) }
	bv := [2]VecPhysical{Z28, Z29}
	bc := [2]VecPhysical{Z30, Z31}

	Load(Param("k"), RCX)
	Load(Param("a"), RAX)
	Load(Param("b"), RBX)
	Load(Param("c"), R8)
	Load(Param("ldc"), RDX)
	SHLQ(U8(2), RDX)

	// Prefetch the C tile; the k loop hides the latency.
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
	alpha, err := Param("alpha").Resolve()
	check(err)
	beta, err := Param("beta").Resolve()
	check(err)
	VBROADCASTSS(alpha.Addr, bv[0])
	for i := 0; i < mr; i++ {
		for h := 0; h < 2; h++ {
			VMULPS(bv[0], acc(i, h), acc(i, h))
		}
	}
	Load(Param("mask"), R10)
	MOVL(beta.Addr, R11L)
	ANDL(U32(0x7fffffff), R11L) // beta == 0 (either sign) means: do not read C
	CMPL(R10L, I32(-1))
	JNE(LabelRef(name + "_masked"))

	// Full 32-column tile.
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
		if i < mr-1 {
			ADDQ(RDX, R8)
		}
	}
	VZEROUPPER()
	RET()

	// Partial tile: columns selected by mask (low 16 bits in K1, high in K2).
	Label(name + "_masked")
	KMOVW(R10L, K1)
	SHRL(U8(16), R10L)
	KMOVW(R10L, K2)
	TESTL(R11L, R11L)
	JZ(LabelRef(name + "_mstore"))
	VBROADCASTSS(beta.Addr, bv[1])
	MOVQ(R8, R9)
	for i := 0; i < mr; i++ {
		VMOVUPS_Z(Mem{Base: R9}, K1, bc[0])
		VMOVUPS_Z(Mem{Base: R9, Disp: 64}, K2, bc[1])
		VFMADD231PS(bc[0], bv[1], acc(i, 0))
		VFMADD231PS(bc[1], bv[1], acc(i, 1))
		if i < mr-1 {
			ADDQ(RDX, R9)
		}
	}
	Label(name + "_mstore")
	for i := 0; i < mr; i++ {
		VMOVUPS(acc(i, 0), K1, Mem{Base: R8})
		VMOVUPS(acc(i, 1), K2, Mem{Base: R8, Disp: 64})
		if i < mr-1 {
			ADDQ(RDX, R8)
		}
	}
	VZEROUPPER()
	RET()
}

func zmm(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}[i]
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
