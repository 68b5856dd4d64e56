// Package kernels holds the numeric inner loops of fastgo: a packed,
// cache-blocked SGEMM with register-blocked micro-kernels, and the
// element-wise kernels that training spends its time in.
//
// # Tiers
//
// Each kernel has a pure-Go reference and, on amd64, Go-assembly tiers for
// AVX-512 and AVX2+FMA, generated with avo from the separate module in
// _gen (run "go generate" here after changing it). The tier is chosen once
// at start-up from the CPU's features (github.com/klauspost/cpuid/v2):
// AVX-512 needs AVX512F (and BMI2), AVX2 needs AVX2 and FMA3 together. The
// environment variable FASTGO_CPU=avx512|avx2|generic selects a lower tier
// (a tier the CPU lacks is ignored), and the purego build tag removes all
// assembly. Tier reports the choice. Every tier gives the same results as
// the reference within rounding; the element-wise kernels round exactly like
// the reference (no fused multiply-add).
//
// # SGEMM
//
// Sgemm follows the BLIS/GotoBLAS structure: panels of op(B) are packed
// into slivers of NR columns, blocks of op(A) into slivers of MR rows, and a
// micro-kernel keeps an MR x NR tile of C in registers (12x32 with AVX-512,
// 6x16 with AVX2: 12 accumulators, two B vectors and two broadcasts fill
// the 16 ymm registers; 4x4 in Go) and computes a column of full tiles per
// call. Both assembly tiers pack in assembly (A slivers by lane transposes,
// B panels four slivers a row, transposed B by blocks). Transposes are
// absorbed by the packing. Partial tiles at the right and bottom edges are
// masked (AVX-512) or go through a small temporary tile, so C outside the m
// x n window is never touched. Work is split over GOMAXPROCS goroutines by
// blocks of C only, with the same cut of k whatever the thread count, so
// results are bit-identical for any GOMAXPROCS; small products run on the
// calling goroutine. The workers claim their parts (B packing groups, row
// blocks, column parts) as they go and wait only for work another has
// claimed, never for another to arrive: on a machine whose CPUs are busy
// with other work, a worker that starts late leaves its share to the
// others. Pack buffers come from a pool, so a warm Sgemm does not allocate.
//
// Gonum32 and UseInGonum put this SGEMM behind gonum's blas32 package with
// gonum's argument contract unchanged.
//
// # Errors
//
// Programmer errors (negative sizes, short strides or slices, mismatched
// lengths) panic with a message naming the function and the sizes.
package kernels
