package pth

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRead checks that no input makes Read or the File's readers panic or
// allocate beyond what the input's size allows, that what they read is
// consistent with Info, and that every file Read accepts survives a Write
// and Read round trip byte for byte.
func FuzzRead(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.pth")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 64<<10 {
			continue // the ResNet: large seeds slow every mutation down
		}
		f.Add(b)
		f.Add(b[:len(b)/2]) // truncated
		bad := bytes.Clone(b)
		for i := 64; i < len(bad); i += 97 { // corrupted here and there
			bad[i] ^= 0x5a
		}
		f.Add(bad)
	}
	var buf bytes.Buffer
	if err := Write(&buf, []Entry{{Name: "w", Dtype: F16, Shape: []int{2, 1}, Data: []byte{0, 0x3c, 0, 0xc0}}}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(legacyHead + state(bu("w"), rebuild(legacyPid("FloatStorage", "0", k(2)), k(1), tup(k(1)), tup(k(1)))) +
		"\x80\x02]X\x01\x00\x00\x000a." + le64(2) + "\x00\x00\x80\x3f\x00\x00\x00\x40"))
	f.Add([]byte(legacyHead + "\x80\x02" + gl("os", "system") + "."))

	f.Fuzz(func(t *testing.T, data []byte) {
		checkRead(t, data)
	})
}

// FuzzPickle fuzzes the pickle of the zip format: each input becomes the
// data.pkl of an archive (with a valid checksum, which mutations of a
// whole archive mostly break) that holds the storages of
// testdata/state.pth, data/0 to data/25.
func FuzzPickle(f *testing.F) {
	storages := map[string]string{}
	for _, p := range []string{"testdata/state.pth", "testdata/state_proto4.pth"} {
		zr, err := zip.OpenReader(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, zf := range zr.File {
			rc, err := zf.Open()
			if err != nil {
				f.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			if err != nil {
				f.Fatal(err)
			}
			_, name, _ := strings.Cut(zf.Name, "/")
			switch {
			case name == "data.pkl":
				f.Add(b)
			case strings.HasPrefix(name, "data/"):
				storages[name] = string(b)
			}
		}
		zr.Close()
	}
	f.Add([]byte(state(bu("w"), rebuild(pid("FloatStorage", "0", k(30)), k(1), tup(k(3), k(2)), tup(k(1), k(5))),
		bu("v"), rebuild(pid("HalfStorage", "6", k(12)), k(1), tup(k(3)), tup(k(4))))))
	f.Add([]byte("\x80\x04" + bu("os") + "\x94" + bu("system") + "\x9400h\x00h\x01\x93."))
	f.Fuzz(func(t *testing.T, pkl []byte) {
		checkRead(t, zipFile(t, string(pkl), storages))
	})
}

// checkRead reads data and, if Read accepts it, every tensor, checking
// them against Info, and a Write and Read round trip.
func checkRead(t *testing.T, data []byte) {
	file, err := Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return
	}
	var entries []Entry
	for _, name := range file.Names() {
		info, ok := file.Info(name)
		if !ok {
			t.Fatalf("Names lists %q but Info does not find it", name)
		}
		numel := int64(1)
		for _, d := range info.Shape {
			numel *= int64(d)
		}
		if numel > max(info.StorageLen, MaxViewElements) {
			t.Fatalf("%s: %d elements from a storage of %d", name, numel, info.StorageLen)
		}
		e, err := file.Entry(name)
		if err != nil {
			t.Fatalf("%s: Read accepted the file but Entry fails: %v", name, err)
		}
		if int64(len(e.Data)) != numel*int64(info.Dtype.Size()) {
			t.Fatalf("%s: %d bytes for %d elements of %s", name, len(e.Data), numel, info.Dtype)
		}
		if isFloat(info.Dtype) {
			x, err := file.Tensor(name)
			if err != nil || int64(x.Len()) != numel {
				t.Fatalf("%s: Tensor: %v", name, err)
			}
		} else {
			v, err := file.Int64(name)
			if err != nil || int64(len(v.Data)) != numel {
				t.Fatalf("%s: Int64: %v", name, err)
			}
		}
		entries = append(entries, e)
	}
	var out bytes.Buffer
	if err := Write(&out, entries); err != nil {
		return // names that Write refuses, such as invalid UTF-8
	}
	again, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatalf("re-reading a written file: %v", err)
	}
	if len(again.Names()) != len(entries) {
		t.Fatalf("round trip kept %d of %d tensors", len(again.Names()), len(entries))
	}
	for _, e := range entries {
		got, err := again.Entry(e.Name)
		if err != nil || got.Dtype != e.Dtype || !bytes.Equal(got.Data, e.Data) {
			t.Fatalf("%s: round trip changed the tensor (%v)", e.Name, err)
		}
	}
}
