package learner

import (
	"context"
	"runtime"
	"testing"

	"github.com/fastgo-ml/fastgo/internal/race"
)

// garbageSink keeps the last garbage buffer reachable only until the next.
var garbageSink []byte

// TestFitCollectsItsGarbage fits beside 256 MiB of live memory (standing
// in for a model's pooled tensors, which put the collector's next cycle at
// twice that) with batches that make 2 MiB of garbage each: 100 batches,
// 200 MiB in all, which the collector left alone would let pile up. The
// heap must never grow by more than memPaceBytes and a batch's worth.
func TestFitCollectsItsGarbage(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation-heavy")
	}
	live := make([]byte, 256<<20)
	for i := range live {
		live[i] = byte(i)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	start, peak := ms.HeapAlloc, ms.HeapAlloc
	garbage := CallbackFunc(func(l *Learner, e Event) error {
		if e == AfterBatch {
			garbageSink = make([]byte, 2<<20)
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		return nil
	})
	l := New(blobData(800, 8, 8), newMLP(1), NoProgress())
	if err := l.Fit(context.Background(), 1, Callbacks(garbage)); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(live)
	if grew := peak - start; grew > memPaceBytes+8<<20 {
		t.Fatalf("the heap grew by %d MiB during the fit, want at most %d MiB", grew>>20, (memPaceBytes+8<<20)>>20)
	}
}
