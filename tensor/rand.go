package tensor

import (
	"math/rand/v2"
)

// RNG is a seeded source of random numbers. The same seed gives the same
// sequence on every platform and Go release (PCG, as specified by math/rand/v2).
// An RNG is not safe for concurrent use.
type RNG struct {
	r *rand.Rand
}

// NewRNG returns an RNG seeded with seed.
func NewRNG(seed uint64) *RNG {
	return &RNG{r: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// Uint64 returns a uniformly random 64-bit value.
func (g *RNG) Uint64() uint64 { return g.r.Uint64() }

// IntN returns a uniform integer in [0, n).
func (g *RNG) IntN(n int) int { return g.r.IntN(n) }

// Float64 returns a uniform float64 in [0, 1).
func (g *RNG) Float64() float64 { return g.r.Float64() }

// NormFloat64 returns a standard normal float64.
func (g *RNG) NormFloat64() float64 { return g.r.NormFloat64() }

// Perm returns a random permutation of [0, n).
func (g *RNG) Perm(n int) []int { return g.r.Perm(n) }

// Split returns a new RNG seeded from g, for a sub-task that must not disturb
// g's own sequence beyond this one draw.
func (g *RNG) Split() *RNG { return NewRNG(g.r.Uint64()) }

// Uniform returns a tensor of samples uniform in [lo, hi).
func Uniform[T Float](g *RNG, lo, hi T, shape ...int) *Dense[T] {
	t := New[T](shape...)
	for i := range t.data {
		t.data[i] = lo + T(g.r.Float64())*(hi-lo)
	}
	return t
}

// Normal returns a tensor of samples from N(mean, std^2).
func Normal[T Float](g *RNG, mean, std T, shape ...int) *Dense[T] {
	t := New[T](shape...)
	for i := range t.data {
		t.data[i] = mean + std*T(g.r.NormFloat64())
	}
	return t
}

// Bernoulli returns a tensor of 1s with probability p and 0s otherwise.
func Bernoulli[T Float](g *RNG, p float64, shape ...int) *Dense[T] {
	t := New[T](shape...)
	for i := range t.data {
		if g.r.Float64() < p {
			t.data[i] = 1
		}
	}
	return t
}
