package pth_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/pth"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.pth")

	// Save a float32 weight, the same weight as float16, and BatchNorm's
	// integer counter, as torch.save(model.state_dict(), path) would.
	w := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	fc, err := pth.Float32Entry("fc.weight", w, pth.F32)
	if err != nil {
		log.Fatal(err)
	}
	half, err := pth.Float32Entry("fc16.weight", w, pth.F16)
	if err != nil {
		log.Fatal(err)
	}
	n, err := pth.Int64Entry("bn.num_batches_tracked", safetensors.Int64Tensor{Data: []int64{469}})
	if err != nil {
		log.Fatal(err)
	}
	if err := pth.Save(path, []pth.Entry{fc, half, n}); err != nil {
		log.Fatal(err)
	}

	// Read it back (torch.load in PyTorch reads it too).
	f, err := pth.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Names())
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		if info.Dtype == pth.I64 {
			v, err := f.Int64(name)
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println(name, info.Dtype, v.Shape, v.Data)
			continue
		}
		x, err := f.Tensor(name)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(name, info.Dtype, x.Shape(), x.Data())
	}
	// Output:
	// [fc.weight fc16.weight bn.num_batches_tracked]
	// fc.weight F32 [2 3] [1 2 3 4 5 6]
	// fc16.weight F16 [2 3] [1 2 3 4 5 6]
	// bn.num_batches_tracked I64 [] [469]
}

func ExampleRead_refused() {
	// A file whose pickle calls os.system("echo hello"), as a hostile .pth
	// file would: PyTorch's torch.load would run the command.
	pkl := "\x80\x02cos\nsystem\nX\x0a\x00\x00\x00echo hello\x85R."
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range map[string]string{"model/data.pkl": pkl, "model/version": "3\n"} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			log.Fatal(err)
		}
		w.Write([]byte(data))
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}

	_, err := pth.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	fmt.Println(err)
	// Output:
	// pth: data.pkl: opcode 0x63 at byte 2: global "os.system" is not allowed
}
