package layers

import (
	"fmt"
	"io"
	"os"

	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/pth"
)

// isTorchSave reports whether the file at path starts as a torch.save file
// does (see pth.IsTorchSave); a file that cannot be read is left to the
// safetensors reader to report.
func isTorchSave(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var prefix [64]byte
	n, _ := io.ReadFull(f, prefix[:])
	return pth.IsTorchSave(prefix[:n])
}

// readTorchStateDict reads the state dict of a torch.save file as
// ReadStateDict does a safetensors one, in the state dict's order.
func readTorchStateDict(path string) (*StateDict, error) {
	f, err := pth.Load(path)
	if err != nil {
		return nil, err
	}
	sd := &StateDict{Tensors: map[string]*tensor.Tensor{}, Ints: map[string]int64{}}
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		switch info.Dtype {
		case pth.F32, pth.F16, pth.BF16, pth.F64:
			t, err := f.Tensor(name)
			if err != nil {
				return nil, err
			}
			sd.Tensors[name] = t
		default:
			v, err := f.Int64(name)
			if err != nil {
				return nil, err
			}
			if len(v.Data) != 1 || len(v.Shape) > 1 {
				return nil, fmt.Errorf("layers: %s: tensor %q: integer tensor of shape %v, want a scalar", path, name, v.Shape)
			}
			sd.Ints[name] = v.Data[0]
		}
		sd.Names = append(sd.Names, name)
	}
	return sd, nil
}
