// Package tensor provides dense, row-major N-d arrays of float32 (and float64
// for gradient checks), with the operations a deep-learning library needs:
// creation, views, broadcasting element-wise arithmetic, reductions, matrix
// products, im2col/col2im and softmax.
//
// Tensors are always contiguous. Reshape, Squeeze, Unsqueeze, Flatten,
// Narrow0 and Narrow along a leading axis return views that share data, and
// ReduceTo returns its input when no reduction is needed; every other
// operation allocates its result, unless its name ends in "InPlace", in which
// case it writes to a tensor the caller gives.
//
// Images are NCHW. Element-wise operations broadcast as NumPy does.
//
// Errors: an operation given arguments that cannot work together (shapes that
// do not broadcast, an axis out of range) is a programmer error and panics
// with a message that names the operation and the shapes, as gonum does.
// Nothing in this package reads files or user data.
//
// Random tensors (Uniform, Normal, Bernoulli) draw from an RNG made by NewRNG
// from a seed: PCG, as math/rand/v2 specifies it, so a seed gives the same
// values on every platform and Go release.
//
// Large operations run in parallel over GOMAXPROCS goroutines, split by
// output elements only, so every result is bit-identical for any thread count.
package tensor
