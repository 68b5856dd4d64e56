package learner

import (
	"runtime"
	"runtime/metrics"
)

// memPaceBytes is how much a fit's batches may allocate before memPacer
// collects the garbage.
const memPaceBytes = 64 << 20

// memPacer collects a fit's garbage after the batch that brings it to
// memPaceBytes since the last collection. The Go collector starts a cycle
// when the heap has grown by GOGC percent (100 by default) of what was live
// after the last one, and a model's pooled tensors are nearly all of that:
// a ResNet-34 step at 224 pixels keeps about 2 GB of tensors and makes only
// about 4.4 MB of garbage, so the collector would wait some 400 steps, the
// memory growing all the while, before its first cycle. A collection of
// that heap takes about 7 ms (mostly pointer-free tensor buffers, which it
// does not scan), against about 30 s for the 15 steps between two of them.
type memPacer struct {
	samples [2]metrics.Sample // bytes allocated so far, cycles so far
	base    uint64            // bytes allocated at the last collection seen
	cycles  uint64
}

// newMemPacer returns a pacer counting from now.
func newMemPacer() *memPacer {
	m := &memPacer{}
	m.samples[0].Name = "/gc/heap/allocs:bytes"
	m.samples[1].Name = "/gc/cycles/total:gc-cycles"
	m.read()
	return m
}

// read takes the counters; a collection since the last read becomes the
// new base.
func (m *memPacer) read() uint64 {
	metrics.Read(m.samples[:])
	allocs, cycles := m.samples[0].Value.Uint64(), m.samples[1].Value.Uint64()
	if cycles != m.cycles {
		m.base, m.cycles = allocs, cycles
	}
	return allocs
}

// afterBatch collects the garbage once the batches since the last
// collection have allocated memPaceBytes.
func (m *memPacer) afterBatch() {
	if m.read()-m.base >= memPaceBytes {
		runtime.GC()
		m.read()
	}
}
