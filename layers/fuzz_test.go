package layers

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// FuzzReadStateDict: a weights file (safetensors or PyTorch's .pth) is
// outside data. ReadStateDict never panics on it, and a state dict it
// returns loads into a module without a panic (an error when it does not
// fit).
func FuzzReadStateDict(f *testing.F) {
	m := NewLinear(3, 2, tensor.NewRNG(1))
	dir := f.TempDir()
	p := filepath.Join(dir, "seed.safetensors")
	if err := SaveFile(m, p); err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	f.Add(b)
	if pth, err := os.ReadFile("../tensor/pth/testdata/state.pth"); err == nil {
		f.Add(pth)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q := filepath.Join(dir, "fuzz.weights")
		if err := os.WriteFile(q, b, 0o644); err != nil {
			t.Fatal(err)
		}
		sd, err := ReadStateDict(q)
		if err != nil {
			return
		}
		_, _ = LoadStateDict(NewLinear(3, 2, tensor.NewRNG(2)), sd, NonStrict())
	})
}
