package kernels

import "math"

// sqrt32 is a float32 square root (the compiler emits SQRTSS for this form).
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
