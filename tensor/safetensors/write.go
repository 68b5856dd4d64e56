package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/internal/atomicfile"

	"github.com/fastgo-ml/fastgo/tensor"
)

// entry is one tensor to write: float32 data, int64 data or raw bytes.
type entry struct {
	name   string
	dtype  Dtype
	shape  []int
	floats []float32
	ints   []int64
	raw    []byte
}

// nbytes returns the size of the entry's data.
func (e *entry) nbytes() int64 {
	switch {
	case e.raw != nil:
		return int64(len(e.raw))
	case e.dtype == I64:
		return 8 * int64(len(e.ints))
	}
	return 4 * int64(len(e.floats))
}

// Entry is one tensor in its own dtype: its name, element type, shape and
// elements, row-major and little-endian, as the file holds them. File.Entry
// reads one and WriteEntries and SaveEntries write them, byte for byte, so
// that a tensor of any dtype (F64, F16, U16...) is copied exactly. Package
// pth uses the same type (pth.Entry), so that the entries of one format
// write unchanged to the other.
type Entry struct {
	// Name is the tensor's name.
	Name string
	// Dtype is the element type.
	Dtype Dtype
	// Shape is the tensor's shape; nil or empty for a scalar.
	Shape []int
	// Data holds the elements, Dtype.Size() bytes each.
	Data []byte
}

// Check reports whether e can be written: a known dtype, a shape without
// negative dimensions whose byte size does not overflow, and exactly that
// many bytes of Data. The error names the tensor.
func (e Entry) Check() error {
	size := e.Dtype.Size()
	if size == 0 {
		return fmt.Errorf("tensor %q: unknown dtype %q", e.Name, e.Dtype)
	}
	n := uint64(size)
	for _, d := range e.Shape {
		if d < 0 {
			return fmt.Errorf("tensor %q: negative dimension in shape %v", e.Name, e.Shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 {
			return fmt.Errorf("tensor %q: shape %v overflows", e.Name, e.Shape)
		}
		n = lo
	}
	if n != uint64(len(e.Data)) {
		return fmt.Errorf("tensor %q: %d bytes of data for shape %v of %s (%d bytes)", e.Name, len(e.Data), e.Shape, e.Dtype, n)
	}
	return nil
}

// plan validates what Save and Write are given and returns the entries in
// file order and the padded header.
func plan(tensors map[string]*tensor.Tensor, ints map[string]Int64Tensor, meta map[string]string) ([]entry, []byte, error) {
	entries := make([]entry, 0, len(tensors)+len(ints))
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
	return layout(entries, meta)
}

// checkName refuses a name that a tensor may not have.
func checkName(name string) error {
	switch {
	case name == metadataKey:
		return fmt.Errorf("safetensors: tensor name %q is reserved", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", name)
	}
	return nil
}

// planEntries validates what SaveEntries and WriteEntries are given and
// returns the entries in file order and the padded header.
func planEntries(raw []Entry, meta map[string]string) ([]entry, []byte, error) {
	entries := make([]entry, 0, len(raw))
	seen := make(map[string]bool, len(raw))
	for _, e := range raw {
		if err := checkName(e.Name); err != nil {
			return nil, nil, err
		}
		if seen[e.Name] {
			return nil, nil, fmt.Errorf("safetensors: two tensors are named %q", e.Name)
		}
		seen[e.Name] = true
		if err := e.Check(); err != nil {
			return nil, nil, fmt.Errorf("safetensors: %w", err)
		}
		data := e.Data
		if data == nil {
			data = []byte{}
		}
		entries = append(entries, entry{name: e.Name, dtype: e.Dtype, shape: e.Shape, raw: data})
	}
	return layout(entries, meta)
}

// layout checks meta, orders the entries as the file holds them and
// returns them with the padded header.
func layout(entries []entry, meta map[string]string) ([]entry, []byte, error) {
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

// Option is an option of Write, Save, WriteEntries and SaveEntries: Ints
// or Metadata.
type Option func(*writeOptions)

// writeOptions collects the options of a write.
type writeOptions struct {
	ints map[string]Int64Tensor
	meta map[string]string
}

// Ints adds integer tensors, written as I64 (Write and Save only: entries
// carry their own dtypes). Names must be distinct from the float tensors'.
func Ints(ints map[string]Int64Tensor) Option {
	return func(o *writeOptions) { o.ints = ints }
}

// Metadata sets the file's "__metadata__" string map.
func Metadata(meta map[string]string) Option {
	return func(o *writeOptions) { o.meta = meta }
}

// applyOptions collects opts; op names the call for the panic a misplaced
// option gets.
func applyOptions(op string, entries bool, opts []Option) writeOptions {
	var o writeOptions
	for _, f := range opts {
		f(&o)
	}
	if entries && o.ints != nil {
		panic(fastgo.Errorf("safetensors.%s: Ints does not apply (entries carry their own dtypes)", op))
	}
	return o
}

// Write writes tensors (as F32) to w in the safetensors format, with the
// integer tensors of Ints (as I64) and the Metadata (as "__metadata__").
// Names must be distinct across tensors and ints, valid UTF-8 and not
// "__metadata__". The output is deterministic: I64 entries first, then F32
// entries, each sorted by name.
func Write(w io.Writer, tensors map[string]*tensor.Tensor, opts ...Option) error {
	o := applyOptions("Write", false, opts)
	entries, hdr, err := plan(tensors, o.ints, o.meta)
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
		bw.Write(e.raw)
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

// WriteEntries writes entries, each in its own dtype and byte for byte, and
// the Metadata (as "__metadata__") to w in the safetensors format. Names must be
// distinct, valid UTF-8 and not "__metadata__", each dtype one of the
// format's, and each Data must hold exactly the shape's elements. The
// output is deterministic, ordered as Write orders it (8-byte types first,
// then by name), so that Write and WriteEntries give the same bytes for the
// same tensors.
func WriteEntries(w io.Writer, entries []Entry, opts ...Option) error {
	o := applyOptions("WriteEntries", true, opts)
	planned, hdr, err := planEntries(entries, o.meta)
	if err != nil {
		return err
	}
	return write(w, planned, hdr)
}

// SaveEntries writes entries and the Metadata to the safetensors file at path, as
// WriteEntries does, atomically (see Save).
func SaveEntries(path string, entries []Entry, opts ...Option) error {
	o := applyOptions("SaveEntries", true, opts)
	planned, hdr, err := planEntries(entries, o.meta)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return write(w, planned, hdr) }); err != nil {
		return fmt.Errorf("safetensors: saving %s: %w", path, err)
	}
	return nil
}

// Save writes tensors and the options' Ints and Metadata to the
// safetensors file at path, as
// Write does, atomically: the data goes to a temporary file in the same
// directory, which is synced and then renamed over path. If Save fails,
// the file previously at path (if any) is left unchanged and the temporary
// file is removed. A new file gets permissions 0644; an existing file's
// permissions are kept.
func Save(path string, tensors map[string]*tensor.Tensor, opts ...Option) (err error) {
	o := applyOptions("Save", false, opts)
	entries, hdr, err := plan(tensors, o.ints, o.meta)
	if err != nil {
		return err
	}
	err = atomicfile.Write(path, func(w io.Writer) error { return write(w, entries, hdr) })
	if err != nil {
		return fmt.Errorf("safetensors: saving %s: %w", path, err)
	}
	return nil
}
