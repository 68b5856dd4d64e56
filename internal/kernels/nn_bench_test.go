package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// nnSink keeps the reductions' results live.
var nnSink float32

// BenchmarkNNKernels times the batch-norm kernels, the 2x2 max pool and the
// row gather of every tier on the same data, reporting GB/s of data touched:
// the tiers side by side, the generic one being the Go reference. The
// lengths are a SmallCNN plane (in L1), 256 KiB (L2) and 4 MiB (memory);
// the pools are SmallCNN's two (28x28 and 14x14 planes, 64 of them).
func BenchmarkNNKernels(b *testing.B) {
	type kernel struct {
		name  string
		bytes int // bytes read and written per element
		run   func(s [][]float32)
	}
	list := []kernel{
		{"BNStats", 4, func(s [][]float32) { a, b := BNStats(s[0], 0.1); nnSink += a + b }},
		{"SumDot", 8, func(s [][]float32) { a, b := SumDot(s[0], s[1], 0.1); nnSink += a + b }},
		{"SumDotMask", 8, func(s [][]float32) { a, b := SumDotMask(s[0], s[1], 0.1, 1.1, -0.1); nnSink += a + b }},
		{"Affine", 8, func(s [][]float32) { Affine(s[0], s[1], 1.1, 0.1) }},
		{"AffineRelu", 8, func(s [][]float32) { AffineRelu(s[0], s[1], 1.1, 0.1) }},
		{"BNBackward", 12, func(s [][]float32) { BNBackward(s[0], s[1], s[2], 0.5, 0.25, 0.1) }},
		{"BNBackwardMask", 12, func(s [][]float32) { BNBackwardMask(s[0], s[1], s[2], 1.1, -0.1, 0.5, 0.25, 0.1) }},
	}
	for _, k := range list {
		for _, n := range []int{784, 1 << 16, 1 << 20} {
			for _, tr := range tiers {
				b.Run(fmt.Sprintf("%s/n=%d/%s", k.name, n, tr.name), func(b *testing.B) {
					rng := rand.New(rand.NewPCG(1, 2))
					s := make([][]float32, 4)
					for i := range s {
						s[i] = randSlice(rng, n)
					}
					b.SetBytes(int64(k.bytes * n))
					withTier(tr, func() {
						for i := 0; i < b.N; i++ {
							k.run(s)
						}
					})
				})
			}
		}
	}
	for _, h := range []int{28, 14} {
		rows, ow := 64*h/2, h/2
		x := randSlice(rand.New(rand.NewPCG(3, 4)), 64*h*h)
		y, g := make([]float32, rows*ow), make([]float32, rows*ow)
		code := make([]uint8, rows*ow)
		for _, tr := range tiers {
			b.Run(fmt.Sprintf("MaxPool2x2/%dx%d/%s", h, h, tr.name), func(b *testing.B) {
				b.SetBytes(int64(4*len(x) + 5*len(y)))
				withTier(tr, func() {
					for i := 0; i < b.N; i++ {
						MaxPool2x2(rows, ow, 2*h, h, x, y, code)
					}
				})
			})
			// Plane by plane from one buffer, as the fused batch-norm,
			// ReLU and pool op calls it: the per-call cost shows here.
			b.Run(fmt.Sprintf("MaxPool2x2PerPlane/%dx%d/%s", h, h, tr.name), func(b *testing.B) {
				b.SetBytes(int64(4*len(x) + 5*len(y)))
				plane, opl := h*h, h/2*ow
				buf := x[:plane]
				withTier(tr, func() {
					for i := 0; i < b.N; i++ {
						for pl := 0; pl < 64; pl++ {
							MaxPool2x2(h/2, ow, 2*h, h, buf, y[pl*opl:(pl+1)*opl], code[pl*opl:(pl+1)*opl])
						}
					}
				})
			})
			b.Run(fmt.Sprintf("MaxPool2x2Backward/%dx%d/%s", h, h, tr.name), func(b *testing.B) {
				b.SetBytes(int64(4*len(x) + 5*len(y)))
				withTier(tr, func() {
					for i := 0; i < b.N; i++ {
						MaxPool2x2Backward(rows, ow, 2*h, h, g, code, x)
					}
				})
			})
		}
	}
	for _, nr := range []int{16, 32} {
		const kc = 256
		src := randSlice(rand.New(rand.NewPCG(5, 6)), 1<<16)
		offs := make([]int, kc)
		for p := range offs {
			offs[p] = (p * 211) % (len(src) - 64)
		}
		dst := make([]float32, kc*nr)
		for _, tr := range tiers {
			b.Run(fmt.Sprintf("GatherRows/nr=%d/%s", nr, tr.name), func(b *testing.B) {
				b.SetBytes(int64(8 * kc * nr))
				withTier(tr, func() {
					for i := 0; i < b.N; i++ {
						GatherRows(dst, src, offs, nr, nr)
					}
				})
			})
		}
	}
}
