package autograd

import (
	"fmt"
	"testing"
)

// BenchmarkWinoTransforms times Winograd's input and output transforms alone
// on one chunk of tiles of three ResNet-18 CIFAR layers (batch 64).
func BenchmarkWinoTransforms(b *testing.B) {
	for _, c := range []struct{ n, ch, hw int }{{64, 64, 32}, {64, 256, 8}, {64, 512, 4}} {
		g := newWinoGeom(c.n, c.ch, c.hw, c.hw, 1, 1, c.ch)
		x := make([]float32, c.n*c.ch*c.hw*c.hw)
		for i := range x {
			x[i] = float32(i%17) * 0.1
		}
		v := make([]float32, 36*g.vs)
		m := make([]float32, 36*g.ms)
		out := make([]float32, len(x))
		tc := g.chunk
		b.Run(fmt.Sprintf("in/%dx%d", c.ch, c.hw), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				winoInput(g, x, 0, tc, v)
			}
		})
		b.Run(fmt.Sprintf("out/%dx%d", c.ch, c.hw), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				winoOutput(g, m, 0, tc, out, nil, false)
			}
		})
	}
}
