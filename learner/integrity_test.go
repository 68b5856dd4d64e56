package learner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// exportedMLP exports a trained described MLP and returns the file.
func exportedMLP(t *testing.T) string {
	t.Helper()
	model := &describedMLP{newMLP(1), layers.Arch{Name: "test.mlp", Config: json.RawMessage(`{"Seed":1}`)}}
	l := New(blobData(64, 30, 8), model, NoProgress())
	if err := l.FitOneCycle(context.Background(), 1, LR(0.05)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "export.safetensors")
	if err := l.Export(p); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadLearner(p); err != nil {
		t.Fatalf("the export does not load back: %v", err)
	}
	return p
}

// TestExportBitFlips flips single bits all over an export, header and data:
// every flipped file is refused with an error naming it, never loaded and
// never a panic.
func TestExportBitFlips(t *testing.T) {
	p := exportedMLP(t)
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	hdr := 8 + int(uint64(good[0])|uint64(good[1])<<8|uint64(good[2])<<16)
	rng := tensor.NewRNG(5)
	dir := t.TempDir()
	flips := 0
	for k := 0; k < 600; k++ {
		// Half of the flips in the header (8-byte length and JSON), half in
		// the tensor data.
		var at int
		if k%2 == 0 {
			at = rng.IntN(hdr)
		} else {
			at = hdr + rng.IntN(len(good)-hdr)
		}
		bad := bytes.Clone(good)
		bad[at] ^= 1 << rng.IntN(8)
		f := filepath.Join(dir, "flipped.safetensors")
		if err := os.WriteFile(f, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("byte %d flipped: panic %v", at, r)
				}
			}()
			if _, _, err := LoadLearner(f); err == nil {
				t.Fatalf("byte %d flipped (of %d, header %d): the file loaded", at, len(good), hdr)
			} else if !strings.Contains(err.Error(), f) {
				t.Fatalf("byte %d flipped: the error does not name the file: %v", at, err)
			}
		}()
		flips++
	}
	t.Logf("%d flipped files, every one refused", flips)
}

// TestRelabelledDtypeRefused: an entry whose dtype was relabelled to another
// of the same size is an error, not reinterpreted bits.
func TestRelabelledDtypeRefused(t *testing.T) {
	p := exportedMLP(t)
	b, _ := os.ReadFile(p)
	i := bytes.Index(b, []byte(`"dtype":"F32"`))
	if i < 0 {
		t.Fatal("no F32 entry in the header")
	}
	copy(b[i:], `"dtype":"I32"`)
	os.WriteFile(p, b, 0o644)
	if _, _, err := LoadLearner(p); err == nil || !strings.Contains(err.Error(), "I32") || !errors.Is(err, fastgo.ErrFormat) {
		t.Fatalf("relabelled dtype: %v", err)
	}
}

// TestUnsealedFileLoadsWithWarning: a checkpoint written before files
// carried their SHA-256 still loads, with a warning naming it.
func TestUnsealedFileLoadsWithWarning(t *testing.T) {
	l := New(blobData(32, 8, 8), newMLP(1), NoProgress())
	sd := layers.GetStateDict(l.Model)
	tensors, ints := stateEntries(sd)
	p := filepath.Join(t.TempDir(), "old.safetensors")
	if err := safetensors.Save(p, tensors, safetensors.Ints(ints), safetensors.Metadata(map[string]string{metaFormat: formatCheckpointV1})); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&log, nil)))
	defer slog.SetDefault(old)
	if err := l.Load(p); err != nil {
		t.Fatalf("an unsealed checkpoint: %v", err)
	}
	if !strings.Contains(log.String(), "no integrity hash") || !strings.Contains(log.String(), p) {
		t.Fatalf("no warning naming the file: %q", log.String())
	}
}

// TestHostileMetadataRefused: class lists and epochs read from a file are
// checked, with an error naming the file and the field.
func TestHostileMetadataRefused(t *testing.T) {
	p := exportedMLP(t)
	f, err := safetensors.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	sd, _ := readState(f)
	tensors, ints := stateEntries(sd)
	for _, c := range []struct {
		name, key, value, want string
	}{
		{"no classes", metaClasses, `[]`, "0 classes"},
		{"one class", metaClasses, `["only"]`, "1 classes"},
		{"repeated class", metaClasses, `["a","a"]`, "repeated"},
		{"not a list", metaClasses, `{"a":1}`, metaClasses},
		{"negative epoch", metaEpoch, "-3", metaEpoch},
		{"huge epoch", metaDataEpoch, "99999999999", metaDataEpoch},
	} {
		t.Run(c.name, func(t *testing.T) {
			meta := f.Metadata()
			meta[c.key] = c.value
			meta = sealed(tensors, ints, meta) // a consistent file: only the value is hostile
			q := filepath.Join(t.TempDir(), "hostile.safetensors")
			if err := safetensors.Save(q, tensors, safetensors.Ints(ints), safetensors.Metadata(meta)); err != nil {
				t.Fatal(err)
			}
			var err error
			if c.key == metaClasses {
				_, _, err = LoadLearner(q)
			} else {
				err = New(blobData(32, 8, 8), newMLP(1)).Load(q)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), q) {
				t.Fatalf("%s = %s: %v", c.key, c.value, err)
			}
		})
	}
	// Export refuses what LoadLearner would refuse.
	one := blobData(32, 8, 8)
	one.Vocab = []string{"a", "a"}
	model := &describedMLP{newMLP(1), layers.Arch{Name: "test.mlp", Config: json.RawMessage(`{"Seed":1}`)}}
	if err := New(one, model).Export(filepath.Join(t.TempDir(), "x.safetensors")); err == nil {
		t.Fatal("Export wrote a class list LoadLearner refuses")
	}
}

// TestFitStopsOnNonFiniteParameter: a step that leaves a parameter NaN ends
// the fit with an error naming the epoch, the batch and the parameter.
func TestFitStopsOnNonFiniteParameter(t *testing.T) {
	m := newMLP(1)
	l := New(blobData(32, 8, 8), m, NoProgress())
	poison := CallbackFunc(func(l *Learner, e Event) error {
		if e == BeforeStep && l.Epoch == 1 && l.Iter == 2 {
			m.fc2.Weight.Grad().Data()[3] = float32(math.Inf(1))
		}
		return nil
	})
	err := l.Fit(context.Background(), 3, Callbacks(poison))
	var fe *FitError
	if !errors.As(err, &fe) || fe.Epoch != 1 || fe.Batch != 2 || !errors.Is(err, fastgo.ErrNonFinite) || !strings.Contains(err.Error(), "fc2.weight") {
		t.Fatalf("fit error %v (%+v), want epoch 1, batch 2, fc2.weight, ErrNonFinite", err, fe)
	}
	// A loaded file holding a NaN weight is refused too.
	p := filepath.Join(t.TempDir(), "nan.safetensors")
	if err := l.Save(p, WithoutOpt()); err != nil {
		t.Fatal(err)
	}
	if err := New(blobData(32, 8, 8), newMLP(2)).Load(p); !errors.Is(err, fastgo.ErrNonFinite) || !strings.Contains(err.Error(), "fc2.weight") {
		t.Fatalf("loading NaN weights: %v", err)
	}
}
