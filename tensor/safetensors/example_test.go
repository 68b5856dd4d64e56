package safetensors_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	// Save a float32 weight, BatchNorm's integer counter and some metadata.
	err = safetensors.Save(path,
		map[string]*tensor.Tensor{"fc.weight": tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)},
		safetensors.Ints(map[string]safetensors.Int64Tensor{"bn.num_batches_tracked": {Data: []int64{469}}}),
		safetensors.Metadata(map[string]string{"format": "pt"}))
	if err != nil {
		log.Fatal(err)
	}

	f, err := safetensors.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Names(), f.Metadata())
	w, err := f.Tensor("fc.weight")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.Shape(), w.Data())
	n, err := f.Int64("bn.num_batches_tracked")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.Data[0])
	// Output:
	// [bn.num_batches_tracked fc.weight] map[format:pt]
	// [2 3] [1 2 3 4 5 6]
	// 469
}

func ExampleLoad_malformed() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bad.safetensors")
	// A header that claims 1 GiB of data in a file with no data.
	hdr := `{"w":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]}}`
	b := append([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}, hdr...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		log.Fatal(err)
	}
	_, err = safetensors.Load(path)
	var fe *safetensors.FormatError
	if errors.As(err, &fe) {
		fmt.Printf("tensor %q, field %s: %s\n", fe.Tensor, fe.Field, fe.Msg)
	}
	// Output: tensor "w", field shape: shape [268435456] of F32 needs more bytes than the 0-byte data section holds
}
