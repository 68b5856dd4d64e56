// Package race reports whether the binary was built with the race detector.
//
// Tests that count allocations consult it: under -race, sync.Pool drops a
// share of the values put into it on purpose, so pooled buffers are
// reallocated and allocation counts say nothing about the code.
package race
