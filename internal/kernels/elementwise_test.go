package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fastgo-ml/fastgo"
)

// guarded returns a slice of n values from fill inside a buffer whose
// elements before and after hold sentinel, and a function that fails the
// test if a guard element changed.
func guarded(n, off int, fill func(i int) float32) ([]float32, func(t *testing.T, name string)) {
	buf := make([]float32, off+n+19)
	for i := range buf {
		buf[i] = sentinel
	}
	s := buf[off : off+n : off+n]
	for i := range s {
		s[i] = fill(i)
	}
	return s, func(t *testing.T, name string) {
		t.Helper()
		for i, v := range buf {
			if (i < off || i >= off+n) && v != sentinel {
				t.Fatalf("%s: guard element %d changed to %v", name, i-off, v)
			}
		}
	}
}

// special values that the element-wise kernels must treat like the Go
// reference: signed zeros, NaN, infinities, subnormals.
var specials = []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-40, -1e-40, 3, -3}

func valueGen(seed uint64, withSpecials bool) func(int) float32 {
	rng := rand.New(rand.NewPCG(seed, 99))
	return func(i int) float32 {
		if withSpecials && i%5 == 2 {
			return specials[rng.IntN(len(specials))]
		}
		return rng.Float32()*4 - 2
	}
}

// sameFloats reports whether got and want agree: bitwise equal, both NaN, or
// within relTol relative error.
func sameFloats(got, want []float32, relTol float64) (int, bool) {
	for i := range want {
		g, w := got[i], want[i]
		if math.Float32bits(g) == math.Float32bits(w) || (isNaN(g) && isNaN(w)) {
			continue
		}
		if relTol > 0 && !isNaN(g) && !isNaN(w) && math.Abs(float64(g-w)) <= relTol*math.Max(math.Abs(float64(w)), 1e-30) {
			continue
		}
		return i, false
	}
	return 0, true
}

// elementwiseCase is one kernel under test: run applies the tier's kernel
// (or the reference) to fresh inputs and returns every output slice.
type elementwiseCase struct {
	name         string
	relTol       float64 // 0: bit-exact (NaN == NaN)
	withSpecials bool
	run          func(tr *tier, ins [][]float32) [][]float32
	inputs       int // number of input slices
	outputs      []int
}

var elementwiseCases = []elementwiseCase{
	{name: "Axpy", relTol: 1e-6, inputs: 2, outputs: []int{1},
		run: func(tr *tier, in [][]float32) [][]float32 { tr.axpy(0.37, in[0], in[1]); return in }},
	{name: "Scale", inputs: 1, outputs: []int{0}, withSpecials: true,
		run: func(tr *tier, in [][]float32) [][]float32 { tr.scale(-1.25, in[0]); return in }},
	{name: "Add", inputs: 3, outputs: []int{0}, withSpecials: true,
		run: func(tr *tier, in [][]float32) [][]float32 { tr.add(in[0], in[1], in[2]); return in }},
	{name: "AddAliased", inputs: 2, outputs: []int{0}, withSpecials: true,
		run: func(tr *tier, in [][]float32) [][]float32 { tr.add(in[0], in[0], in[1]); return in }},
	{name: "Mul", inputs: 3, outputs: []int{0}, withSpecials: true,
		run: func(tr *tier, in [][]float32) [][]float32 { tr.mul(in[0], in[1], in[2]); return in }},
	{name: "Relu", inputs: 2, outputs: []int{0}, withSpecials: true,
		run: func(tr *tier, in [][]float32) [][]float32 { tr.relu(in[0], in[1]); return in }},
	{name: "ReluInPlace", inputs: 1, outputs: []int{0}, withSpecials: true,
		run: func(tr *tier, in [][]float32) [][]float32 { tr.relu(in[0], in[0]); return in }},
	{name: "AddRelu", inputs: 3, outputs: []int{0}, withSpecials: true,
		run: func(tr *tier, in [][]float32) [][]float32 { tr.addRelu(in[0], in[1], in[2]); return in }},
	{name: "AddReluAliased", inputs: 2, outputs: []int{0}, withSpecials: true,
		run: func(tr *tier, in [][]float32) [][]float32 { tr.addRelu(in[0], in[0], in[1]); return in }},
	{name: "ReluBackward", inputs: 3, outputs: []int{0}, withSpecials: true,
		run: func(tr *tier, in [][]float32) [][]float32 { tr.reluBackward(in[0], in[1], in[2]); return in }},
	{name: "AdamUpdate", relTol: 1e-5, inputs: 4, outputs: []int{0, 2, 3},
		run: func(tr *tier, in [][]float32) [][]float32 {
			for i := range in[3] {
				in[3][i] = float32(math.Abs(float64(in[3][i]))) // v >= 0
			}
			tr.adam(in[0], in[1], in[2], in[3], 0.9, 0.999, 1e-3/(1-0.9*0.9), float32(math.Sqrt(1-0.999*0.999)), 1e-8)
			return in
		}},
}

// TestElementwiseTiers runs every element-wise kernel of every tier on
// lengths 0..67 and a few long ones, at odd offsets inside guard bands, and
// compares it with the pure-Go reference.
func TestElementwiseTiers(t *testing.T) {
	lengths := []int{}
	for n := 0; n <= 67; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 128, 1000, 4099)
	forEachTier(t, func(t *testing.T, tr *tier) {
		for _, ec := range elementwiseCases {
			for _, n := range lengths {
				name := fmt.Sprintf("%s/n=%d", ec.name, n)
				mk := func() ([][]float32, []func(*testing.T, string)) {
					var ins [][]float32
					var checks []func(*testing.T, string)
					for j := 0; j < ec.inputs; j++ {
						s, chk := guarded(n, 1+j, valueGen(uint64(1000*n+j), ec.withSpecials))
						ins = append(ins, s)
						checks = append(checks, chk)
					}
					return ins, checks
				}
				ins, checks := mk()
				refIns, _ := mk()
				got := ec.run(tr, ins)
				want := ec.run(genericTier, refIns)
				for _, chk := range checks {
					chk(t, tr.name+"/"+name)
				}
				for _, o := range ec.outputs {
					if i, ok := sameFloats(got[o], want[o], ec.relTol); !ok {
						t.Fatalf("%s/%s: output %d element %d = %v, want %v", tr.name, name, o, i, got[o][i], want[o][i])
					}
				}
			}
		}
	})
}

// TestElementwiseSemantics pins the reference's behaviour on special values,
// through the exported functions (the active tier).
func TestElementwiseSemantics(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	x := []float32{-1, negZero, nan, 2, float32(math.Inf(-1)), float32(math.Inf(1)), 0, 0.5, -0.5, nan, 3, -3, 1, 1, 1, 1, 7}
	dst := make([]float32, len(x))
	Relu(dst, x)
	want := []float32{0, 0, 0, 2, 0, float32(math.Inf(1)), 0, 0.5, 0, 0, 3, 0, 1, 1, 1, 1, 7}
	for i := range want {
		if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
			t.Errorf("Relu(%v) = %v, want %v (+0 for NaN and -0)", x[i], dst[i], want[i])
		}
	}
	g := make([]float32, len(x))
	for i := range g {
		g[i] = float32(i + 1)
	}
	ReluBackward(dst, g, x)
	for i := range x {
		w := float32(0)
		if x[i] > 0 {
			w = g[i]
		}
		if dst[i] != w {
			t.Errorf("ReluBackward at x=%v: %v, want %v", x[i], dst[i], w)
		}
	}
	y := []float32{1, 2, 3}
	Axpy(2, []float32{1, 1, 1}, y)
	if y[0] != 3 || y[1] != 4 || y[2] != 5 {
		t.Errorf("Axpy: %v, want [3 4 5]", y)
	}
}

func TestElementwisePanics(t *testing.T) {
	short, long := make([]float32, 3), make([]float32, 5)
	for name, f := range map[string]func(){
		"kernels.Axpy":         func() { Axpy(1, long, short) },
		"kernels.Add":          func() { Add(long, short, long) },
		"kernels.Mul":          func() { Mul(long, long, short) },
		"kernels.Relu":         func() { Relu(long, short) },
		"kernels.AddRelu":      func() { AddRelu(long, long, short) },
		"kernels.ReluBackward": func() { ReluBackward(long, long, short) },
		"kernels.AdamUpdate":   func() { AdamUpdate(long, long, short, long, 0.9, 0.999, 1, 1, 1e-8) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if _, ok := r.(fastgo.Error); !ok {
					t.Fatalf("panic %v is not a fastgo.Error", r)
				}
				msg := fmt.Sprint(r)
				if len(msg) < len(name) || msg[:len(name)] != name {
					t.Fatalf("panic %q, want one starting with %q", msg, name)
				}
			}()
			f()
		})
	}
}

// TestPositive checks the branch-free test of the Go tails against v > 0
// on the boundaries of the float32 bit patterns and on random ones.
func TestPositive(t *testing.T) {
	bits := []uint32{0, 1, 2, 0x007fffff, 0x00800000, 0x3f800000, 0x7f7fffff, 0x7f800000, 0x7f800001,
		0x7fc00000, 0x7fffffff, 0x80000000, 0x80000001, 0xbf800000, 0xff800000, 0xff800001, 0xffc00000, 0xffffffff}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 100000 {
		bits = append(bits, rng.Uint32())
	}
	for _, b := range bits {
		v := math.Float32frombits(b)
		want := uint32(0)
		if v > 0 {
			want = ^uint32(0)
		}
		if got := positive(v); got != want {
			t.Fatalf("positive(%#x = %v) = %#x, want %#x", b, v, got, want)
		}
	}
}
