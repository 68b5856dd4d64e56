package pth

import (
	"archive/zip"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/internal/atomicfile"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// entriesOf returns every tensor of the file at path as an Entry.
func entriesOf(t *testing.T, path string) []Entry {
	t.Helper()
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []Entry
	for _, name := range f.Names() {
		e, err := f.Entry(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// sampleEntries returns the entries that Float32Entry and Int64Entry make,
// one per dtype.
func sampleEntries(t *testing.T) []Entry {
	x := tensor.FromSlice([]float32{1, -2.5, 0.1, float32(math.Inf(-1)), 65519, 1e-8}, 2, 3)
	var out []Entry
	for _, dt := range []Dtype{F32, F16, BF16, F64} {
		e, err := Float32Entry("x."+string(dt), x, dt)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	for _, v := range []safetensors.Int64Tensor{
		{Data: []int64{469}},
		{Shape: []int{2, 2}, Data: []int64{-1, 1 << 40, math.MinInt64, math.MaxInt64}},
	} {
		e, err := Int64Entry("i"+string(rune('0'+len(out))), v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// TestWriteReadBack writes the fixtures' tensors and the sample entries and
// reads them back: the same names in order, dtypes, shapes and bytes, each
// storage contiguous and aligned to 64 bytes; the same entries always give
// the same bytes.
func TestWriteReadBack(t *testing.T) {
	entries := append(entriesOf(t, "testdata/state.pth"), sampleEntries(t)...)
	var buf bytes.Buffer
	if err := Write(&buf, entries); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := Write(&again, entries); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two writes of the same entries differ")
	}
	f, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Names()) != len(entries) {
		t.Fatalf("read %d tensors, wrote %d", len(f.Names()), len(entries))
	}
	for i, e := range entries {
		if f.Names()[i] != e.Name {
			t.Errorf("name %d is %q, want %q", i, f.Names()[i], e.Name)
		}
		got, err := f.Entry(e.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got.Dtype != e.Dtype || len(got.Shape) != len(e.Shape) || !bytes.Equal(got.Data, e.Data) {
			t.Errorf("%s: read back %s %v %x, wrote %s %v %x", e.Name, got.Dtype, got.Shape, got.Data, e.Dtype, e.Shape, e.Data)
		}
		if info, _ := f.Info(e.Name); info.Offset != 0 || !contiguous(info.Shape, info.Strides) {
			t.Errorf("%s: written as a view %+v", e.Name, info)
		}
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		off, err := zf.DataOffset()
		if err != nil || off%recordAlign != 0 || zf.Method != zip.Store {
			t.Errorf("%s: data at %d (method %d, %v), want stored and aligned to %d", zf.Name, off, zf.Method, err, recordAlign)
		}
	}
}

// TestWriteErrors checks that Write refuses what it cannot write.
func TestWriteErrors(t *testing.T) {
	ok := Entry{Name: "a", Dtype: F32, Shape: []int{2}, Data: make([]byte, 8)}
	for _, c := range []struct {
		entries []Entry
		want    string
	}{
		{[]Entry{ok, ok}, `two tensors are named "a"`},
		{[]Entry{{Name: "\xff", Dtype: F32, Data: make([]byte, 4)}}, "not valid UTF-8"},
		{[]Entry{{Name: "b", Dtype: F32, Shape: []int{3}, Data: make([]byte, 8)}}, "8 bytes of data for shape [3] of F32 (12 bytes)"},
		{[]Entry{{Name: "c", Dtype: "U64", Data: make([]byte, 8)}}, `dtype "U64" cannot be written`},
		{[]Entry{{Name: "d", Dtype: F32, Shape: []int{-1}}}, "negative dimension"},
		{[]Entry{{Name: "e", Dtype: F32, Shape: []int{1 << 40, 1 << 40}}}, "overflows"},
	} {
		var buf bytes.Buffer
		err := Write(&buf, c.entries)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%q: wrote %d bytes before failing", c.want, buf.Len())
		}
	}
	if _, err := Float32Entry("x", tensor.Zeros(2), I64); err == nil {
		t.Error("Float32Entry made an I64 entry")
	}
	if _, err := Int64Entry("x", safetensors.Int64Tensor{Shape: []int{3}, Data: []int64{1}}); err == nil {
		t.Error("Int64Entry accepted 1 value for shape [3]")
	}
}

// TestSave checks Save and that a failed Save leaves the file as it was.
func TestSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.pth")
	entries := sampleEntries(t)
	if err := Save(path, entries); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Names()) != len(entries) {
		t.Fatalf("saved %d tensors, read %d", len(entries), len(f.Names()))
	}
	bad := []Entry{{Name: "a", Dtype: F32, Shape: []int{3}}}
	if err := Save(path, bad); err == nil {
		t.Fatal("Save accepted a bad entry")
	}
	if f, err := Load(path); err != nil || len(f.Names()) != len(entries) {
		t.Errorf("a failed Save changed the file: %v", err)
	}
	// A disk that fills up half way through the write.
	restore := atomicfile.SetWriteHook(func(written int64) error {
		if written > 200 {
			return errors.New("no space left on device")
		}
		return nil
	})
	defer restore()
	err = Save(path, entriesOf(t, "testdata/state.pth"))
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Errorf("Save on a full disk: %v", err)
	}
	if f, err := Load(path); err != nil || len(f.Names()) != len(entries) {
		t.Errorf("a failed Save changed the file: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(left) != 0 {
		t.Errorf("a failed Save left %v", left)
	}
}

// TestSafetensorsRoundTrip converts every F32, F16, BF16 and I64 tensor of
// the fixture to safetensors through float32 and int64, and back: the
// bytes come back unchanged.
func TestSafetensorsRoundTrip(t *testing.T) {
	f, err := Load("testdata/state.pth")
	if err != nil {
		t.Fatal(err)
	}
	floats := map[string]*tensor.Tensor{}
	ints := map[string]safetensors.Int64Tensor{}
	dtypes := map[string]Dtype{}
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		switch info.Dtype {
		case F32, F16, BF16:
			floats[name], err = f.Tensor(name)
		case I64:
			ints[name], err = f.Int64(name)
		default:
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		dtypes[name] = info.Dtype
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, floats, safetensors.Ints(ints)); err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for name, dt := range dtypes {
		var e Entry
		if dt == I64 {
			v, err := st.Int64(name)
			if err != nil {
				t.Fatal(err)
			}
			e, err = Int64Entry(name, v)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			x, err := st.Tensor(name)
			if err != nil {
				t.Fatal(err)
			}
			if e, err = Float32Entry(name, x, dt); err != nil {
				t.Fatal(err)
			}
		}
		want, _ := f.Raw(name)
		if !bytes.Equal(e.Data, want) {
			t.Errorf("%s (%s): %x after the round trip, want %x", name, dt, e.Data, want)
		}
	}
}

// pythonWithTorch returns the Debian python3 if it has torch and
// torchvision installed.
func pythonWithTorch(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	err := exec.Command(py, "-c", "import torch, torchvision").Run()
	if err != nil {
		t.Skipf("%s has no torch and torchvision: %v", py, err)
	}
	return py
}

// TestPythonLoadsGoFile writes, from Go, the fixture's tensors, the sample
// entries and the strided ResNet-18 (contiguous now), and has PyTorch 1.13
// load them: the same names, dtypes, shapes and bytes, and the ResNet-18
// loads strictly into torchvision's and gives the logits of the original.
func TestPythonLoadsGoFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PyTorch")
	}
	py := pythonWithTorch(t)
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.pth")
	entries := append(entriesOf(t, "testdata/state.pth"), sampleEntries(t)...)
	if err := Save(statePath, entries); err != nil {
		t.Fatal(err)
	}
	resnetPath := filepath.Join(dir, "resnet18.pth")
	if err := Save(resnetPath, entriesOf(t, "testdata/resnet18.pth")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/pyload.py", "--resnet", resnetPath, statePath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyload.py: %v\n%s", err, stderr.String())
	}
	var got struct {
		State map[string]struct {
			Dtype string `json:"dtype"`
			Shape []int  `json:"shape"`
			Hex   string `json:"hex"`
		}
		Diff   float64 `json:"resnet_max_abs_diff"`
		Stored float64 `json:"resnet_stored_diff"`
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw[statePath], &got.State); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw["resnet_max_abs_diff"], &got.Diff); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw["resnet_stored_diff"], &got.Stored); err != nil {
		t.Fatal(err)
	}
	if len(got.State) != len(entries) {
		t.Errorf("PyTorch read %d tensors, Go wrote %d", len(got.State), len(entries))
	}
	for _, e := range entries {
		p, ok := got.State[e.Name]
		shape := e.Shape
		if shape == nil {
			shape = []int{}
		}
		if !ok || p.Dtype != string(e.Dtype) || !reflect.DeepEqual(p.Shape, shape) || p.Hex != hex.EncodeToString(e.Data) {
			t.Errorf("%s: PyTorch read %+v, want %s %v %x", e.Name, p, e.Dtype, shape, e.Data)
		}
	}
	// The same bytes give PyTorch the same logits as the original file; the
	// logits stored with the fixture were computed on another machine, whose
	// kernels may round differently (oneDNN's AVX-512 against AVX2 ones).
	if got.Diff != 0 {
		t.Errorf("PyTorch's logits with the Go-written ResNet-18 differ from the original file's by %g", got.Diff)
	}
	if got.Stored > 1e-4 {
		t.Errorf("PyTorch's logits with the Go-written ResNet-18 differ from the stored ones by %g", got.Stored)
	}
}

// TestHalfConversions checks float32ToHalf and float32ToBF16 on every
// 16-bit pattern (each converts back to itself) and on the midpoints
// between neighbours (ties go to the even one).
func TestHalfConversions(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		if got := float32ToHalf(halfToFloat32(uint16(h))); got != uint16(h) {
			t.Fatalf("half %04x comes back as %04x", h, got)
		}
		bf := math.Float32frombits(uint32(h) << 16)
		if got := float32ToBF16(bf); got != uint16(h) {
			t.Fatalf("bfloat16 %04x comes back as %04x", h, got)
		}
	}
	for h := uint16(0); h < 0x7bff; h++ { // positive finite halves and their successors
		lo, hi := float64(halfToFloat32(h)), float64(halfToFloat32(h+1))
		mid := float32((lo + hi) / 2) // exact in float32
		want := h
		if h&1 == 1 {
			want = h + 1
		}
		if got := float32ToHalf(mid); got != want {
			t.Fatalf("midpoint of %04x and %04x rounds to %04x, want %04x", h, h+1, got, want)
		}
		if got := float32ToHalf(math.Nextafter32(mid, float32(hi))); got != h+1 {
			t.Fatalf("just above the midpoint of %04x and %04x rounds to %04x", h, h+1, got)
		}
		if got := float32ToHalf(-math.Nextafter32(mid, float32(lo))); got != 0x8000|h {
			t.Fatalf("just below minus the midpoint of %04x and %04x rounds to %04x", h, h+1, got)
		}
	}
	for _, c := range []struct {
		f    float32
		half uint16
		bf   uint16
	}{
		{65520, 0x7c00, 0x4780},                            // rounds up to Inf as a half
		{float32(math.Pow(2, -26)), 0x0000, 0x3280},        // below half the smallest subnormal
		{float32(math.Pow(2, -25)) * 1.5, 0x0001, 0x3340},  // above half of it
		{math.Float32frombits(0x3f808000), 0x3c04, 0x3f80}, // bfloat16 tie to even (down)
		{math.Float32frombits(0x3f818000), 0x3c0c, 0x3f82}, // bfloat16 tie to even (up)
		{float32(math.NaN()), 0x7e00, 0x7fc0},
	} {
		if got := float32ToHalf(c.f); got != c.half {
			t.Errorf("float32ToHalf(%g) = %04x, want %04x", c.f, got, c.half)
		}
		if got := float32ToBF16(c.f); got != c.bf {
			t.Errorf("float32ToBF16(%g) = %04x, want %04x", c.f, got, c.bf)
		}
	}
	if got := float32ToBF16(math.Float32frombits(0x7f800001)); got&0x7fc0 != 0x7fc0 {
		t.Errorf("a signalling NaN with low payload became %04x, want a quiet NaN", got)
	}
}

// TestPicklerInts checks that the pickler's integers of every width read
// back through the scanner and the unpickler.
func TestPicklerInts(t *testing.T) {
	for _, v := range []int64{0, 255, 256, 65535, 65536, -1, -129, math.MaxInt32, math.MinInt32,
		math.MaxInt32 + 1, math.MinInt32 - 1, 1 << 40, -(1 << 40), 0x7fffffffffff, math.MaxInt64, math.MinInt64} {
		p := &pickler{memo: map[string]int{}}
		p.b = append(p.b, opProto, 2)
		p.int(v)
		p.b = append(p.b, opStop)
		if _, err := scanPickle(p.b); err != nil {
			t.Fatalf("%d: %v", v, err)
		}
		got, err := (&unpickling{}).load(p.b)
		if err != nil {
			t.Fatalf("%d: %v", v, err)
		}
		if g, ok := got.(int); !ok || int64(g) != v {
			t.Errorf("%d read back as %v", v, got)
		}
	}
}
