package tensor

import "testing"

// Training-sized shapes: a batch of 128 activations of width 512 plus a bias
// row, and a batch of 64 NCHW feature maps with a per-channel term.
func BenchmarkAddBroadcastBias(b *testing.B) {
	g := NewRNG(1)
	x := Normal[float32](g, 0, 1, 128, 512)
	bias := Normal[float32](g, 0, 1, 512)
	b.SetBytes(int64(x.Len() * 4))
	for b.Loop() {
		Add(x, bias)
	}
}

func BenchmarkAddBroadcastChannel(b *testing.B) {
	g := NewRNG(1)
	x := Normal[float32](g, 0, 1, 64, 32, 28, 28)
	c := Normal[float32](g, 0, 1, 32, 1, 1)
	b.SetBytes(int64(x.Len() * 4))
	for b.Loop() {
		Add(x, c)
	}
}

func BenchmarkAddSameShape(b *testing.B) {
	g := NewRNG(1)
	x := Normal[float32](g, 0, 1, 64, 32, 28, 28)
	y := Normal[float32](g, 0, 1, 64, 32, 28, 28)
	b.SetBytes(int64(x.Len() * 4))
	for b.Loop() {
		Add(x, y)
	}
}

func BenchmarkSumBatchAxis(b *testing.B) {
	g := NewRNG(1)
	x := Normal[float32](g, 0, 1, 128, 4096)
	b.SetBytes(int64(x.Len() * 4))
	for b.Loop() {
		Sum(x, 0)
	}
}

func BenchmarkSumChannels(b *testing.B) {
	g := NewRNG(1)
	x := Normal[float32](g, 0, 1, 64, 32, 28, 28)
	b.SetBytes(int64(x.Len() * 4))
	for b.Loop() {
		Sum(x, 0, 2, 3)
	}
}

func BenchmarkSumLastAxis(b *testing.B) {
	g := NewRNG(1)
	x := Normal[float32](g, 0, 1, 1024, 1000)
	b.SetBytes(int64(x.Len() * 4))
	for b.Loop() {
		Sum(x, -1)
	}
}

func BenchmarkSoftmax(b *testing.B) {
	g := NewRNG(1)
	x := Normal[float32](g, 0, 1, 256, 1000)
	b.SetBytes(int64(x.Len() * 4))
	for b.Loop() {
		Softmax(x, -1)
	}
}
