package batch

import (
	"cmp"
	"slices"

	"github.com/fastgo-ml/fastgo/tensor"
)

// Select returns the rows idx of the batch x [N, ...] as a new batch.
func Select(x *tensor.Tensor, idx []int) *tensor.Tensor {
	shape := slices.Clone(x.Shape())
	shape[0] = len(idx)
	out := tensor.New[float32](shape...)
	d := x.Len() / x.Dim(0)
	for k, i := range idx {
		copy(out.Data()[k*d:(k+1)*d], x.Data()[i*d:(i+1)*d])
	}
	return out
}

// SelectInts returns v[idx[0]], v[idx[1]], ... as a new slice.
func SelectInts(v []int, idx []int) []int {
	out := make([]int, len(idx))
	for k, i := range idx {
		out[k] = v[i]
	}
	return out
}

// Row returns sample i of the flat batch data with d values per sample.
func Row(data []float32, i, d int) []float32 { return data[i*d : (i+1)*d] }

// All returns the rows 0, 1, ..., n-1.
func All(n int) []int {
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	return rows
}

// OrDefault returns v when it is positive, else d: the value of a count
// whose zero value means "the default".
func OrDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// ArgMax returns the index of the first largest value of v (0 for an
// empty v).
func ArgMax[T cmp.Ordered](v []T) int {
	best := 0
	for j, x := range v {
		if x > v[best] {
			best = j
		}
	}
	return best
}

// Median returns the median of v, the mean of the middle two for an even
// length (0 for an empty v); v is not modified.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Mean returns the mean of v (0 for an empty v).
func Mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
