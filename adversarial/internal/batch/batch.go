package batch

import (
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
