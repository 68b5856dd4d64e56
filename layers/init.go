package layers

import (
	"math"
	"sync"

	"github.com/fastgo-ml/fastgo/tensor"
)

var (
	defaultMu  sync.Mutex
	defaultGen = tensor.NewRNG(0)
)

// SeedDefault reseeds the RNG that constructors use when given a nil
// *tensor.RNG, as torch.manual_seed does for PyTorch's global generator.
func SeedDefault(seed uint64) {
	defaultMu.Lock()
	defaultGen = tensor.NewRNG(seed)
	defaultMu.Unlock()
}

// OrDefault returns rng, or a fresh RNG split off the default generator (see
// SeedDefault) when rng is nil. Constructors use it for their nil-rng case.
func OrDefault(rng *tensor.RNG) *tensor.RNG { return rngOr(rng) }

// rngOr returns rng, or a fresh RNG split off the default one when rng is nil.
func rngOr(rng *tensor.RNG) *tensor.RNG {
	if rng != nil {
		return rng
	}
	defaultMu.Lock()
	defer defaultMu.Unlock()
	return defaultGen.Split()
}

// FanIn returns the fan-in of a weight of the given shape: shape[1] times the
// receptive field (the product of shape[2:]), as PyTorch computes it.
func FanIn(shape []int) int {
	if len(shape) < 2 {
		return shape[0]
	}
	f := shape[1]
	for _, d := range shape[2:] {
		f *= d
	}
	return f
}

// KaimingUniform fills w with PyTorch's default initialisation of Linear and
// Conv2d weights, kaiming_uniform_(a=sqrt(5)): U(-b, b) with b = 1/sqrt(fan_in).
func KaimingUniform(w *tensor.Tensor, rng *tensor.RNG) {
	b := 1 / math.Sqrt(float64(FanIn(w.Shape())))
	UniformInit(w, -b, b, rng)
}

// KaimingNormal fills w with N(0, 2/fan_in), kaiming_normal_ for ReLU
// networks (fan_in mode), as fastai initialises new heads.
func KaimingNormal(w *tensor.Tensor, rng *tensor.RNG) {
	std := math.Sqrt(2 / float64(FanIn(w.Shape())))
	rng = rngOr(rng)
	d := w.Data()
	for i := range d {
		d[i] = float32(std * rng.NormFloat64())
	}
}

// UniformInit fills w with U(lo, hi).
func UniformInit(w *tensor.Tensor, lo, hi float64, rng *tensor.RNG) {
	rng = rngOr(rng)
	d := w.Data()
	for i := range d {
		d[i] = float32(lo + (hi-lo)*rng.Float64())
	}
}
