package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/fastgo-ml/fastgo/internal/atomicfile"

	"github.com/fastgo-ml/fastgo/tensor"
)

// entry is one tensor to write: float32 data or int64 data.
type entry struct {
	name   string
	dtype  Dtype
	shape  []int
	floats []float32
	ints   []int64
}

// nbytes returns the size of the entry's data.
func (e *entry) nbytes() int64 {
	if e.dtype == I64 {
		return 8 * int64(len(e.ints))
	}
	return 4 * int64(len(e.floats))
}

// plan validates what Save and Write are given and returns the entries in
// file order and the padded header.
func plan(tensors map[string]*tensor.Tensor, ints map[string]Int64Tensor, meta map[string]string) ([]entry, []byte, error) {
	entries := make([]entry, 0, len(tensors)+len(ints))
	checkName := func(name string) error {
		switch {
		case name == metadataKey:
			return fmt.Errorf("safetensors: tensor name %q is reserved", name)
		case !utf8.ValidString(name):
			return fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", name)
		}
		return nil
	}
	for name, v := range ints {
		if err := checkName(name); err != nil {
			return nil, nil, err
		}
		n := 1
		for _, d := range v.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", name, v.Shape)
			}
			n *= d
		}
		if n != len(v.Data) {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %d values do not fill shape %v", name, len(v.Data), v.Shape)
		}
		entries = append(entries, entry{name: name, dtype: I64, shape: v.Shape, ints: v.Data})
	}
	for name, t := range tensors {
		if err := checkName(name); err != nil {
			return nil, nil, err
		}
		if t == nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q is nil", name)
		}
		if _, dup := ints[name]; dup {
			return nil, nil, fmt.Errorf("safetensors: name %q is both a float and an integer tensor", name)
		}
		entries = append(entries, entry{name: name, dtype: F32, shape: t.Shape(), floats: t.Data()})
	}
	for k, v := range meta {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("safetensors: metadata %q: not valid UTF-8", k)
		}
	}
	// 8-byte elements first so that every entry stays aligned, then by name.
	sort.Slice(entries, func(i, j int) bool {
		si, sj := entries[i].dtype.Size(), entries[j].dtype.Size()
		if si != sj {
			return si > sj
		}
		return entries[i].name < entries[j].name
	})

	hdr := []byte{'{'}
	if len(meta) > 0 {
		keys := make([]string, 0, len(meta))
		for k := range meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		hdr = append(hdr, `"__metadata__":{`...)
		for i, k := range keys {
			if i > 0 {
				hdr = append(hdr, ',')
			}
			hdr = appendQuoted(hdr, k)
			hdr = append(hdr, ':')
			hdr = appendQuoted(hdr, meta[k])
		}
		hdr = append(hdr, '}')
	}
	var off int64
	for i, e := range entries {
		if i > 0 || len(meta) > 0 {
			hdr = append(hdr, ',')
		}
		hdr = appendQuoted(hdr, e.name)
		hdr = append(hdr, `:{"dtype":"`...)
		hdr = append(hdr, e.dtype...)
		hdr = append(hdr, `","shape":[`...)
		for j, d := range e.shape {
			if j > 0 {
				hdr = append(hdr, ',')
			}
			hdr = strconv.AppendInt(hdr, int64(d), 10)
		}
		hdr = append(hdr, `],"data_offsets":[`...)
		hdr = strconv.AppendInt(hdr, off, 10)
		off += e.nbytes()
		hdr = append(hdr, ',')
		hdr = strconv.AppendInt(hdr, off, 10)
		hdr = append(hdr, "]}"...)
	}
	hdr = append(hdr, '}')
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	return entries, hdr, nil
}

// appendQuoted appends s as a JSON string.
func appendQuoted(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil { // unreachable: s is valid UTF-8
		panic(err)
	}
	return append(b, q...)
}

// Write writes tensors (as F32), ints (as I64) and meta (as "__metadata__")
// to w in the safetensors format. Names must be distinct across tensors and
// ints, valid UTF-8 and not "__metadata__". The output is deterministic:
// I64 entries first, then F32 entries, each sorted by name.
func Write(w io.Writer, tensors map[string]*tensor.Tensor, ints map[string]Int64Tensor, meta map[string]string) error {
	entries, hdr, err := plan(tensors, ints, meta)
	if err != nil {
		return err
	}
	return write(w, entries, hdr)
}

// write writes a planned file.
func write(w io.Writer, entries []entry, hdr []byte) error {
	bw := bufio.NewWriterSize(w, chunkBytes)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	bw.Write(lenBuf[:])
	bw.Write(hdr)
	var b [8]byte
	for _, e := range entries {
		for _, v := range e.ints {
			binary.LittleEndian.PutUint64(b[:], uint64(v))
			bw.Write(b[:8])
		}
		for _, v := range e.floats {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			bw.Write(b[:4])
		}
	}
	// bufio.Writer keeps the first error; Flush reports it.
	return bw.Flush()
}

// Save writes tensors, ints and meta to the safetensors file at path, as
// Write does, atomically: the data goes to a temporary file in the same
// directory, which is synced and then renamed over path. If Save fails,
// the file previously at path (if any) is left unchanged and the temporary
// file is removed. A new file gets permissions 0644; an existing file's
// permissions are kept.
func Save(path string, tensors map[string]*tensor.Tensor, ints map[string]Int64Tensor, meta map[string]string) (err error) {
	entries, hdr, err := plan(tensors, ints, meta)
	if err != nil {
		return err
	}
	err = atomicfile.Write(path, func(w io.Writer) error { return write(w, entries, hdr) })
	if err != nil {
		return fmt.Errorf("safetensors: saving %s: %w", path, err)
	}
	return nil
}
