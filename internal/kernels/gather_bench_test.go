package kernels

import "testing"

// gatherSink keeps the benchmark's result live.
var gatherSink float32

// BenchmarkGatherRowsConv packs B slivers as a same 3x3 convolution does on
// its wide grid (rows c*plane + kh*wp + kw of a channel-major padded input),
// over one panel of 4096 columns and one k block of 192 rows (21 channels),
// for the padded input of ResNet-18 CIFAR's stage 1 at batch 256 (72 MB,
// in no cache) and for one of 1/64 of that size (in L2). ns/row is the cost
// of one 32-float row.
func BenchmarkGatherRowsConv(b *testing.B) {
	const wp, kc, cols = 33, 192, 4096
	for _, c := range []struct {
		name  string
		plane int
	}{{"stage1-batch256", 256 * 34 * wp}, {"batch4", 4 * 34 * wp}} {
		b.Run(c.name, func(b *testing.B) {
			channels := (kc + 8) / 9
			src := make([]float32, channels*c.plane+cols+64*wp)
			offs := make([]int, kc)
			for p := range offs {
				ch, t := p/9, p%9
				offs[p] = ch*c.plane + (t/3)*wp + t%3
			}
			dst := make([]float32, kc*32)
			cur := make([]int, kc)
			start := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if start+cols > c.plane {
					start = 0
				}
				for col := start; col < start+cols; col += 32 {
					for p, o := range offs {
						cur[p] = o + col
					}
					GatherRows(dst, src, cur, 32, 32)
				}
				start += cols
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*kc*cols/32), "ns/row")
			gatherSink = dst[0]
		})
	}
}
