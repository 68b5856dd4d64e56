package layers

import (
	"io"
	"os"

	"github.com/fastgo-ml/fastgo/tensor/pth"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
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
	return stateDictOf(path, f.Names(), func(n string) safetensors.Dtype { info, _ := f.Info(n); return info.Dtype }, f.Tensor, f.Int64)
}
