package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// winoRef64 is the column transform in float64: Bᵀ (6x6) or Aᵀ (4x6).
var (
	winoBT = [6][6]float64{
		{4, 0, -5, 0, 1, 0},
		{0, -4, -4, 1, 1, 0},
		{0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0},
		{0, 2, -1, -2, 1, 0},
		{0, 4, 0, -5, 0, 1},
	}
	winoAT = [4][6]float64{
		{1, 1, 1, 1, 1, 0},
		{0, 1, -1, 2, -2, 0},
		{0, 1, 1, 4, 4, 0},
		{0, 1, -1, 8, -8, 1},
	}
)

// TestWinoRowsTiers checks every tier's Winograd column transforms against
// float64 (within a few float32 roundings of the terms' magnitudes) and
// bit-for-bit against the pure-Go tier, for lengths around the vector width
// and with strides that are not multiples of it. dst's gaps stay untouched.
func TestWinoRowsTiers(t *testing.T) {
	type kern struct {
		name string
		outs int
		m    [][6]float64
		get  func(tr *tier) func(dst []float32, ds int, src []float32, ss, n int)
	}
	ks := []kern{
		{"input", 6, winoBT[:], func(tr *tier) func([]float32, int, []float32, int, int) { return tr.winoInputRows }},
		{"output", 4, winoAT[:], func(tr *tier) func([]float32, int, []float32, int, int) { return tr.winoOutputRows }},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range ks {
		for _, n := range []int{0, 1, 7, 8, 9, 16, 23, 61} {
			ss, ds := n+3, n+5
			src := make([]float32, 6*ss)
			for i := range src {
				src[i] = float32(rng.NormFloat64())
			}
			var want []float32
			for _, tr := range tiers {
				dst := make([]float32, k.outs*ds)
				for i := range dst {
					dst[i] = -7
				}
				k.get(tr)(dst, ds, src, ss, n)
				for i := 0; i < k.outs; i++ {
					for j := 0; j < ds; j++ {
						got := dst[i*ds+j]
						if j >= n {
							if got != -7 {
								t.Fatalf("%s %s n=%d: dst[%d][%d] = %v written, beyond n", k.name, tr.name, n, i, j, got)
							}
							continue
						}
						var sum, mag float64
						for c := 0; c < 6; c++ {
							v := k.m[i][c] * float64(src[c*ss+j])
							sum += v
							mag += math.Abs(v)
						}
						if math.Abs(float64(got)-sum) > 4*mag*0x1p-24 {
							t.Fatalf("%s %s n=%d: [%d][%d] = %v, float64 %v", k.name, tr.name, n, i, j, got, sum)
						}
					}
				}
				if want == nil {
					want = dst
					continue
				}
				for i := range dst {
					if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s %s n=%d: [%d] = %v, %s gives %v", k.name, tr.name, n, i, dst[i], tiers[0].name, want[i])
					}
				}
			}
		}
	}
}

func TestWinoRowsChecks(t *testing.T) {
	for name, f := range map[string]func(){
		"short src": func() { WinoInputRows(make([]float32, 60), 10, make([]float32, 59), 10, 10) },
		"short dst": func() { WinoOutputRows(make([]float32, 39), 10, make([]float32, 60), 10, 10) },
		"negative":  func() { WinoInputRows(nil, 0, nil, 0, -1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	WinoInputRows(make([]float32, 60), 10, make([]float32, 60), 10, 10)
	WinoOutputRows(make([]float32, 40), 10, make([]float32, 60), 10, 10)
}
