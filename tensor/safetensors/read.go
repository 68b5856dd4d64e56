package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"sort"

	"github.com/fastgo-ml/fastgo/tensor"
)

// ErrNotFound is wrapped by the error that Tensor, Int64 and Info-based
// look-ups return for a name the file does not hold.
var ErrNotFound = errors.New("not found")

// File is a parsed, validated safetensors file. Its methods read tensor data
// on demand from the underlying input. A File is safe for concurrent use if
// its io.ReaderAt is (the one Load makes is).
type File struct {
	path      string // for errors; "" when read from a reader
	r         io.ReaderAt
	dataStart int64
	infos     map[string]Info
	names     []string
	meta      map[string]string
}

// Load reads the safetensors file at path into memory and parses it. A
// malformed file gives a *FormatError naming path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.File = path
			return nil, fe
		}
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	f.path = path
	return f, nil
}

// Read parses the safetensors data of size bytes held by r. It reads and
// validates the header only; tensor data is read from r when asked for, so r
// must stay readable while the File is used.
func Read(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, formatErr("", "header length", "input of %d bytes is shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if err := readFull(r, lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	switch {
	case n == 0:
		return nil, formatErr("", "header length", "header is empty")
	case n > uint64(size-8):
		return nil, formatErr("", "header length", "header of %d bytes exceeds the %d bytes that follow the length", n, size-8)
	case n > MaxHeaderSize:
		return nil, formatErr("", "header length", "header of %d bytes exceeds the limit of %d", n, MaxHeaderSize)
	}
	hdr := make([]byte, n)
	if err := readFull(r, hdr, 8); err != nil {
		return nil, fmt.Errorf("safetensors: reading header: %w", err)
	}
	f := &File{r: r, dataStart: 8 + int64(n)}
	if err := f.parseHeader(hdr, size-f.dataStart); err != nil {
		return nil, err
	}
	return f, nil
}

// readFull reads len(p) bytes at off, accepting io.EOF with a full read as
// io.ReaderAt allows.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// rawEntry is one tensor entry of the header before validation.
type rawEntry struct {
	Dtype   json.RawMessage `json:"dtype"`
	Shape   json.RawMessage `json:"shape"`
	Offsets json.RawMessage `json:"data_offsets"`
}

// parseHeader decodes and validates the JSON header against a data section
// of dataLen bytes.
func (f *File) parseHeader(hdr []byte, dataLen int64) error {
	if hdr[0] != '{' {
		return formatErr("", "header", "does not start with '{'")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return formatErr("", "header", "invalid JSON: %v", err)
	}
	if m, ok := raw[metadataKey]; ok {
		if err := json.Unmarshal(m, &f.meta); err != nil {
			return formatErr("", metadataKey, "not an object of strings: %v", err)
		}
		delete(raw, metadataKey)
	}
	f.infos = make(map[string]Info, len(raw))
	f.names = make([]string, 0, len(raw))
	for name, msg := range raw {
		info, err := parseEntry(name, msg, dataLen)
		if err != nil {
			return err
		}
		f.infos[name] = info
		f.names = append(f.names, name)
	}
	sort.Strings(f.names)

	// The entries must tile the data section exactly, as the reference
	// implementation requires: no overlap, no gap, no trailing bytes.
	order := append([]string(nil), f.names...)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := f.infos[order[i]], f.infos[order[j]]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	var end int64
	for _, name := range order {
		info := f.infos[name]
		switch {
		case info.Begin < end:
			return formatErr(name, "data_offsets", "[%d, %d] overlaps the previous tensor, which ends at %d", info.Begin, info.End, end)
		case info.Begin > end:
			return formatErr(name, "data_offsets", "[%d, %d] leaves a gap after the previous tensor, which ends at %d", info.Begin, info.End, end)
		}
		end = info.End
	}
	if end != dataLen {
		return formatErr("", "data_offsets", "tensors cover %d bytes of a %d-byte data section", end, dataLen)
	}
	return nil
}

// parseEntry decodes and validates one tensor entry.
func parseEntry(name string, msg json.RawMessage, dataLen int64) (Info, error) {
	// The keys are matched exactly, as the reference implementation does
	// (encoding/json alone would take "Dtype" or "data_Offsets" too), and
	// no other key is allowed.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(msg, &keys); err != nil {
		return Info{}, formatErr(name, "header", "entry is not an object: %v", err)
	}
	for k := range keys {
		if k != "dtype" && k != "shape" && k != "data_offsets" {
			return Info{}, formatErr(name, "header", "unknown key %q in the entry", truncate(json.RawMessage(k)))
		}
	}
	e := rawEntry{Dtype: keys["dtype"], Shape: keys["shape"], Offsets: keys["data_offsets"]}
	info := Info{Name: name}

	var dt string
	if e.Dtype == nil {
		return Info{}, formatErr(name, "dtype", "missing")
	}
	if err := json.Unmarshal(e.Dtype, &dt); err != nil {
		return Info{}, formatErr(name, "dtype", "not a string: %v", err)
	}
	info.Dtype = Dtype(dt)
	size := info.Dtype.Size()
	if size == 0 {
		return Info{}, formatErr(name, "dtype", "unknown dtype %q", dt)
	}

	var shape []int64
	if e.Shape == nil {
		return Info{}, formatErr(name, "shape", "missing")
	}
	if err := json.Unmarshal(e.Shape, &shape); err != nil || shape == nil {
		return Info{}, formatErr(name, "shape", "not an array of integers: %s", truncate(e.Shape))
	}
	elems := uint64(1)
	overflow := false
	for _, d := range shape {
		if d < 0 {
			return Info{}, formatErr(name, "shape", "negative dimension %d in %v", d, shape)
		}
		hi, lo := bits.Mul64(elems, uint64(d))
		overflow = overflow || hi != 0
		elems = lo
	}
	hi, nbytes := bits.Mul64(elems, uint64(size))
	if overflow || hi != 0 || nbytes > uint64(dataLen) {
		return Info{}, formatErr(name, "shape", "shape %v of %s needs more bytes than the %d-byte data section holds", shape, dt, dataLen)
	}
	info.Shape = make([]int, len(shape))
	for i, d := range shape {
		info.Shape[i] = int(d)
	}

	var offs []int64
	if e.Offsets == nil {
		return Info{}, formatErr(name, "data_offsets", "missing")
	}
	if err := json.Unmarshal(e.Offsets, &offs); err != nil || len(offs) != 2 {
		return Info{}, formatErr(name, "data_offsets", "not a pair of integers: %s", truncate(e.Offsets))
	}
	info.Begin, info.End = offs[0], offs[1]
	switch {
	case info.Begin < 0 || info.End < info.Begin:
		return Info{}, formatErr(name, "data_offsets", "invalid range [%d, %d]", info.Begin, info.End)
	case info.End > dataLen:
		return Info{}, formatErr(name, "data_offsets", "[%d, %d] ends beyond the %d-byte data section", info.Begin, info.End, dataLen)
	case uint64(info.End-info.Begin) != nbytes:
		return Info{}, formatErr(name, "data_offsets", "[%d, %d] spans %d bytes but shape %v of %s needs %d", info.Begin, info.End, info.End-info.Begin, shape, dt, nbytes)
	}
	return info, nil
}

// truncate returns msg as a string, shortened for an error message.
func truncate(msg json.RawMessage) string {
	const max = 64
	if len(msg) > max {
		return string(msg[:max]) + "..."
	}
	return string(msg)
}

// Names returns the names of the file's tensors, sorted.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Info returns the description of the named tensor, and whether it exists.
func (f *File) Info(name string) (Info, bool) {
	info, ok := f.infos[name]
	if ok {
		info.Shape = append([]int{}, info.Shape...)
	}
	return info, ok
}

// Metadata returns a copy of the file's "__metadata__" strings (empty, not
// nil, when the file has none).
func (f *File) Metadata() map[string]string {
	m := make(map[string]string, len(f.meta))
	for k, v := range f.meta {
		m[k] = v
	}
	return m
}

// lookup returns the entry for name, or an error wrapping ErrNotFound.
func (f *File) lookup(name string) (Info, error) {
	info, ok := f.infos[name]
	if !ok {
		return Info{}, f.errorf(name, "%w", ErrNotFound)
	}
	return info, nil
}

// errorf returns an error naming the file and the tensor.
func (f *File) errorf(name, format string, args ...any) error {
	prefix := "safetensors: "
	if f.path != "" {
		prefix += f.path + ": "
	}
	return fmt.Errorf(prefix+"tensor %q: "+format, append([]any{name}, args...)...)
}

// chunkBytes is the size of the buffer through which tensor data is read.
const chunkBytes = 64 << 10

// each reads the entry's data in chunks of whole elements and calls fn with
// the index of the chunk's first element and its bytes.
func (f *File) each(info Info, fn func(first int, b []byte) error) error {
	size := int64(info.Dtype.Size())
	total := info.End - info.Begin
	buf := make([]byte, min(total, chunkBytes))
	for off := int64(0); off < total; {
		n := min(total-off, int64(len(buf)))
		b := buf[:n]
		if err := readFull(f.r, b, f.dataStart+info.Begin+off); err != nil {
			return f.errorf(info.Name, "reading data: %w", err)
		}
		if err := fn(int(off/size), b); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// Raw returns the named tensor's elements as the file holds them, in its
// own dtype (Info gives it), row-major and little-endian: any dtype, byte
// for byte.
func (f *File) Raw(name string) ([]byte, error) {
	info, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	b := make([]byte, info.End-info.Begin)
	if err := readFull(f.r, b, f.dataStart+info.Begin); err != nil {
		return nil, f.errorf(name, "reading data: %w", err)
	}
	return b, nil
}

// Entry returns the named tensor as an Entry in its own dtype (see Raw),
// for writing it unchanged with SaveEntries or pth.Save.
func (f *File) Entry(name string) (Entry, error) {
	info, err := f.lookup(name)
	if err != nil {
		return Entry{}, err
	}
	b, err := f.Raw(name)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Name: name, Dtype: info.Dtype, Shape: append([]int{}, info.Shape...), Data: b}, nil
}

// Tensor reads the named tensor as float32. F32 data is read bit for bit;
// F16, BF16, I32 and F64 are converted as the package documentation says.
func (f *File) Tensor(name string) (*tensor.Tensor, error) {
	info, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	var conv func(dst []float32, b []byte)
	switch info.Dtype {
	case F32:
		conv = func(dst []float32, b []byte) {
			for i := range dst {
				dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		}
	case F64:
		conv = func(dst []float32, b []byte) {
			for i := range dst {
				dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
			}
		}
	case F16:
		conv = func(dst []float32, b []byte) {
			for i := range dst {
				dst[i] = halfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
			}
		}
	case BF16:
		conv = func(dst []float32, b []byte) {
			for i := range dst {
				dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
			}
		}
	case I32:
		conv = func(dst []float32, b []byte) {
			for i := range dst {
				dst[i] = float32(int32(binary.LittleEndian.Uint32(b[4*i:])))
			}
		}
	default:
		return nil, f.errorf(name, "dtype %s cannot be read as float32", info.Dtype)
	}
	out := tensor.Zeros(info.Shape...)
	data := out.Data()
	size := info.Dtype.Size()
	err = f.each(info, func(first int, b []byte) error {
		conv(data[first:first+len(b)/size], b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Int64 reads the named integer tensor as int64 values. It accepts I64, U64
// (each value must fit in int64), I32, U32, I16, U16, I8, U8 and BOOL.
func (f *File) Int64(name string) (Int64Tensor, error) {
	info, err := f.lookup(name)
	if err != nil {
		return Int64Tensor{}, err
	}
	var conv func(dst []int64, b []byte) error
	switch info.Dtype {
	case I64:
		conv = func(dst []int64, b []byte) error {
			for i := range dst {
				dst[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
			}
			return nil
		}
	case U64:
		conv = func(dst []int64, b []byte) error {
			for i := range dst {
				v := binary.LittleEndian.Uint64(b[8*i:])
				if v > math.MaxInt64 {
					return f.errorf(name, "U64 value %d does not fit in int64", v)
				}
				dst[i] = int64(v)
			}
			return nil
		}
	case I32:
		conv = func(dst []int64, b []byte) error {
			for i := range dst {
				dst[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
			}
			return nil
		}
	case U32:
		conv = func(dst []int64, b []byte) error {
			for i := range dst {
				dst[i] = int64(binary.LittleEndian.Uint32(b[4*i:]))
			}
			return nil
		}
	case I16:
		conv = func(dst []int64, b []byte) error {
			for i := range dst {
				dst[i] = int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
			}
			return nil
		}
	case U16:
		conv = func(dst []int64, b []byte) error {
			for i := range dst {
				dst[i] = int64(binary.LittleEndian.Uint16(b[2*i:]))
			}
			return nil
		}
	case I8:
		conv = func(dst []int64, b []byte) error {
			for i := range dst {
				dst[i] = int64(int8(b[i]))
			}
			return nil
		}
	case U8:
		conv = func(dst []int64, b []byte) error {
			for i := range dst {
				dst[i] = int64(b[i])
			}
			return nil
		}
	case BOOL:
		conv = func(dst []int64, b []byte) error {
			for i := range dst {
				if b[i] != 0 {
					dst[i] = 1
				} else {
					dst[i] = 0
				}
			}
			return nil
		}
	default:
		return Int64Tensor{}, f.errorf(name, "dtype %s cannot be read as int64", info.Dtype)
	}
	n := 1
	for _, d := range info.Shape {
		n *= d
	}
	out := Int64Tensor{Shape: append([]int{}, info.Shape...), Data: make([]int64, n)}
	size := info.Dtype.Size()
	err = f.each(info, func(first int, b []byte) error {
		return conv(out.Data[first:first+len(b)/size], b)
	})
	if err != nil {
		return Int64Tensor{}, err
	}
	return out, nil
}

// halfToFloat32 converts an IEEE 754 binary16 value to float32, exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // Inf or NaN: keep the payload.
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0: // zero or subnormal: mant * 2^-24, exact in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}
