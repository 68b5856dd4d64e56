package safetensors

// Tests of malformed and hostile files: each is refused with an error that
// names the file and the field, and none makes Load allocate what the file
// only claims.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// file assembles a safetensors file from a header and a data section of n
// zero bytes.
func file(header string, n int) []byte {
	b := make([]byte, 8, 8+len(header)+n)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, n)...)
}

func TestMalformed(t *testing.T) {
	withLen := func(n uint64, rest string) []byte {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint64(b, n)
		return append(b, rest...)
	}
	ok := `"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`
	cases := []struct {
		name          string
		data          []byte
		tensor, field string
	}{
		{"empty input", nil, "", "header length"},
		{"short input", []byte{1, 2, 3}, "", "header length"},
		{"zero header", withLen(0, ""), "", "header length"},
		{"header beyond file", withLen(100, "{}"), "", "header length"},
		{"absurd header", withLen(1<<62, "{}"), "", "header length"},
		{"not an object", file(`[1,2]   `, 0), "", "header"},
		{"invalid JSON", file(`{"a":`, 0), "", "header"},
		{"trailing garbage", file(`{}x`, 0), "", "header"},
		{"entry not an object", file(`{"a":3}`, 0), "a", "header"},
		{"missing dtype", file(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, 8), "a", "dtype"},
		{"dtype not a string", file(`{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}`, 8), "a", "dtype"},
		{"unknown dtype", file(`{"a":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}}`, 8), "a", "dtype"},
		{"missing shape", file(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, 8), "a", "shape"},
		{"null shape", file(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,8]}}`, 8), "a", "shape"},
		{"negative shape", file(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, 8), "a", "shape"},
		{"fractional shape", file(`{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, 8), "a", "shape"},
		{"shape beyond int64", file(`{"a":{"dtype":"F32","shape":[1e30],"data_offsets":[0,8]}}`, 8), "a", "shape"},
		{"huge shape", file(`{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}}`, 8), "a", "shape"},
		{"overflowing shape", file(`{"a":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}`, 0), "a", "shape"},
		{"shape beyond data", file(`{"a":{"dtype":"F32","shape":[1000000],"data_offsets":[0,8]}}`, 8), "a", "shape"},
		{"missing offsets", file(`{"a":{"dtype":"F32","shape":[2]}}`, 8), "a", "data_offsets"},
		{"one offset", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}`, 8), "a", "data_offsets"},
		{"negative offset", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, 8), "a", "data_offsets"},
		{"reversed offsets", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, 8), "a", "data_offsets"},
		{"offsets beyond data", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, 8), "a", "data_offsets"},
		{"size mismatch", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 16), "a", "data_offsets"},
		{"overlap", file(`{`+ok+`,"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "b", "data_offsets"},
		{"gap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "a", "data_offsets"},
		{"trailing data", file(`{`+ok+`}`, 12), "", "data_offsets"},
		{"metadata not strings", file(`{"__metadata__":{"epoch":3},`+ok+`}`, 8), "", "__metadata__"},
		{"metadata not an object", file(`{"__metadata__":"x",`+ok+`}`, 8), "", "__metadata__"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.data), int64(len(c.data)))
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error = %v, want a *FormatError", err)
			}
			if fe.Tensor != c.tensor || fe.Field != c.field {
				t.Errorf("error %q names tensor %q field %q, want %q %q", err, fe.Tensor, fe.Field, c.tensor, c.field)
			}
		})
	}
}

func TestHeaderOverLimit(t *testing.T) {
	// The input is large enough for the header, but the header is above the
	// limit: rejected before the header is read.
	r := claimingReader{head: func() []byte { b := make([]byte, 8); binary.LittleEndian.PutUint64(b, MaxHeaderSize+1); return b }()}
	_, err := Read(r, 2*MaxHeaderSize)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Field != "header length" {
		t.Fatalf("error = %v, want a header length *FormatError", err)
	}
}

func TestLoadMalformedNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, file(`{"fc1.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}`, 16), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != path {
		t.Fatalf("Load error = %v, want a *FormatError for %s", err, path)
	}
	for _, want := range []string{path, `"fc1.weight"`, "data_offsets"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

// claimingReader reports a size but holds only its first bytes: a header
// that claims a huge tensor must be rejected from the size alone.
type claimingReader struct{ head []byte }

func TestNoHugeAllocation(t *testing.T) {
	huge := `{"a":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]}}`
	cases := []struct {
		name string
		data []byte
		size int64
	}{
		{"header length 2^60", func() []byte { b := make([]byte, 16); binary.LittleEndian.PutUint64(b, 1<<60); return b }(), 16},
		{"header length near the limit", func() []byte { b := make([]byte, 16); binary.LittleEndian.PutUint64(b, MaxHeaderSize); return b }(), 16},
		{"1 GiB tensor in a small file", file(huge, 64), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			size := c.size
			if size == 0 {
				size = int64(len(c.data))
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Read(bytes.NewReader(c.data), size)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("Read succeeded")
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
				t.Errorf("Read allocated %d bytes", d)
			}
		})
	}
	// A valid header over a reader whose data is unreadable: Read succeeds,
	// Tensor returns the read error.
	r := claimingReader{head: file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 0)}
	f, err := Read(r, int64(len(r.head))+8)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Tensor("a"); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("Tensor over a failing reader: %v", err)
	}
}

func (r claimingReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(r.head)) {
		return 0, fmt.Errorf("read at %d beyond the stored head", off)
	}
	n := copy(p, r.head[off:])
	if n < len(p) {
		return n, fmt.Errorf("short read at %d", off)
	}
	return n, nil
}
