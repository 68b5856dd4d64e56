package kernels

import (
	"fmt"
	"math"
	"testing"
)

// These cases extend TestElementwiseTiers: every element-wise kernel of
// every tier, at every offset from 0 to 16 floats (all alignments of a
// 64-byte vector) and lengths around the vector widths, with special values
// in every input (Axpy and AdamUpdate included), aliased outputs, and guard
// bands around every slice.

// extraCase is one kernel call: the inputs are fresh guarded slices, and
// the call may alias them as it likes.
type extraCase struct {
	name    string
	inputs  int
	outputs []int
	relTol  float64
	run     func(tr *tier, in [][]float32)
}

var extraCases = []extraCase{
	{name: "Axpy specials", inputs: 2, outputs: []int{1}, relTol: 1e-6,
		run: func(tr *tier, in [][]float32) { tr.axpy(-1.75, in[0], in[1]) }},
	{name: "Axpy alpha 0", inputs: 2, outputs: []int{1},
		run: func(tr *tier, in [][]float32) { tr.axpy(0, in[0], in[1]) }},
	{name: "Axpy alpha 1", inputs: 2, outputs: []int{1},
		run: func(tr *tier, in [][]float32) { tr.axpy(1, in[0], in[1]) }},
	{name: "Scale 0", inputs: 1, outputs: []int{0},
		run: func(tr *tier, in [][]float32) { tr.scale(0, in[0]) }},
	{name: "Add dst aliases b", inputs: 2, outputs: []int{1},
		run: func(tr *tier, in [][]float32) { tr.add(in[1], in[0], in[1]) }},
	{name: "Add a aliases b", inputs: 2, outputs: []int{0},
		run: func(tr *tier, in [][]float32) { tr.add(in[0], in[1], in[1]) }},
	{name: "Mul dst aliases a", inputs: 2, outputs: []int{0},
		run: func(tr *tier, in [][]float32) { tr.mul(in[0], in[0], in[1]) }},
	{name: "Mul square in place", inputs: 1, outputs: []int{0},
		run: func(tr *tier, in [][]float32) { tr.mul(in[0], in[0], in[0]) }},
	{name: "ReluBackward dst aliases g", inputs: 2, outputs: []int{0},
		run: func(tr *tier, in [][]float32) { tr.reluBackward(in[0], in[0], in[1]) }},
	{name: "AdamUpdate specials", inputs: 4, outputs: []int{0, 2, 3}, relTol: 1e-5,
		run: func(tr *tier, in [][]float32) {
			for i := range in[3] {
				in[3][i] = float32(math.Abs(float64(in[3][i])))
			}
			tr.adam(in[0], in[1], in[2], in[3], 0.9, 0.99, 1e-2, 0.3, 1e-5)
		}},
}

func TestElementwiseTiersAllOffsets(t *testing.T) {
	lengths := []int{1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100}
	forEachTier(t, func(t *testing.T, tr *tier) {
		for _, ec := range extraCases {
			for off := 0; off <= 16; off++ {
				for _, n := range lengths {
					name := fmt.Sprintf("%s/%s/off=%d/n=%d", tr.name, ec.name, off, n)
					mk := func() ([][]float32, []func(*testing.T, string)) {
						var ins [][]float32
						var checks []func(*testing.T, string)
						for j := 0; j < ec.inputs; j++ {
							// Inputs start at different offsets, so that
							// they are misaligned relative to each other.
							s, chk := guarded(n, (off+3*j)%17, valueGen(uint64(97*n+13*off+j), true))
							ins = append(ins, s)
							checks = append(checks, chk)
						}
						return ins, checks
					}
					got, checks := mk()
					want, _ := mk()
					ec.run(tr, got)
					ec.run(genericTier, want)
					for _, chk := range checks {
						chk(t, name)
					}
					for _, o := range ec.outputs {
						if i, ok := sameFloats(got[o], want[o], ec.relTol); !ok {
							t.Fatalf("%s: output %d element %d = %v, reference %v", name, o, i, got[o][i], want[o][i])
						}
					}
				}
			}
		}
	})
}
