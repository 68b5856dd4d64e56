package vision

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

const cifarPixels = 3 * 32 * 32

// maxCIFARRecords is the most records a CIFAR file may hold (CIFAR-100's
// train.bin has 50,000).
const maxCIFARRecords = 50000

// DecodeCIFAR parses records of the CIFAR binary format: labelBytes label
// bytes (1 for CIFAR-10; 2 for CIFAR-100, coarse then fine) followed by 3072
// pixel bytes (the red, green and blue 32x32 planes). labelIndex picks the
// label byte to keep. The length must be a whole number of records.
func DecodeCIFAR(data []byte, labelBytes, labelIndex int) (*TensorDataset, error) {
	if labelBytes < 1 || labelIndex < 0 || labelIndex >= labelBytes {
		return nil, fmt.Errorf("vision: DecodeCIFAR: label byte %d of %d", labelIndex, labelBytes)
	}
	rec := labelBytes + cifarPixels
	if len(data) == 0 || len(data)%rec != 0 {
		return nil, &FormatError{Msg: fmt.Sprintf("CIFAR file of %d bytes is not a whole number of %d-byte records", len(data), rec)}
	}
	n := len(data) / rec
	x := tensor.Zeros(n, 3, 32, 32)
	d := x.Data()
	y := make([]int, n)
	parallel.For(n, 256, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := data[i*rec : (i+1)*rec]
			y[i] = int(r[labelIndex])
			dst := d[i*cifarPixels : (i+1)*cifarPixels]
			for j, v := range r[labelBytes:] {
				dst[j] = byteToFloat[v]
			}
		}
	})
	return &TensorDataset{X: x, Y: y}, nil
}

// cifarClasses is the order of CIFAR-10's batches.meta.txt.
var cifarClasses = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// CIFAR10 loads the binary version of CIFAR-10 (cifar-10-batches-bin:
// data_batch_1.bin ... data_batch_5.bin for training, test_batch.bin for
// validation). dir is that folder or its parent; an empty dir is looked up as
// FindData("cifar-10", "") does (there is no download: put the files there).
func CIFAR10(dir string, opts ...Option) (*DataLoaders, error) {
	root, err := cifarDir(dir, "cifar-10", "cifar-10-batches-bin", "test_batch.bin")
	if err != nil {
		return nil, err
	}
	var train []*TensorDataset
	for i := 1; i <= 5; i++ {
		ds, err := loadCIFARFile(filepath.Join(root, fmt.Sprintf("data_batch_%d.bin", i)), 1, 0)
		if err != nil {
			return nil, err
		}
		train = append(train, ds)
	}
	valid, err := loadCIFARFile(filepath.Join(root, "test_batch.bin"), 1, 0)
	if err != nil {
		return nil, err
	}
	classes := readNames(filepath.Join(root, "batches.meta.txt"), cifarClasses)
	return newDataLoaders(concatTensorDatasets(train), valid, classes, opts)
}

// CIFAR100 loads the binary version of CIFAR-100 (cifar-100-binary: train.bin
// and test.bin) with its 100 fine labels, or its 20 coarse ones with
// CoarseLabels. dir is that folder or its parent (see CIFAR10).
func CIFAR100(dir string, opts ...Option) (*DataLoaders, error) {
	coarse := newConfig(opts).coarse
	root, err := cifarDir(dir, "cifar-100", "cifar-100-binary", "test.bin")
	if err != nil {
		return nil, err
	}
	idx, names := 1, "fine_label_names.txt"
	if coarse {
		idx, names = 0, "coarse_label_names.txt"
	}
	train, err := loadCIFARFile(filepath.Join(root, "train.bin"), 2, idx)
	if err != nil {
		return nil, err
	}
	valid, err := loadCIFARFile(filepath.Join(root, "test.bin"), 2, idx)
	if err != nil {
		return nil, err
	}
	n := 100
	if coarse {
		n = 20
	}
	def := make([]string, n)
	for i := range def {
		def[i] = fmt.Sprint(i)
	}
	return newDataLoaders(train, valid, readNames(filepath.Join(root, names), def), opts)
}

func loadCIFARFile(path string, labelBytes, labelIndex int) (*TensorDataset, error) {
	// The official files hold at most 50,000 records: a larger file is
	// refused before it is read (the record count is checked on the bytes).
	data, err := readFileLimit(path, maxCIFARRecords*int64(labelBytes+cifarPixels))
	if err != nil {
		return nil, err
	}
	ds, err := DecodeCIFAR(data, labelBytes, labelIndex)
	if err != nil {
		return nil, nameFile(err, path)
	}
	return ds, nil
}

// cifarDir finds the folder holding marker: dir, dir/sub, or the lookup.
func cifarDir(dir, name, sub, marker string) (string, error) {
	if dir == "" {
		d, err := FindData(name, "")
		if err != nil {
			return "", err
		}
		dir = d
	}
	for _, c := range []string{dir, filepath.Join(dir, sub)} {
		if _, err := os.Stat(filepath.Join(c, marker)); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("vision: %s: no %s in %s or %s", name, marker, dir, filepath.Join(dir, sub))
}

// readNames reads one class name a line, falling back to def when the file
// is missing or has the wrong number of names.
func readNames(path string, def []string) []string {
	data, err := readFileLimit(path, 1<<20)
	if err != nil {
		return def
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			names = append(names, s)
		}
	}
	if len(names) != len(def) {
		return def
	}
	return names
}

// concatTensorDatasets joins data sets with equal item shapes.
func concatTensorDatasets(ds []*TensorDataset) *TensorDataset {
	if len(ds) == 1 {
		return ds[0]
	}
	n := 0
	for _, d := range ds {
		n += d.Len()
	}
	shape := append([]int{n}, ds[0].X.Shape()[1:]...)
	x := tensor.Zeros(shape...)
	y := make([]int, 0, n)
	off := 0
	for _, d := range ds {
		copy(x.Data()[off:], d.X.Data())
		off += len(d.X.Data())
		y = append(y, d.Y...)
	}
	return &TensorDataset{X: x, Y: y}
}
