//go:build amd64 && !purego

package kernels

import (
	"testing"

	"github.com/klauspost/cpuid/v2"
)

// TestAssemblyTiersAreTested makes sure the conformance suites, which run
// over tiers, really exercise the assembly this CPU can run: a tier missing
// from the list would pass every suite unseen.
func TestAssemblyTiersAreTested(t *testing.T) {
	have := map[string]bool{}
	for _, tr := range tiers {
		have[tr.name] = true
	}
	want := map[string]bool{
		"avx512":  cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX2, cpuid.FMA3, cpuid.BMI2),
		"avx2":    cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3),
		"generic": true,
	}
	for name, w := range want {
		if w && !have[name] {
			t.Errorf("this CPU supports the %s tier but the suites do not test it", name)
		}
	}
	if tiers[len(tiers)-1] != genericTier {
		t.Error("the pure-Go reference is not the last tier")
	}
	t.Logf("tiers under test: %d (%v)", len(tiers), have)
}
