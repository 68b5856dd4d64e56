package pth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// The fixtures are PyTorch 1.13's, from testdata/make_fixtures.py.
var stateFixtures = []string{"testdata/state.pth", "testdata/state_legacy.pth", "testdata/state_proto4.pth"}

// stateNames is the order of make_fixtures.py's state_dict().
var stateNames = []string{
	"f32.base", "f32.t", "f32.slice", "f32.strided", "f32.row", "f32.expand", "f32.specials",
	"f32.scalar", "f32.empty", "f32.param", "f16", "f16.t", "bf16", "bf16.col", "f64", "f64.t",
	"i64", "i64.t", "bn.num_batches_tracked", "i32", "i16", "i8", "u8", "bool",
}

// expected holds expected.safetensors: what PyTorch's tensor.contiguous()
// holds for each tensor of the state dict.
type expected struct {
	f     *safetensors.File
	bytes []byte
	start int
}

func loadExpected(t *testing.T) *expected {
	t.Helper()
	b, err := os.ReadFile("testdata/expected.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return &expected{f: f, bytes: b, start: 8 + int(binary.LittleEndian.Uint64(b))}
}

// raw returns the bytes of entry name, in its own dtype.
func (e *expected) raw(t *testing.T, name string) (safetensors.Info, []byte) {
	t.Helper()
	info, ok := e.f.Info(name)
	if !ok {
		t.Fatalf("expected.safetensors lacks %q", name)
	}
	return info, e.bytes[e.start+int(info.Begin) : e.start+int(info.End)]
}

// checkTensor checks that f's tensor name (named want in the expected file)
// holds what PyTorch says, in every form the File reads it.
func checkTensor(t *testing.T, f *File, name, want string, exp *expected) {
	t.Helper()
	info, ok := f.Info(name)
	if !ok {
		t.Fatalf("no tensor %q", name)
	}
	einfo, eraw := exp.raw(t, want)
	if info.Dtype != einfo.Dtype || !reflect.DeepEqual(info.Shape, einfo.Shape) {
		t.Errorf("%s: %s %v, want %s %v", name, info.Dtype, info.Shape, einfo.Dtype, einfo.Shape)
	}
	raw, err := f.Raw(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, eraw) {
		t.Errorf("%s: raw bytes\n%x\nwant\n%x", name, raw, eraw)
	}
	if isFloat(info.Dtype) {
		x, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		w, err := exp.f.Tensor(want + ".f32")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(x.Shape(), w.Shape()) {
			t.Errorf("%s: Tensor shape %v, want %v", name, x.Shape(), w.Shape())
		}
		for i, v := range x.Data() {
			if math.Float32bits(v) != math.Float32bits(w.Data()[i]) {
				t.Errorf("%s: Tensor element %d is %g (%08x), PyTorch's .float() %g (%08x)", name, i, v,
					math.Float32bits(v), w.Data()[i], math.Float32bits(w.Data()[i]))
			}
		}
		if _, err := f.Int64(name); err == nil {
			t.Errorf("%s: float tensor read by Int64", name)
		}
		return
	}
	v, err := f.Int64(name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := exp.f.Int64(want + ".i64")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v.Data, w.Data) || len(v.Shape) != len(w.Shape) {
		t.Errorf("%s: Int64 %v %v, want %v %v", name, v.Shape, v.Data, w.Shape, w.Data)
	}
	if _, err := f.Tensor(name); err == nil {
		t.Errorf("%s: integer tensor read by Tensor", name)
	}
}

// TestFixtures checks that every tensor of the state dict saved in the zip
// format, the legacy format and with pickle protocol 4 reads as what
// PyTorch's tensor.contiguous() holds, bit for bit.
func TestFixtures(t *testing.T) {
	exp := loadExpected(t)
	for _, path := range stateFixtures {
		t.Run(path, func(t *testing.T) {
			f, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.Names(), stateNames) {
				t.Errorf("names %v\nwant %v", f.Names(), stateNames)
			}
			if len(f.Skipped()) != 0 {
				t.Errorf("skipped %v", f.Skipped())
			}
			for _, name := range stateNames {
				checkTensor(t, f, name, name, exp)
			}
		})
	}
}

// TestViews checks the layout Info reports for the views of one storage.
func TestViews(t *testing.T) {
	for _, path := range stateFixtures {
		f, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		base, _ := f.Info("f32.base")
		for _, c := range []struct {
			name    string
			shape   []int
			strides []int64
			offset  int64
		}{
			{"f32.base", []int{6, 5}, []int64{5, 1}, 0},
			{"f32.t", []int{5, 6}, []int64{1, 5}, 0},
			{"f32.slice", []int{2, 2}, []int64{10, 2}, 6},
			{"f32.strided", []int{3, 2, 2}, []int64{4, 1, 7}, 3},
			{"f32.row", []int{5}, []int64{1}, 20},
		} {
			info, _ := f.Info(c.name)
			if info.Storage != base.Storage || info.StorageLen != 30 || !reflect.DeepEqual(info.Shape, c.shape) ||
				!reflect.DeepEqual(info.Strides, c.strides) || info.Offset != c.offset {
				t.Errorf("%s: %s: %+v, want a view of storage %q with shape %v, strides %v, offset %d",
					path, c.name, info, base.Storage, c.shape, c.strides, c.offset)
			}
		}
		if e, _ := f.Info("f32.expand"); !reflect.DeepEqual(e.Strides, []int64{1, 0}) || e.StorageLen != 3 {
			t.Errorf("%s: f32.expand: %+v, want strides [1 0] over 3 elements", path, e)
		}
	}
}

// TestNested checks a checkpoint whose state dicts are nested in a dict
// with other entries (legacy format).
func TestNested(t *testing.T) {
	exp := loadExpected(t)
	f, err := Load("testdata/nested.pth")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"model.f32.t", "model.f16", "model.bn.num_batches_tracked", "ema.f32.slice"}
	if !reflect.DeepEqual(f.Names(), want) {
		t.Errorf("names %v, want %v", f.Names(), want)
	}
	if got := f.Skipped(); !reflect.DeepEqual(got, []string{"epoch", "note"}) {
		t.Errorf("skipped %v, want [epoch note]", got)
	}
	for _, name := range want {
		_, in, _ := strings.Cut(name, ".")
		checkTensor(t, f, name, in, exp)
	}
}

// TestNotFound checks the error for a missing name.
func TestNotFound(t *testing.T) {
	f, err := Load("testdata/state.pth")
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := f.Tensor("nope")
	_, err2 := f.Int64("nope")
	_, err3 := f.Raw("nope")
	_, err4 := f.Entry("nope")
	for _, err := range []error{err1, err2, err3, err4} {
		if !errors.Is(err, ErrNotFound) || !errors.Is(err, safetensors.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	}
	if _, ok := f.Info("nope"); ok {
		t.Error("Info found a missing name")
	}
}

// TestGather checks gather against a direct index computation on views of
// every rank up to 4 with assorted strides.
func TestGather(t *testing.T) {
	src := make([]byte, 1024)
	for i := range src {
		src[i] = byte(i*7 + i/256)
	}
	for _, c := range []struct {
		shape   []int
		strides []int64
	}{
		{[]int{}, []int64{}},
		{[]int{7}, []int64{3}},
		{[]int{3, 4}, []int64{1, 3}},
		{[]int{3, 4}, []int64{0, 1}},
		{[]int{2, 3, 4}, []int64{1, 2, 6}},
		{[]int{2, 1, 3, 2}, []int64{50, 9, 7, 1}},
		{[]int{2, 2, 2, 2}, []int64{0, 0, 0, 0}},
		{[]int{2, 3, 4}, []int64{12, 4, 1}},
		{[]int{2, 3, 4}, []int64{20, 4, 1}},
		{[]int{3, 1, 2}, []int64{2, 100, 1}},
		{[]int{2, 3, 3}, []int64{40, 9, 3}},
		{[]int{1, 1}, []int64{7, 9}},
	} {
		n := 1
		for _, d := range c.shape {
			n *= d
		}
		got := make([]byte, n)
		gather(got, src, 1, c.shape, c.strides)
		got4 := make([]byte, 4*n)
		gather(got4, src, 4, c.shape, c.strides)
		idx := make([]int, len(c.shape))
		for i := 0; i < n; i++ {
			rem, off := i, int64(0)
			for k := len(c.shape) - 1; k >= 0; k-- {
				idx[k] = rem % c.shape[k]
				rem /= c.shape[k]
				off += int64(idx[k]) * c.strides[k]
			}
			if got[i] != src[off] || !bytes.Equal(got4[4*i:4*i+4], src[4*off:4*off+4]) {
				t.Errorf("shape %v strides %v: element %d is %d (%x), want %d", c.shape, c.strides, i, got[i], got4[4*i:4*i+4], src[off])
				break
			}
		}
	}
}

// TestIsTorchSave checks the sniffing of torch.save files against the
// fixtures, a protocol-4 legacy file and safetensors files.
func TestIsTorchSave(t *testing.T) {
	for path, want := range map[string]bool{
		"testdata/state.pth": true, "testdata/state_legacy.pth": true, "testdata/nested.pth": true,
		"testdata/state_proto4.pth": true, "testdata/expected.safetensors": false,
		"testdata/resnet18_io.safetensors": false, "testdata/make_fixtures.py": false,
	} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := IsTorchSave(b[:64]); got != want {
			t.Errorf("%s: IsTorchSave = %v, want %v", path, got, want)
		}
	}
	proto4 := "\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00" + legacyMagicBytes + "."
	if !IsTorchSave([]byte(proto4)) || IsTorchSave([]byte(proto4[:15])) || IsTorchSave(nil) {
		t.Error("IsTorchSave misreads a protocol-4 legacy magic number or a short prefix")
	}
	if IsTorchSave([]byte("\x80\x02\x00\x00\x00\x00\x00\x00{}")) {
		t.Error("a safetensors header of 640 bytes read as a torch.save file")
	}
}

// BenchmarkReadResNet18 parses the strided ResNet-18 fixture (122 tensors,
// 11.7M elements gathered from three storages) and reads every tensor.
func BenchmarkReadResNet18(b *testing.B) {
	data, err := os.ReadFile("testdata/resnet18.pth")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range f.Names() {
			if info, _ := f.Info(name); info.Dtype == I64 {
				_, err = f.Int64(name)
			} else {
				_, err = f.Tensor(name)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
