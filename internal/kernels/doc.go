// Package kernels holds the numeric inner loops of fastgo: a packed,
// cache-blocked SGEMM with register-blocked micro-kernels, and the
// element-wise kernels that training spends its time in.
//
// Each kernel has a pure-Go reference and, on amd64, Go-assembly tiers for
// AVX-512 and AVX2+FMA. The tier is chosen once at start-up from the CPU's
// features (github.com/klauspost/cpuid/v2); FASTGO_CPU=avx512|avx2|generic
// forces a lower tier, and the purego build tag removes all assembly.
package kernels
