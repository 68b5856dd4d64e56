package optim

import (
	"bytes"
	"testing"

	"github.com/fastgo-ml/fastgo/autograd"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// FuzzDecodeState: an optimizer state read from a checkpoint is outside
// data. DecodeState never panics nor allocates what the metadata claims
// before checking it, and a state it accepts loads into an optimizer of the
// same shape or is refused by it, without a panic.
func FuzzDecodeState(f *testing.F) {
	w := autograd.Param(tensor.Uniform[float32](tensor.NewRNG(1), -1, 1, 3, 4))
	w.SetGrad(tensor.Ones(3, 4))
	opt := NewAdam(Params(w), LR(1e-2))
	opt.Step()
	ts, is, meta := opt.StateDict().Encode()
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, safetensors.Ints(is), safetensors.Metadata(meta)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	huge := map[string]string{"optim.kind": "adam", "optim.groups": "1048576", "optim.0.params": "1048576"}
	buf.Reset()
	safetensors.Write(&buf, nil, safetensors.Metadata(huge))
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := safetensors.Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		st, err := DecodeState(file)
		if err != nil {
			return
		}
		o := NewAdam(Params(autograd.Param(tensor.Zeros(3, 4))), LR(1e-2))
		_ = o.LoadStateDict(st)
	})
}
