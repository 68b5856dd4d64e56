//go:build !amd64 || purego

package kernels

// cpuTiers returns no assembly tiers: this build is pure Go.
func cpuTiers() []*tier { return nil }
