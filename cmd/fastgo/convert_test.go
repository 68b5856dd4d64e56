package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor/pth"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// convert runs fastgo convert and fails the test on an error.
func convert(t *testing.T, in, out string) string {
	t.Helper()
	code, stdout, stderr := runCLI("convert", in, out)
	if code != 0 {
		t.Fatalf("convert %s %s: exit %d: %s", in, out, code, stderr)
	}
	return stdout
}

// sameEntries checks that two state files hold the same tensors: names,
// dtypes, shapes and bytes.
func sameEntries(t *testing.T, got, want *stateFile) {
	t.Helper()
	index := map[string]safetensors.Entry{}
	for _, e := range got.entries {
		index[e.Name] = e
	}
	if len(got.entries) != len(want.entries) {
		t.Fatalf("%d tensors, want %d", len(got.entries), len(want.entries))
	}
	for _, w := range want.entries {
		g, ok := index[w.Name]
		if !ok || g.Dtype != w.Dtype || !reflect.DeepEqual(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: %s %v after the round trip, want %s %v and the same bytes", w.Name, g.Dtype, g.Shape, w.Dtype, w.Shape)
		}
	}
}

// TestConvertRoundTrip converts the .pth fixtures (every dtype of a state
// dict, strided views, torchvision's ResNet-18 layout, the legacy format)
// to safetensors and back: every tensor comes back bit for bit, PyTorch's
// order too; and a safetensors file converted to .pth and back is the same
// file, byte for byte.
func TestConvertRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, fixture := range []string{"state.pth", "state_legacy.pth", "resnet18.pth"} {
		src := filepath.Join("..", "..", "tensor", "pth", "testdata", fixture)
		st := filepath.Join(dir, fixture+".safetensors")
		back := filepath.Join(dir, fixture+".back.pth")
		out := convert(t, src, st)
		if !strings.Contains(out, "(torch.save) -> "+st) {
			t.Errorf("convert's report %q", out)
		}
		convert(t, st, back)
		want, err := readState(src)
		if err != nil {
			t.Fatal(err)
		}
		mid, err := readState(st)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readState(back)
		if err != nil {
			t.Fatal(err)
		}
		sameEntries(t, mid, want)
		sameEntries(t, got, want)
		if mid.meta["format"] != "pt" {
			t.Errorf("%s: metadata %v, want safetensors.torch's format pt", st, mid.meta)
		}
		// Safetensors -> .pth -> safetensors gives the same file.
		again := filepath.Join(dir, fixture+".again.safetensors")
		convert(t, back, again)
		a, _ := os.ReadFile(st)
		b, _ := os.ReadFile(again)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: safetensors -> .pth -> safetensors changed the file", fixture)
		}
	}
	// The .pth written keeps the order of the safetensors file's names, and
	// PyTorch-compatible records (pth's own tests check torch.load on them).
	pf, err := pth.Load(filepath.Join(dir, "state.pth.back.pth"))
	if err != nil {
		t.Fatal(err)
	}
	sf, _ := safetensors.Load(filepath.Join(dir, "state.pth.safetensors"))
	if !reflect.DeepEqual(pf.Names(), sf.Names()) {
		t.Errorf(".pth names %v, want the safetensors file's order %v", pf.Names(), sf.Names())
	}
}

// TestConvertNotes: a checkpoint's non-tensor entries and safetensors
// metadata are reported as dropped.
func TestConvertNotes(t *testing.T) {
	dir := t.TempDir()
	out := convert(t, filepath.Join("..", "..", "tensor", "pth", "testdata", "nested.pth"), filepath.Join(dir, "n.safetensors"))
	if !strings.Contains(out, "left out 2 entries that are not tensors: epoch, note") {
		t.Errorf("nested checkpoint: %q", out)
	}
	st := filepath.Join(dir, "m.safetensors")
	e := safetensors.Entry{Name: "w", Dtype: safetensors.F64, Shape: []int{1}, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	if err := safetensors.SaveEntries(st, []safetensors.Entry{e}, safetensors.Metadata(map[string]string{"format": "pt", "epoch": "3"})); err != nil {
		t.Fatal(err)
	}
	if out := convert(t, st, filepath.Join(dir, "m.pt")); !strings.Contains(out, "dropped the safetensors metadata, which a .pth file cannot hold: epoch") {
		t.Errorf("metadata: %q", out)
	}
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join("..", "..", "tensor", "pth", "testdata", "state.pth")
	garbage := filepath.Join(dir, "garbage.pth")
	os.WriteFile(garbage, []byte("PK\x03\x04 not really a zip file at all"), 0o644)
	u16 := filepath.Join(dir, "u16.safetensors")
	e := safetensors.Entry{Name: "counts", Dtype: safetensors.U16, Shape: []int{2}, Data: []byte{1, 0, 2, 0}}
	if err := safetensors.SaveEntries(u16, []safetensors.Entry{e}); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pth")
	checkOneLine(t, []string{"convert", good}, 2, false, "want IN and OUT")
	checkOneLine(t, []string{"convert", good, filepath.Join(dir, "x.bin")}, 2, false, "x.bin", ".safetensors")
	checkOneLine(t, []string{"convert", missing, filepath.Join(dir, "x.safetensors")}, 1, false, missing)
	checkOneLine(t, []string{"convert", garbage, filepath.Join(dir, "x.safetensors")}, 1, false, garbage)
	out := filepath.Join(dir, "u16.pth")
	checkOneLine(t, []string{"convert", u16, out}, 1, false, `"counts"`, "U16")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed convert wrote %s", out)
	}
}

// TestWeightsPth: -weights (eval, attack, robustness, certify) takes
// torch.save's .pth as it takes safetensors: the same weights in either
// format give the same model.
func TestWeightsPth(t *testing.T) {
	dir := t.TempDir()
	st, _ := saveSmallCNN(t, dir, 3)
	p := filepath.Join(dir, "smallcnn.pth")
	convert(t, st, p)
	var sds []*layers.StateDict
	for _, w := range []string{st, p} {
		lm, err := (&modelFlags{weights: w, arch: "smallcnn", classes: 10}).load()
		if err != nil || lm.Source != w {
			t.Fatalf("-weights %s: %v", w, err)
		}
		sds = append(sds, layers.GetStateDict(lm.Learner.Model))
	}
	for name, x := range sds[0].Tensors {
		if !reflect.DeepEqual(sds[1].Tensors[name].Data(), x.Data()) {
			t.Errorf("%s differs between the .pth and the safetensors weights", name)
		}
	}
	if !reflect.DeepEqual(sds[0].Ints, sds[1].Ints) {
		t.Errorf("integer buffers %v and %v", sds[1].Ints, sds[0].Ints)
	}
	if code, _, stderr := runCLI("eval", "-arch", "smallcnn", "-weights", p, "-data", dir); code != 1 || !strings.Contains(stderr, "t10k-images") {
		t.Errorf("eval -weights %s reached the data: exit %d, %s", p, code, stderr)
	}
}
