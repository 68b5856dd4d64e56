package kernels

import (
	"fmt"
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

// TestWinoSplitTiers checks WinoSplit on every tier against its definition,
// dst[j*ds+t] = src[4t+j], bit for bit (NaN payloads included: it only
// moves data), for tile counts around the eight-tile groups and both
// lengths of src (4n+2, where the last group is left to Go, and 4n+4), with
// the gaps between dst's rows and the bytes around it untouched.
func TestWinoSplitTiers(t *testing.T) {
	for _, n := range []int{1, 2, 7, 8, 9, 14, 15, 16, 17, 24, 31, 64, 65} {
		for _, extra := range []int{2, 4, 9} {
			src, checkS := guarded(4*n+extra, 1, valueGen(uint64(n), true))
			ds := n + 3
			for _, tr := range append([]*tier{genericTier}, tiers...) {
				dst, checkD := guarded(5*ds+n, 2, func(int) float32 { return sentinel })
				withTier(tr, func() { WinoSplit(dst, ds, src, n) })
				name := fmt.Sprintf("WinoSplit n=%d len(src)=4n+%d tier %s", n, extra, tr.name)
				checkS(t, name)
				checkD(t, name)
				for j := 0; j < 6; j++ {
					for k := 0; k < ds && j*ds+k < len(dst); k++ {
						got := math.Float32bits(dst[j*ds+k])
						want := math.Float32bits(sentinel)
						if k < n {
							want = math.Float32bits(src[4*k+j])
						}
						if got != want {
							t.Fatalf("%s: dst[%d*ds+%d] = %#x, want %#x", name, j, k, got, want)
						}
					}
				}
			}
		}
	}
}

// TestWinoMergeTiers checks WinoMerge on every tier against its definition,
// dst[4t+k] = src[k*ss+t], bit for bit, with the bytes around dst untouched.
func TestWinoMergeTiers(t *testing.T) {
	for _, n := range []int{1, 2, 7, 8, 9, 14, 15, 16, 17, 24, 31, 64, 65} {
		ss := n + 5
		src, checkS := guarded(3*ss+n, 1, valueGen(uint64(n)+9, true))
		for _, tr := range append([]*tier{genericTier}, tiers...) {
			dst, checkD := guarded(4*n, 2, func(int) float32 { return sentinel })
			withTier(tr, func() { WinoMerge(dst, src, ss, n) })
			name := fmt.Sprintf("WinoMerge n=%d tier %s", n, tr.name)
			checkS(t, name)
			checkD(t, name)
			for q := range dst {
				if got, want := math.Float32bits(dst[q]), math.Float32bits(src[(q%4)*ss+q/4]); got != want {
					t.Fatalf("%s: dst[%d] = %#x, want %#x", name, q, got, want)
				}
			}
		}
	}
}
