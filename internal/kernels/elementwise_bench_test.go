package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkElementwise times every element-wise kernel of every tier on
// sizes that live in L1, L2 and memory, reporting GB/s of data touched.
// The generic tier is the Go reference loop the SIMD tiers are measured
// against.
func BenchmarkElementwise(b *testing.B) {
	type kernel struct {
		name  string
		bytes int // bytes read and written per element
		run   func(tr *tier, s [][]float32)
	}
	kernelsList := []kernel{
		{"Axpy", 12, func(tr *tier, s [][]float32) { tr.axpy(0.5, s[0], s[1]) }},
		{"Scale", 8, func(tr *tier, s [][]float32) { tr.scale(1.0001, s[0]) }},
		{"Add", 12, func(tr *tier, s [][]float32) { tr.add(s[0], s[1], s[2]) }},
		{"Mul", 12, func(tr *tier, s [][]float32) { tr.mul(s[0], s[1], s[2]) }},
		{"Relu", 8, func(tr *tier, s [][]float32) { tr.relu(s[0], s[1]) }},
		{"AddRelu", 12, func(tr *tier, s [][]float32) { tr.addRelu(s[0], s[1], s[2]) }},
		{"ReluBackward", 12, func(tr *tier, s [][]float32) { tr.reluBackward(s[0], s[1], s[2]) }},
		{"AdamUpdate", 28, func(tr *tier, s [][]float32) { tr.adam(s[0], s[1], s[2], s[3], 0.9, 0.999, 1e-3, 0.03, 1e-8) }},
	}
	for _, k := range kernelsList {
		for _, n := range []int{1 << 10, 1 << 16, 1 << 20} {
			for _, tr := range tiers {
				b.Run(fmt.Sprintf("%s/n=%d/%s", k.name, n, tr.name), func(b *testing.B) {
					rng := rand.New(rand.NewPCG(1, 2))
					s := make([][]float32, 4)
					for i := range s {
						s[i] = randSlice(rng, n)
					}
					for i := range s[3] {
						s[3][i] *= s[3][i]
					}
					b.SetBytes(int64(k.bytes * n))
					for i := 0; i < b.N; i++ {
						k.run(tr, s)
					}
				})
			}
		}
	}
}
