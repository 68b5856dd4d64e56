package learner

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fastgo-ml/fastgo/layers"
)

// fuzzSeeds returns a checkpoint (with optimizer state) and an export of a
// trained described MLP, as bytes.
func fuzzSeeds(f *testing.F) (ckpt, export []byte) {
	model := &describedMLP{newMLP(1), layers.Arch{Name: "test.mlp", Config: json.RawMessage(`{"Seed":1}`)}}
	l := New(blobData(32, 8, 8), model, NoProgress())
	if err := l.Fit(context.Background(), 1); err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	c, e := filepath.Join(dir, "ckpt.safetensors"), filepath.Join(dir, "export.safetensors")
	if err := l.Save(c); err != nil {
		f.Fatal(err)
	}
	if err := l.Export(e); err != nil {
		f.Fatal(err)
	}
	ckpt, _ = os.ReadFile(c)
	export, _ = os.ReadFile(e)
	return ckpt, export
}

// FuzzLoadLearner: an export is outside data. LoadLearner never panics on
// it, and a file it accepts gives a learner that predicts.
func FuzzLoadLearner(f *testing.F) {
	_, export := fuzzSeeds(f)
	f.Add(export)
	f.Add(export[:len(export)/2])
	f.Add(bytes.Replace(export, []byte(`"fastgo-export-2"`), []byte(`"fastgo-export-1"`), 1))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "fuzz.safetensors")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		l, _, err := LoadLearner(p)
		if err != nil {
			return
		}
		x := blobData(2, 2, 2).Valid.X.Narrow0(0, 1)
		if _, err := l.Predict(x); err != nil {
			t.Fatalf("a loaded export cannot predict: %v", err)
		}
	})
}

// FuzzLoadCheckpoint: a checkpoint (weights, optimizer state, epochs) is
// outside data. Load never panics on it, and a file it refuses leaves the
// model and optimizer as they were.
func FuzzLoadCheckpoint(f *testing.F) {
	ckpt, _ := fuzzSeeds(f)
	f.Add(ckpt)
	f.Add(ckpt[:len(ckpt)-7])
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "fuzz.safetensors")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		l := New(blobData(32, 8, 8), newMLP(2), NoProgress())
		l.CreateOpt()
		before := layers.GetStateDict(l.Model).Clone()
		if err := l.Load(p); err != nil {
			after := layers.GetStateDict(l.Model)
			for _, n := range before.Names {
				if bt, ok := before.Tensors[n]; ok && !slices.Equal(bt.Data(), after.Tensors[n].Data()) {
					t.Fatalf("a refused file (%v) changed %s", err, n)
				}
			}
		}
	})
}
