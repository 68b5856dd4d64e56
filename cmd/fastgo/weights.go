package main

import (
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// loadWeights loads a state dict with PyTorch names into m, strictly (an
// unknown, missing or mis-shaped tensor is an error naming it): a
// safetensors file or torch.save's .pth or .pt, told apart by their first
// bytes (layers.LoadFile).
func loadWeights(path string, m layers.Module) error {
	_, err := layers.LoadFile(m, path)
	return err
}

// saveWeights writes m's state dict with PyTorch names to path (atomically).
func saveWeights(path string, m layers.Module) error {
	sd := layers.GetStateDict(m)
	ints := make(map[string]safetensors.Int64Tensor, len(sd.Ints))
	for k, v := range sd.Ints {
		ints[k] = safetensors.Int64Tensor{Shape: []int{}, Data: []int64{v}}
	}
	return safetensors.Save(path, sd.Tensors, safetensors.Ints(ints), safetensors.Metadata(map[string]string{"format": "pt"}))
}
