package attacks

import (
	"math"
	"slices"
	"testing"
)

func TestSampleSeed(t *testing.T) {
	a := []float32{0.1, 0.2, 0.3}
	b := []float32{0.1, 0.2, math.Nextafter32(0.3, 1)}
	if SampleSeed(1, a) == SampleSeed(1, b) {
		t.Error("nearby images share a seed")
	}
	if SampleSeed(1, a) == SampleSeed(2, a) {
		t.Error("seeds 1 and 2 give the same stream")
	}
	if SampleSeed(1, a) != SampleSeed(1, slices.Clone(a)) {
		t.Error("the same image gets different seeds")
	}
}
