package safetensors

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/fastgo-ml/fastgo/tensor"
)

// FuzzRead checks that no input makes Read, Tensor, Int64 or Entry panic
// or allocate beyond what the input's size allows, and that every file it
// accepts survives a Write and Read round trip, and a WriteEntries and Read
// round trip byte for byte.
func FuzzRead(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.safetensors")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])   // truncated data
		f.Add(b[:16])         // truncated header
		bad := bytes.Clone(b) // header length off by one
		binary.LittleEndian.PutUint64(bad, binary.LittleEndian.Uint64(b)+1)
		f.Add(bad)
	}
	tensors, ints, meta := sample()
	delete(tensors, "big")
	var buf bytes.Buffer
	if err := Write(&buf, tensors, Ints(ints), Metadata(meta)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(file(`{"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}}`, 8))
	f.Add(file(`{"a":{"dtype":"BF16","shape":[],"data_offsets":[0,2]},"b":{"dtype":"I8","shape":[2],"data_offsets":[2,4]}}`, 4))
	f.Add(file(`{"a":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]}}`, 8))
	f.Add(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`, 8))
	f.Add(file(`{"__metadata__":{"a":1}}`, 0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'})

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		floats := map[string]*tensor.Tensor{}
		ints := map[string]Int64Tensor{}
		var entries []Entry
		for _, name := range file.Names() {
			e, err := file.Entry(name)
			if err != nil {
				t.Fatalf("%s: Entry of an accepted file: %v", name, err)
			}
			entries = append(entries, e)
			info, ok := file.Info(name)
			if !ok {
				t.Fatalf("Names lists %q but Info does not find it", name)
			}
			if x, err := file.Tensor(name); err == nil {
				if int64(x.Len())*int64(info.Dtype.Size()) != info.End-info.Begin {
					t.Fatalf("%s: %d elements from %d bytes of %s", name, x.Len(), info.End-info.Begin, info.Dtype)
				}
				if info.Dtype == F32 {
					floats[name] = x
				}
			}
			if x, err := file.Int64(name); err == nil && info.Dtype == I64 {
				ints[name] = x
			}
		}
		checkEntriesRoundTrip(t, file, entries)
		// Entries Save can write survive a round trip.
		var out bytes.Buffer
		if err := Write(&out, floats, Ints(ints), Metadata(file.Metadata())); err != nil {
			return // names that Write rejects, such as invalid UTF-8
		}
		again, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("re-reading a written file: %v", err)
		}
		if got, want := len(again.Names()), len(floats)+len(ints); got != want {
			t.Fatalf("round trip kept %d of %d entries", got, want)
		}
	})
}

// checkEntriesRoundTrip writes a file's raw entries and reads them back.
func checkEntriesRoundTrip(t *testing.T, file *File, entries []Entry) {
	var out bytes.Buffer
	if err := WriteEntries(&out, entries, Metadata(file.Metadata())); err != nil {
		return // names that WriteEntries rejects, such as invalid UTF-8
	}
	again, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatalf("re-reading written entries: %v", err)
	}
	for _, e := range entries {
		got, err := again.Entry(e.Name)
		if err != nil || got.Dtype != e.Dtype || !bytes.Equal(got.Data, e.Data) {
			t.Fatalf("%s: entry changed in a round trip: %v", e.Name, err)
		}
	}
}
