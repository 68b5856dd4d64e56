package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// vecISA describes one vector width: how to allocate a register, its width in
// float32 lanes, and whether masked tails are available (AVX-512 only).
type vecISA struct {
	suffix string
	lanes  int
	vec    func() VecVirtual
	masked bool
}

var (
	isa512 = vecISA{suffix: "512", lanes: 16, vec: ZMM, masked: true}
	isa256 = vecISA{suffix: "256", lanes: 8, vec: YMM}
)

// ewCtx is what an element-wise body sees: the pointer registers (advanced
// by the loop), the byte offset of the current vector, and the tail mask
// (nil for full vectors).
type ewCtx struct {
	isa  vecISA
	ptrs map[string]GPVirtual
	off  int
	mask Op
}

func (c ewCtx) mem(p string) Mem { return Mem{Base: c.ptrs[p], Disp: c.off} }

// load reads one vector of p (zero-masked in the tail).
func (c ewCtx) load(p string) VecVirtual {
	r := c.isa.vec()
	if c.mask != nil {
		VMOVUPS_Z(c.mem(p), c.mask, r)
	} else {
		VMOVUPS(c.mem(p), r)
	}
	return r
}

// store writes one vector to p (masked in the tail).
func (c ewCtx) store(r VecVirtual, p string) {
	if c.mask != nil {
		VMOVUPS(r, c.mask, c.mem(p))
	} else {
		VMOVUPS(r, c.mem(p))
	}
}

// elementwise emits a loop over n float32 elements of the pointer
// parameters ptrs. setup broadcasts the scalar parameters and returns what
// body needs; body processes one vector. AVX-512 versions handle the tail
// with a mask; AVX2 versions require n to be a multiple of 8 (the Go side
// does the rest).
func elementwise(isa vecISA, base, sig, doc string, ptrs []string, unroll int, setup func() any, body func(c ewCtx, consts any)) {
	name := base + isa.suffix
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	if isa.masked {
		Doc(fmt.Sprintf("%s %s (AVX-512, any n).", name, doc))
	} else {
		Doc(fmt.Sprintf("%s %s (AVX2, n a multiple of 8).", name, doc))
	}
	n := Load(Param("n"), GP64()).(GPVirtual)
	regs := map[string]GPVirtual{}
	for _, p := range ptrs {
		regs[p] = Load(Param(p), GP64()).(GPVirtual)
	}
	consts := setup()
	w := isa.lanes
	advance := func(elems int) {
		for _, p := range ptrs {
			ADDQ(U32(elems*4), regs[p])
		}
		SUBQ(U32(elems), n)
	}
	Label(name + "_loopU")
	CMPQ(n, U32(unroll*w))
	JL(LabelRef(name + "_loop1"))
	for u := 0; u < unroll; u++ {
		body(ewCtx{isa: isa, ptrs: regs, off: u * w * 4}, consts)
	}
	advance(unroll * w)
	JMP(LabelRef(name + "_loopU"))

	Label(name + "_loop1")
	CMPQ(n, U32(w))
	JL(LabelRef(name + "_tail"))
	body(ewCtx{isa: isa, ptrs: regs}, consts)
	advance(w)
	JMP(LabelRef(name + "_loop1"))

	Label(name + "_tail")
	if isa.masked {
		TESTQ(n, n)
		JZ(LabelRef(name + "_done"))
		m := GP32()
		MOVL(U32(0xffff), m)
		BZHIL(n.As32(), m, m)
		k := K()
		KMOVW(m, k)
		body(ewCtx{isa: isa, ptrs: regs, mask: k}, consts)
	}
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// bcast broadcasts the float32 parameter name into a new vector register.
func bcast(isa vecISA, name string) VecVirtual {
	p, err := Param(name).Resolve()
	check(err)
	r := isa.vec()
	VBROADCASTSS(p.Addr, r)
	return r
}

func zero(isa vecISA) VecVirtual {
	r := isa.vec()
	if isa.masked {
		VPXORD(r, r, r)
	} else {
		VXORPS(r, r, r)
	}
	return r
}

func elementwise512() { elementwiseFor(isa512) }
func elementwise256() { elementwiseFor(isa256) }

// elementwiseFor emits every element-wise kernel for one ISA. The operation
// order matches the pure-Go references (no fused multiply-add), so each
// tier rounds like the reference does.
func elementwiseFor(isa vecISA) {
	elementwise(isa, "axpy", "func(n int, alpha float32, x, y *float32)", "computes y += alpha*x",
		[]string{"x", "y"}, 4,
		func() any { return bcast(isa, "alpha") },
		func(c ewCtx, k any) {
			x := c.load("x")
			y := c.load("y")
			VMULPS(k.(VecVirtual), x, x)
			VADDPS(x, y, y)
			c.store(y, "y")
		})
	elementwise(isa, "scale", "func(n int, alpha float32, x *float32)", "computes x *= alpha",
		[]string{"x"}, 4,
		func() any { return bcast(isa, "alpha") },
		func(c ewCtx, k any) {
			x := c.load("x")
			VMULPS(k.(VecVirtual), x, x)
			c.store(x, "x")
		})
	elementwise(isa, "add", "func(n int, dst, a, b *float32)", "computes dst = a + b",
		[]string{"dst", "a", "b"}, 4,
		func() any { return nil },
		func(c ewCtx, _ any) {
			a := c.load("a")
			b := c.load("b")
			VADDPS(b, a, a)
			c.store(a, "dst")
		})
	elementwise(isa, "mul", "func(n int, dst, a, b *float32)", "computes dst = a * b",
		[]string{"dst", "a", "b"}, 4,
		func() any { return nil },
		func(c ewCtx, _ any) {
			a := c.load("a")
			b := c.load("b")
			VMULPS(b, a, a)
			c.store(a, "dst")
		})
	elementwise(isa, "addRelu", "func(n int, dst, a, b *float32)", "computes dst = max(a + b, 0), with NaN giving 0",
		[]string{"dst", "a", "b"}, 4,
		func() any { return zero(isa) },
		func(c ewCtx, z any) {
			a := c.load("a")
			b := c.load("b")
			VADDPS(b, a, a)
			VMAXPS(z.(VecVirtual), a, a) // as relu: NaN and -0 give +0
			c.store(a, "dst")
		})
	elementwise(isa, "relu", "func(n int, dst, x *float32)", "computes dst = max(x, 0), with NaN giving 0",
		[]string{"dst", "x"}, 4,
		func() any { return zero(isa) },
		func(c ewCtx, z any) {
			x := c.load("x")
			// Intel MAXPS(x, 0) returns its second operand unless x > 0,
			// so NaN and -0 give +0 like the reference.
			VMAXPS(z.(VecVirtual), x, x)
			c.store(x, "dst")
		})
	elementwise(isa, "reluBackward", "func(n int, dst, grad, x *float32)", "computes dst = g where x > 0, else 0",
		[]string{"dst", "grad", "x"}, 4,
		func() any { return zero(isa) },
		func(c ewCtx, z any) {
			x := c.load("x")
			g := c.load("grad")
			if isa.masked {
				k := K()
				VCMPPS(U8(0x1e), z.(VecVirtual), x, k) // x > 0, ordered
				VMOVUPS_Z(g, k, g)
			} else {
				VCMPPS(U8(0x1e), z.(VecVirtual), x, x)
				VANDPS(x, g, g)
			}
			c.store(g, "dst")
		})
	type adamConsts struct{ b1, omb1, b2, omb2, step, sb2, eps VecVirtual }
	elementwise(isa, "adam", "func(n int, p, grad, m, v *float32, beta1, omb1, beta2, omb2, step, sqrtBias2, eps float32)",
		"applies one Adam step (see AdamUpdate; omb1 = 1-beta1, omb2 = 1-beta2)",
		[]string{"p", "grad", "m", "v"}, 2,
		func() any {
			return adamConsts{bcast(isa, "beta1"), bcast(isa, "omb1"), bcast(isa, "beta2"), bcast(isa, "omb2"),
				bcast(isa, "step"), bcast(isa, "sqrtBias2"), bcast(isa, "eps")}
		},
		func(c ewCtx, k any) {
			a := k.(adamConsts)
			g := c.load("grad")
			m := c.load("m")
			v := c.load("v")
			t := isa.vec()
			// m = beta1*m + (1-beta1)*g
			VMULPS(a.b1, m, m)
			VMULPS(a.omb1, g, t)
			VADDPS(t, m, m)
			c.store(m, "m")
			// v = beta2*v + (1-beta2)*g*g
			VMULPS(a.omb2, g, t)
			VMULPS(g, t, t)
			VMULPS(a.b2, v, v)
			VADDPS(t, v, v)
			c.store(v, "v")
			// p -= step*m / (sqrt(v)/sqrtBias2 + eps)
			VSQRTPS(v, v)
			VDIVPS(a.sb2, v, v)
			VADDPS(a.eps, v, v)
			VMULPS(a.step, m, m)
			VDIVPS(v, m, m)
			p := c.load("p")
			VSUBPS(m, p, p)
			c.store(p, "p")
		})
}
