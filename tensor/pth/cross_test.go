package pth

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// TestSafetensorsRoundTrip converts the fixture's state dict (every dtype
// pth reads, F64 and NaN payloads among them) to safetensors and back,
// through the raw entries, and checks every tensor comes back with its
// dtype, shape and bytes.
func TestRawSafetensorsRoundTrip(t *testing.T) {
	f, err := Load("testdata/state.pth")
	if err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	for _, n := range f.Names() {
		e, err := f.Entry(n)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	dir := t.TempDir()
	st := filepath.Join(dir, "state.safetensors")
	if err := safetensors.SaveEntries(st, entries, safetensors.Metadata(map[string]string{"format": "pt"})); err != nil {
		t.Fatal(err)
	}
	sf, err := safetensors.Load(st)
	if err != nil {
		t.Fatal(err)
	}
	var back []Entry
	for _, want := range entries {
		e, err := sf.Entry(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, e)
	}
	out := filepath.Join(dir, "back.pth")
	if err := Save(out, back); err != nil {
		t.Fatal(err)
	}
	g, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Names(), f.Names()) {
		t.Fatalf("names %v, want %v", g.Names(), f.Names())
	}
	for _, want := range entries {
		got, err := g.Entry(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got.Dtype != want.Dtype || !reflect.DeepEqual(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("%s: %s %v %x after the round trip, want %s %v %x", want.Name, got.Dtype, got.Shape, got.Data, want.Dtype, want.Shape, want.Data)
		}
	}
}
