package layers

import (
	"fmt"

	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// ReadStateDict reads the state dict stored in the safetensors file at path,
// as PyTorch's model.state_dict() saved there: float entries (F32, and F16,
// BF16 or F64 converted to float32) become Tensors, integer entries (I64 and
// the other integer dtypes) become Ints and must be scalars, as
// num_batches_tracked is. Names are in the file's (sorted) order. A file that
// is malformed, or an entry that is neither, is an error naming the file and
// the entry. A file saved by torch.save (a .pth file, told by its first
// bytes) is read with package pth in the same way, its names in the state
// dict's order.
func ReadStateDict(path string) (*StateDict, error) {
	if isTorchSave(path) {
		return readTorchStateDict(path)
	}
	f, err := safetensors.Load(path)
	if err != nil {
		return nil, err
	}
	return stateDictOf(path, f.Names(), func(n string) safetensors.Dtype { info, _ := f.Info(n); return info.Dtype }, f.Tensor, f.Int64)
}

// stateDictOf builds a StateDict from a weights file's entries, in its
// order: the float entries as tensors, the integer ones (BatchNorm's
// num_batches_tracked) as scalars; any other dtype, or an integer entry
// that is not a scalar, is an error naming the file and the entry.
func stateDictOf(path string, names []string, dtype func(string) safetensors.Dtype,
	floats func(string) (*tensor.Tensor, error), ints func(string) (safetensors.Int64Tensor, error)) (*StateDict, error) {
	sd := &StateDict{Tensors: map[string]*tensor.Tensor{}, Ints: map[string]int64{}}
	for _, name := range names {
		switch dt := dtype(name); dt {
		case safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64:
			t, err := floats(name)
			if err != nil {
				return nil, err
			}
			sd.Tensors[name] = t
		case safetensors.I64, safetensors.U64, safetensors.I32, safetensors.U32, safetensors.I16,
			safetensors.U16, safetensors.I8, safetensors.U8, safetensors.BOOL:
			v, err := ints(name)
			if err != nil {
				return nil, err
			}
			if len(v.Data) != 1 || len(v.Shape) > 1 {
				return nil, fmt.Errorf("layers: %s: tensor %q: integer tensor of shape %v, want a scalar", path, name, v.Shape)
			}
			sd.Ints[name] = v.Data[0]
		default:
			return nil, fmt.Errorf("layers: %s: tensor %q: dtype %s is not a float or integer state", path, name, dt)
		}
		sd.Names = append(sd.Names, name)
	}
	return sd, nil
}

// LoadFile loads the state dict at path (safetensors, or torch.save's .pth:
// see ReadStateDict) into m, strictly or leniently as LoadStateDict does, so
// that weights saved by PyTorch (save_file(model.state_dict()) or
// torch.save(model.state_dict(), path)) load into the fastgo model with the
// same module tree. Every error names the file and, for a bad entry, the entry.
func LoadFile(m Module, path string, opts ...Option) (*LoadReport, error) {
	sd, err := ReadStateDict(path)
	if err != nil {
		return nil, err
	}
	rep, err := LoadStateDict(m, sd, opts...)
	if err != nil {
		return rep, fmt.Errorf("layers: loading %s: %w", path, err)
	}
	return rep, nil
}

// SaveFile writes m's state dict to the safetensors file at path, float
// tensors as F32 and integer buffers as I64 scalars, under PyTorch's names,
// so that PyTorch's load_state_dict accepts it. The write is atomic (see
// safetensors.Save). safetensors.Metadata sets the file's __metadata__
// (PyTorch's safetensors loader wants {"format": "pt"}).
func SaveFile(m Module, path string, opts ...safetensors.Option) error {
	sd := GetStateDict(m)
	ints := make(map[string]safetensors.Int64Tensor, len(sd.Ints))
	for n, v := range sd.Ints {
		ints[n] = safetensors.Int64Tensor{Data: []int64{v}}
	}
	if err := safetensors.Save(path, sd.Tensors, append(opts, safetensors.Ints(ints))...); err != nil {
		return fmt.Errorf("layers: saving %s: %w", path, err)
	}
	return nil
}
