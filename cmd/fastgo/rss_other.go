//go:build !unix

package main

// peakRSSMiB returns 0 where the peak resident set size is not available.
func peakRSSMiB() float64 { return 0 }
