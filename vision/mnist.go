package vision

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision/internal/fmnistdata"
)

// FashionMNISTClasses are Fashion-MNIST's class names, in label order.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// FashionMNIST loads the full Fashion-MNIST: 60,000 training and 10,000
// validation (test) images, 1x28x28. The files are found as FindData
// describes, starting with the DataDir option, and downloaded when they are
// nowhere (bounded by a 10-minute timeout: to cancel it, call
// FindDataContext first and pass its directory as DataDir); they may be
// gzip-compressed or not.
func FashionMNIST(opts ...Option) (*DataLoaders, error) {
	c := newConfig(opts)
	dir, err := FindData("fashion-mnist", c.dataDir)
	if err != nil {
		return nil, err
	}
	train, test, err := ReadMNIST(dir)
	if err != nil {
		return nil, err
	}
	return newDataLoadersConfig(train, test, FashionMNISTClasses, c)
}

// MNIST loads MNIST's 60,000 training and 10,000 validation images from the
// four standard IDX files, found as FindData("mnist", dir) describes (there
// is no download: put the files there).
func MNIST(opts ...Option) (*DataLoaders, error) {
	c := newConfig(opts)
	dir, err := FindData("mnist", c.dataDir)
	if err != nil {
		return nil, err
	}
	train, test, err := ReadMNIST(dir)
	if err != nil {
		return nil, err
	}
	return newDataLoadersConfig(train, test, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, c)
}

// ReadMNIST reads the four IDX files of MNIST or Fashion-MNIST in dir
// (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte, each with or without .gz) into in-memory data sets
// of [N,1,28,28] pixels in [0,1].
func ReadMNIST(dir string) (train, test *TensorDataset, err error) {
	var wg sync.WaitGroup
	var testErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		test, testErr = readIDXPair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
	}()
	train, err = readIDXPair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte")
	wg.Wait()
	if err != nil {
		return nil, nil, err
	}
	if testErr != nil {
		return nil, nil, testErr
	}
	return train, test, nil
}

// readIDXPair reads base names from dir, preferring name.gz to name.
func readIDXPair(dir, images, labels string) (*TensorDataset, error) {
	ip, lp := idxPath(dir, images), idxPath(dir, labels)
	ldims, lvals, err := LoadIDX(lp)
	if err != nil {
		return nil, err
	}
	idims, ivals, err := readIDXFloats(ip)
	if err != nil {
		return nil, err
	}
	if len(idims) != 3 {
		return nil, &FormatError{File: ip, Msg: fmt.Sprintf("IDX images have dimensions %v: want [N,H,W]", idims)}
	}
	if len(ldims) != 1 || ldims[0] != idims[0] {
		return nil, &FormatError{File: lp, Msg: fmt.Sprintf("labels of dimensions %v for %d images in %s", ldims, idims[0], ip)}
	}
	y := make([]int, len(lvals))
	for i, v := range lvals {
		y[i] = int(v)
	}
	return &TensorDataset{X: tensor.FromSlice(ivals, idims[0], 1, idims[1], idims[2]), Y: y}, nil
}

func idxPath(dir, base string) string {
	p := filepath.Join(dir, base+".gz")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return filepath.Join(dir, base)
}

// EmbeddedSplitSeed is the seed of the embedded data set's fixed 8,000/2,000
// split.
const EmbeddedSplitSeed = 2017

var (
	embeddedOnce sync.Once
	embeddedDS   *TensorDataset
	embeddedErr  error
)

// Embedded returns the Fashion-MNIST test split that ships inside the module
// (10,000 images, [10000,1,28,28]), decoded once and shared: do not modify
// it. Its licence notice is EmbeddedLicense.
func Embedded() (*TensorDataset, error) {
	embeddedOnce.Do(func() {
		embeddedDS, embeddedErr = IDXImages(fmnistdata.Images, fmnistdata.Labels,
			"embedded t10k-images-idx3-ubyte.gz", "embedded t10k-labels-idx1-ubyte.gz")
	})
	return embeddedDS, embeddedErr
}

// EmbeddedLicense is the MIT licence notice of the embedded Fashion-MNIST
// images (Copyright (c) 2017 Zalando SE).
var EmbeddedLicense = strings.TrimSpace(fmnistdata.License)

// EmbeddedFashionMNIST returns data loaders over the Fashion-MNIST images that
// ship inside the module: the 10,000 images of the official test split,
// divided into 8,000 for training and 2,000 for validation with the fixed
// seed EmbeddedSplitSeed (the Seed option does not move the split; it drives
// the shuffles and transforms). It needs no file and no network.
func EmbeddedFashionMNIST(opts ...Option) (*DataLoaders, error) {
	ds, err := Embedded()
	if err != nil {
		return nil, fmt.Errorf("vision: the embedded data is corrupt: %w", err)
	}
	tr, va := splitIndices(ds.Len(), 0.2, EmbeddedSplitSeed)
	return newDataLoaders(Subset(ds, tr), Subset(ds, va), FashionMNISTClasses, opts)
}

func embeddedImages() []byte { return fmnistdata.Images }
func embeddedLabels() []byte { return fmnistdata.Labels }
