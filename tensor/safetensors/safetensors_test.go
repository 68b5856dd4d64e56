package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/internal/atomicfile"
	"github.com/fastgo-ml/fastgo/tensor"
)

// expectedEntry is one tensor of a testdata/*.json file written by gen.py.
type expectedEntry struct {
	Dtype   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	F32Bits []uint32 `json:"f32_bits"`
	Ints    []int64  `json:"ints"`
}

func readExpected(t *testing.T, path string) map[string]expectedEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]expectedEntry
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sameShape(a, b []int) bool { return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b)) }

// checkAgainst compares every entry of f with what gen.py recorded.
func checkAgainst(t *testing.T, f *File, want map[string]expectedEntry) {
	t.Helper()
	if got := f.Names(); !reflect.DeepEqual(got, sortedKeys(want)) {
		t.Fatalf("Names() = %v, want %v", got, sortedKeys(want))
	}
	for name, w := range want {
		info, ok := f.Info(name)
		if !ok || string(info.Dtype) != w.Dtype || !sameShape(info.Shape, w.Shape) {
			t.Errorf("%s: Info = %+v, %v; want dtype %s shape %v", name, info, ok, w.Dtype, w.Shape)
		}
		if w.F32Bits != nil {
			x, err := f.Tensor(name)
			if err != nil {
				t.Errorf("%s: Tensor: %v", name, err)
				continue
			}
			if !sameShape(x.Shape(), w.Shape) {
				t.Errorf("%s: shape %v, want %v", name, x.Shape(), w.Shape)
			}
			for i, v := range x.Data() {
				if got := math.Float32bits(v); got != w.F32Bits[i] {
					t.Errorf("%s[%d] = %v (%#08x), want %v (%#08x)", name, i, v, got, math.Float32frombits(w.F32Bits[i]), w.F32Bits[i])
				}
			}
		}
		if w.Ints != nil {
			x, err := f.Int64(name)
			if err != nil {
				t.Errorf("%s: Int64: %v", name, err)
				continue
			}
			if !sameShape(x.Shape, w.Shape) || !reflect.DeepEqual(x.Data, w.Ints) {
				t.Errorf("%s: Int64 = %v %v, want %v %v", name, x.Shape, x.Data, w.Shape, w.Ints)
			}
		}
	}
}

func TestLoadTorchModel(t *testing.T) {
	f, err := Load("testdata/torch_model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	checkAgainst(t, f, readExpected(t, "testdata/torch_model.json"))
	if got := f.Metadata(); !reflect.DeepEqual(got, map[string]string{"format": "pt"}) {
		t.Errorf("Metadata() = %v", got)
	}
	n, err := f.Int64("bn1.num_batches_tracked")
	if err != nil || len(n.Shape) != 0 || !reflect.DeepEqual(n.Data, []int64{2}) {
		t.Errorf("num_batches_tracked = %+v, %v; want scalar 2", n, err)
	}
	if _, err := f.Tensor("bn1.num_batches_tracked"); err == nil {
		t.Error("Tensor read an I64 entry as float32")
	}
	if _, err := f.Int64("conv1.weight"); err == nil {
		t.Error("Int64 read an F32 entry")
	}
}

func TestLoadDtypes(t *testing.T) {
	f, err := Load("testdata/dtypes.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	checkAgainst(t, f, readExpected(t, "testdata/dtypes.json"))
	if got := f.Metadata()["note"]; got != "written by gen.py" {
		t.Errorf("metadata note = %q", got)
	}
}

func TestNotFound(t *testing.T) {
	f, err := Load("testdata/torch_model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Tensor("nope")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "torch_model.safetensors") || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Tensor(nope) error = %v", err)
	}
	if _, err := f.Int64("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Int64(nope) error = %v", err)
	}
	if _, ok := f.Info("nope"); ok {
		t.Error("Info(nope) found something")
	}
}

func TestHalfToFloat32(t *testing.T) {
	// Every finite half is exactly representable; check all of them against
	// the definition value = (-1)^s * 2^(e-15) * (1 + m/1024), or subnormal.
	for h := 0; h < 1<<16; h++ {
		s, e, m := h>>15, (h>>10)&0x1f, h&0x3ff
		got := halfToFloat32(uint16(h))
		var want float64
		switch e {
		case 0x1f:
			if m == 0 && !math.IsInf(float64(got), 1-2*s) || m != 0 && !math.IsNaN(float64(got)) {
				t.Fatalf("half %#04x = %v", h, got)
			}
			continue
		case 0:
			want = math.Ldexp(float64(m), -24)
		default:
			want = math.Ldexp(1+float64(m)/1024, e-15)
		}
		if s == 1 {
			want = -want
		}
		if float64(got) != want || math.Signbit(float64(got)) != (s == 1) {
			t.Fatalf("half %#04x = %v, want %v", h, got, want)
		}
	}
}

// sample returns tensors and ints covering scalars, empty tensors, special
// values and odd sizes.
func sample() (map[string]*tensor.Tensor, map[string]Int64Tensor, map[string]string) {
	g := tensor.NewRNG(1)
	odd := tensor.Normal[float32](g, 0, 1, 3, 5, 7)
	odd.Data()[0] = float32(math.NaN())
	odd.Data()[1] = float32(math.Inf(-1))
	odd.Data()[2] = float32(math.Copysign(0, -1))
	odd.Data()[3] = math.SmallestNonzeroFloat32
	tensors := map[string]*tensor.Tensor{
		"layer1.0.conv1.weight": odd,
		"fc.bias":               tensor.FromSlice([]float32{1, 2, 3}, 3),
		"scalar":                tensor.FromSlice([]float32{-4.5}),
		"empty":                 tensor.Zeros(0, 4),
		"big":                   tensor.Uniform[float32](g, -1, 1, 70000), // several read chunks
		`odd "name" <&>`:        tensor.Full[float32](7, 1, 1),
	}
	ints := map[string]Int64Tensor{
		"bn1.num_batches_tracked": {Data: []int64{938}},
		"labels":                  {Shape: []int{2, 3}, Data: []int64{math.MinInt64, -1, 0, 1, math.MaxInt64, 42}},
		"none":                    {Shape: []int{0}, Data: []int64{}},
	}
	meta := map[string]string{"format": "pt", "epoch": "3", "ünïcode": "✓"}
	return tensors, ints, meta
}

// checkSample checks that f holds exactly what sample returns.
func checkSample(t *testing.T, f *File) {
	t.Helper()
	tensors, ints, meta := sample()
	var names []string
	for name, want := range tensors {
		names = append(names, name)
		got, err := f.Tensor(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !sameShape(got.Shape(), want.Shape()) {
			t.Errorf("%s: shape %v, want %v", name, got.Shape(), want.Shape())
		}
		for i := range want.Data() {
			if math.Float32bits(got.Data()[i]) != math.Float32bits(want.Data()[i]) {
				t.Fatalf("%s[%d] = %v, want %v", name, i, got.Data()[i], want.Data()[i])
			}
		}
	}
	for name, want := range ints {
		names = append(names, name)
		got, err := f.Int64(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !sameShape(got.Shape, want.Shape) || !reflect.DeepEqual(got.Data, want.Data) {
			t.Errorf("%s = %+v, want %+v", name, got, want)
		}
	}
	sort.Strings(names)
	if !reflect.DeepEqual(f.Names(), names) {
		t.Errorf("Names() = %v, want %v", f.Names(), names)
	}
	if !reflect.DeepEqual(f.Metadata(), meta) {
		t.Errorf("Metadata() = %v, want %v", f.Metadata(), meta)
	}
}

func TestRoundTrip(t *testing.T) {
	tensors, ints, meta := sample()
	var buf bytes.Buffer
	if err := Write(&buf, tensors, Ints(ints), Metadata(meta)); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	if hdr := string(b[8 : 8+n]); strings.TrimRight(hdr, " ") != strings.TrimSpace(hdr) || !strings.HasSuffix(strings.TrimRight(hdr, " "), "}") {
		t.Errorf("header is not padded with trailing spaces: %q", hdr)
	}
	f, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, f)
	// Every entry starts at a multiple of its element size.
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		if (8+int64(n)+info.Begin)%int64(info.Dtype.Size()) != 0 {
			t.Errorf("%s at file offset %d is not aligned", name, 8+int64(n)+info.Begin)
		}
	}
	// Deterministic: the same content gives the same bytes (maps are
	// iterated in random order).
	for i := 0; i < 5; i++ {
		tensors, ints, meta := sample()
		var again bytes.Buffer
		if err := Write(&again, tensors, Ints(ints), Metadata(meta)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Bytes(), b) {
			t.Fatal("Write is not deterministic")
		}
	}
}

func TestWriteRejects(t *testing.T) {
	x := tensor.Zeros(2)
	cases := []struct {
		name    string
		tensors map[string]*tensor.Tensor
		ints    map[string]Int64Tensor
		meta    map[string]string
	}{
		{"reserved name", map[string]*tensor.Tensor{"__metadata__": x}, nil, nil},
		{"reserved int name", nil, map[string]Int64Tensor{"__metadata__": {Data: []int64{1}}}, nil},
		{"nil tensor", map[string]*tensor.Tensor{"a": nil}, nil, nil},
		{"duplicate name", map[string]*tensor.Tensor{"a": x}, map[string]Int64Tensor{"a": {Data: []int64{1}}}, nil},
		{"ints do not fill shape", nil, map[string]Int64Tensor{"a": {Shape: []int{2, 2}, Data: []int64{1}}}, nil},
		{"scalar with two values", nil, map[string]Int64Tensor{"a": {Data: []int64{1, 2}}}, nil},
		{"negative dim", nil, map[string]Int64Tensor{"a": {Shape: []int{-1}, Data: []int64{}}}, nil},
		{"invalid utf-8 name", map[string]*tensor.Tensor{"\xff": x}, nil, nil},
		{"invalid utf-8 metadata", nil, nil, map[string]string{"k": "\xfe"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, c.tensors, Ints(c.ints), Metadata(c.meta)); err == nil {
				t.Error("Write succeeded")
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

// dirEntries returns the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	first := map[string]*tensor.Tensor{"w": tensor.FromSlice([]float32{1, 2}, 2)}
	if err := Save(path, first); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	second := map[string]*tensor.Tensor{"w": tensor.FromSlice([]float32{3, 4}, 2)}

	t.Run("failure before rename", func(t *testing.T) {
		defer atomicfile.SetWriteHook(func(int64) error {
			if got := dirEntries(t, dir); len(got) != 2 {
				t.Errorf("while saving, dir holds %v, want the file and one temporary", got)
			}
			return errors.New("injected failure")
		})()
		err := Save(path, second)
		if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), path) {
			t.Fatalf("Save error = %v", err)
		}
		if b, _ := os.ReadFile(path); !bytes.Equal(b, good) {
			t.Error("a failed Save changed the previous file")
		}
		if got := dirEntries(t, dir); !reflect.DeepEqual(got, []string{"model.safetensors"}) {
			t.Errorf("a failed Save left %v", got)
		}
	})
	t.Run("invalid input", func(t *testing.T) {
		if err := Save(path, map[string]*tensor.Tensor{"w": nil}); err == nil {
			t.Fatal("Save of a nil tensor succeeded")
		}
		if b, _ := os.ReadFile(path); !bytes.Equal(b, good) {
			t.Error("a rejected Save changed the previous file")
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		if err := Save(filepath.Join(dir, "no", "such", "x.safetensors"), second); err == nil {
			t.Fatal("Save into a missing directory succeeded")
		}
	})
	t.Run("success replaces", func(t *testing.T) {
		if err := Save(path, second); err != nil {
			t.Fatal(err)
		}
		f, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := f.Tensor("w")
		if !reflect.DeepEqual(w.Data(), []float32{3, 4}) {
			t.Errorf("w = %v after replacing save", w.Data())
		}
		st, _ := os.Stat(path)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want the previous file's 0600", st.Mode().Perm())
		}
		if got := dirEntries(t, dir); !reflect.DeepEqual(got, []string{"model.safetensors"}) {
			t.Errorf("dir holds %v after Save", got)
		}
	})
	t.Run("new file mode", func(t *testing.T) {
		p := filepath.Join(dir, "new.safetensors")
		if err := Save(p, second); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		if st.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, want 0644", st.Mode().Perm())
		}
	})
}

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.safetensors")
	tensors, ints, meta := sample()
	if err := Save(path, tensors, Ints(ints), Metadata(meta)); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, f)
}

func TestIntDtypes(t *testing.T) {
	le := func(vals ...uint64) []byte {
		b := make([]byte, 8*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint64(b[8*i:], v)
		}
		return b
	}
	data := append(file(`{"u":{"dtype":"U64","shape":[2],"data_offsets":[0,16]},"x":{"dtype":"U64","shape":[1],"data_offsets":[16,24]}}`, 0), le(5, math.MaxInt64, 1<<63)...)
	f, err := Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if u, err := f.Int64("u"); err != nil || !reflect.DeepEqual(u.Data, []int64{5, math.MaxInt64}) {
		t.Errorf("U64 = %v, %v", u, err)
	}
	if _, err := f.Int64("x"); err == nil {
		t.Error("U64 2^63 read as int64")
	}
	if _, err := f.Tensor("u"); err == nil {
		t.Error("U64 read as float32")
	}
}

// pythonWithTorch returns the Debian python3 if it has torch installed.
func pythonWithTorch(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	err := exec.Command(py, "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)").Run()
	if err != nil {
		t.Skipf("%s has no torch: %v", py, err)
	}
	return py
}

// pyFile is what pyread.py reports for one file.
type pyFile struct {
	Metadata    map[string]string        `json:"metadata"`
	Tensors     map[string]expectedEntry `json:"tensors"`
	ModelLoaded bool                     `json:"model_loaded"`
}

// TestPythonReadsGoFile writes, from Go, the tensors of the PyTorch-written
// model file and the sample entries, and has PyTorch read both back and
// load the first into the model that wrote the original.
func TestPythonReadsGoFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PyTorch")
	}
	py := pythonWithTorch(t)
	src, err := Load("testdata/torch_model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	modelTensors := map[string]*tensor.Tensor{}
	modelInts := map[string]Int64Tensor{}
	for _, name := range src.Names() {
		if info, _ := src.Info(name); info.Dtype == I64 {
			modelInts[name], err = src.Int64(name)
		} else {
			modelTensors[name], err = src.Tensor(name)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	modelPath := filepath.Join(dir, "go_model.safetensors")
	if err := Save(modelPath, modelTensors, Ints(modelInts), Metadata(src.Metadata())); err != nil {
		t.Fatal(err)
	}
	tensors, ints, meta := sample()
	samplePath := filepath.Join(dir, "sample.safetensors")
	if err := Save(samplePath, tensors, Ints(ints), Metadata(meta)); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(py, "testdata/pyread.py", "--model", modelPath, modelPath, samplePath).Output()
	if err != nil {
		t.Fatalf("pyread.py: %v\n%s", err, exitStderr(err))
	}
	var got map[string]pyFile
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}

	model := got[modelPath]
	if !model.ModelLoaded {
		t.Error("PyTorch did not load the Go-written state dict")
	}
	if want := readExpected(t, "testdata/torch_model.json"); !reflect.DeepEqual(model.Tensors, want) {
		t.Errorf("PyTorch read %v\nwant %v", model.Tensors, want)
	}

	smp := got[samplePath]
	if !reflect.DeepEqual(smp.Metadata, meta) {
		t.Errorf("PyTorch read metadata %v, want %v", smp.Metadata, meta)
	}
	if len(smp.Tensors) != len(tensors)+len(ints) {
		t.Errorf("PyTorch read %d tensors, want %d", len(smp.Tensors), len(tensors)+len(ints))
	}
	for name, x := range tensors {
		e := smp.Tensors[name]
		if e.Dtype != "F32" || !sameShape(e.Shape, x.Shape()) || len(e.F32Bits) != x.Len() {
			t.Errorf("%s: PyTorch read %s %v (%d values)", name, e.Dtype, e.Shape, len(e.F32Bits))
			continue
		}
		for i, v := range x.Data() {
			if e.F32Bits[i] != math.Float32bits(v) {
				t.Errorf("%s[%d]: PyTorch read %#08x, want %#08x", name, i, e.F32Bits[i], math.Float32bits(v))
				break
			}
		}
	}
	for name, x := range ints {
		e := smp.Tensors[name]
		if e.Dtype != "I64" || !sameShape(e.Shape, x.Shape) || !reflect.DeepEqual(e.Ints, x.Data) {
			t.Errorf("%s: PyTorch read %+v, want %+v", name, e, x)
		}
	}
}

func exitStderr(err error) []byte {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.Stderr
	}
	return nil
}
