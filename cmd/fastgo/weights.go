package main

import (
	"fmt"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// loadWeights loads a safetensors state dict with PyTorch names into m,
// strictly: an unknown, missing or mis-shaped tensor is an error naming it.
func loadWeights(path string, m layers.Module) error {
	f, err := safetensors.Load(path)
	if err != nil {
		return err
	}
	sd := &layers.StateDict{Tensors: map[string]*tensor.Tensor{}, Ints: map[string]int64{}}
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		if info.Dtype == safetensors.I64 {
			v, err := f.Int64(name)
			if err != nil {
				return err
			}
			if len(v.Data) != 1 {
				return fmt.Errorf("%s: integer tensor %s has %d elements, want 1", path, name, len(v.Data))
			}
			sd.Ints[name] = v.Data[0]
		} else {
			t, err := f.Tensor(name)
			if err != nil {
				return err
			}
			sd.Tensors[name] = t
		}
		sd.Names = append(sd.Names, name)
	}
	if _, err := layers.LoadStateDict(m, sd); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// saveWeights writes m's state dict with PyTorch names to path (atomically).
func saveWeights(path string, m layers.Module) error {
	sd := layers.GetStateDict(m)
	ints := make(map[string]safetensors.Int64Tensor, len(sd.Ints))
	for k, v := range sd.Ints {
		ints[k] = safetensors.Int64Tensor{Shape: []int{}, Data: []int64{v}}
	}
	return safetensors.Save(path, sd.Tensors, ints, map[string]string{"format": "pt"})
}
