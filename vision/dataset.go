package vision

import (
	"fmt"

	"github.com/fastgo-ml/fastgo/tensor"
)

// Dataset is an indexed collection of labelled images. Image returns item i as
// a new [C,H,W] float32 tensor in [0,1] that the caller may change; its error
// names the file the item came from. Label returns the class index, or -1 for
// an unlabelled item. Implementations must be safe for concurrent use.
type Dataset interface {
	Len() int
	Label(i int) int
	Image(i int) (*tensor.Tensor, error)
}

// rowSource is a Dataset held in memory as fixed-size rows, which a
// DataLoader copies straight into a batch.
type rowSource interface {
	Dataset
	row(i int) []float32
	itemShape() []int
}

// TensorDataset is an in-memory data set: X is [N,C,H,W] in [0,1] and Y holds
// N labels. The data loaders only read X.
type TensorDataset struct {
	X *tensor.Tensor // [N,C,H,W] pixels in [0,1]
	Y []int          // N class indices
}

// NewTensorDataset checks that x is [N,C,H,W] with N labels in y.
func NewTensorDataset(x *tensor.Tensor, y []int) (*TensorDataset, error) {
	if x.Rank() != 4 || x.Dim(0) != len(y) {
		return nil, fmt.Errorf("vision: NewTensorDataset: x %v and %d labels: want [N,C,H,W] with N labels", x.Shape(), len(y))
	}
	return &TensorDataset{X: x, Y: y}, nil
}

// Len returns the number of items.
func (d *TensorDataset) Len() int { return len(d.Y) }

// Label returns item i's label.
func (d *TensorDataset) Label(i int) int { return d.Y[i] }

// Image returns a copy of item i, [C,H,W].
func (d *TensorDataset) Image(i int) (*tensor.Tensor, error) {
	s := d.X.Shape()
	return tensor.FromSlice(append([]float32(nil), d.row(i)...), s[1:]...), nil
}

func (d *TensorDataset) row(i int) []float32 {
	n := len(d.X.Data()) / max(d.X.Dim(0), 1)
	return d.X.Data()[i*n : (i+1)*n]
}

func (d *TensorDataset) itemShape() []int { return d.X.Shape()[1:] }

// Subset returns the items of ds at the given indices, in that order.
func Subset(ds Dataset, idx []int) Dataset {
	if rs, ok := ds.(rowSource); ok {
		return &rowSubset{subset{rs, idx}, rs}
	}
	return &subset{ds, idx}
}

type subset struct {
	ds  Dataset
	idx []int
}

func (s *subset) Len() int                            { return len(s.idx) }
func (s *subset) Label(i int) int                     { return s.ds.Label(s.idx[i]) }
func (s *subset) Image(i int) (*tensor.Tensor, error) { return s.ds.Image(s.idx[i]) }

type rowSubset struct {
	subset
	rs rowSource
}

func (s *rowSubset) row(i int) []float32 { return s.rs.row(s.idx[i]) }
func (s *rowSubset) itemShape() []int    { return s.rs.itemShape() }

// FileDataset is a data set of image files decoded on demand (by the data
// loader's workers). Labels may be nil for unlabelled items.
type FileDataset struct {
	Paths    []string // the image files
	Labels   []int    // Labels[i] is Paths[i]'s class index; nil when unlabelled
	Channels int      // 1 or 3; 0 means 3, or in TestDL the DataLoaders' Channels
}

// ImageFiles returns an unlabelled FileDataset, for TestDL.
func ImageFiles(paths ...string) *FileDataset { return &FileDataset{Paths: paths} }

// Len returns the number of files.
func (d *FileDataset) Len() int { return len(d.Paths) }

// Label returns item i's label, or -1 without labels.
func (d *FileDataset) Label(i int) int {
	if d.Labels == nil {
		return -1
	}
	return d.Labels[i]
}

// Image reads and decodes file i.
func (d *FileDataset) Image(i int) (*tensor.Tensor, error) {
	return LoadImage(d.Paths[i], d.channels())
}

func (d *FileDataset) channels() int {
	if d.Channels == 0 {
		return 3
	}
	return d.Channels
}

// imageScratch is Image in a worker's memory: the file's bytes and the
// decoded pixels reuse s, so the result is valid until the next call.
func (d *FileDataset) imageScratch(i int, s *scratch) (*tensor.Tensor, error) {
	return loadImage(d.Paths[i], d.channels(), s)
}

// splitIndices returns a seeded random split of [0,n): int(validPct*n)
// validation indices (rounded down, as fastai's RandomSplitter) and the rest,
// each in ascending order.
func splitIndices(n int, validPct float64, seed uint64) (train, valid []int) {
	nv := 0
	if validPct > 0 {
		nv = int(validPct * float64(n))
	}
	nv = min(max(nv, 0), n)
	perm := tensor.NewRNG(mix(seed, 0x5e1ec7)).Perm(n)
	isValid := make([]bool, n)
	for _, i := range perm[:nv] {
		isValid[i] = true
	}
	for i := 0; i < n; i++ {
		if isValid[i] {
			valid = append(valid, i)
		} else {
			train = append(train, i)
		}
	}
	return train, valid
}

// mix hashes seeds into one 64-bit seed (splitmix64 steps).
func mix(vals ...uint64) uint64 {
	h := uint64(0x243f6a8885a308d3)
	for _, v := range vals {
		h ^= v + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
		h = splitmix(h)
	}
	return h
}

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
