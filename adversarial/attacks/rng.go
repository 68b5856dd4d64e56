package attacks

import (
	"math"

	"github.com/fastgo-ml/fastgo/tensor"
)

// SampleSeed returns the seed of sample's random stream under the attack
// seed seed: a 64-bit hash of the seed and of the sample's float32 bits.
//
// Deriving a sample's randomness from its own pixels, not from its position
// in the batch, is what makes an attack on a batch equal to the same attack
// on each of its rows alone: neither the batch size, the row's position nor
// its neighbours change the noise a sample gets. (Identical images get
// identical streams, as they would if attacked one at a time.)
func SampleSeed(seed uint64, sample []float32) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, v := range sample {
		b := math.Float32bits(v)
		for k := 0; k < 4; k++ {
			h ^= uint64(b & 0xff)
			h *= prime
			b >>= 8
		}
	}
	return splitmix(splitmix(seed) ^ h)
}

// SampleRNGs returns one generator per sample of the batch x [N, ...], each
// seeded with SampleSeed(seed, sample). Attacks draw every random choice for
// sample i from the i-th generator.
func SampleRNGs(seed uint64, x *tensor.Tensor) []*tensor.RNG {
	n := x.Dim(0)
	d := x.Len() / n
	out := make([]*tensor.RNG, n)
	for i := range out {
		out[i] = tensor.NewRNG(SampleSeed(seed, x.Data()[i*d:(i+1)*d]))
	}
	return out
}

// IndexSeed returns the seed of the stream of item i under seed, for random
// choices that belong to a position rather than to an image (TargetRandom).
func IndexSeed(seed uint64, i int) uint64 {
	return splitmix(splitmix(seed) ^ splitmix(uint64(i)+0x632be59bd9b4e019))
}

// splitmix is SplitMix64's finaliser, a bijective 64-bit mixer.
func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
