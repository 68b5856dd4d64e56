package pth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// File is a parsed, validated PyTorch state dict file. Its methods read
// tensor data on demand from the underlying input. A File is safe for
// concurrent use if its io.ReaderAt is (the one Load makes is).
type File struct {
	path    string // for errors; "" when read from a reader
	r       io.ReaderAt
	names   []string
	tensors map[string]*tensorRef
	skipped []string
	legacy  bool
}

// Load reads the torch.save file at path into memory and parses it, as
// Read does. A malformed or refused file gives a *FormatError naming path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pth: %w", err)
	}
	f, err := Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.File = path
			return nil, fe
		}
		return nil, fmt.Errorf("pth: %s: %w", path, err)
	}
	f.path = path
	return f, nil
}

// Read parses the torch.save data of size bytes held by r: a zip archive
// (PyTorch 1.6 and later) or the legacy format (_use_new_zipfile_serialization
// =False, and PyTorch before 1.6), told apart by their first bytes. It reads
// and validates the pickle and the layout of every storage; tensor data is
// read from r when asked for, so r must stay readable while the File is
// used.
func Read(r io.ReaderAt, size int64) (*File, error) {
	var head [4]byte
	n, _ := r.ReadAt(head[:], 0)
	switch {
	case isZip(head[:n]):
		return readZip(r, size)
	case n >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5:
		return readLegacy(r, size)
	}
	var tar [5]byte
	if n, _ := r.ReadAt(tar[:], 257); n == 5 && string(tar[:]) == "ustar" {
		return nil, formatErr("", "", "a tar archive: PyTorch's format before 0.4 is not supported")
	}
	return nil, formatErr("", "", "not a torch.save file (it starts with % x, neither a zip archive nor a pickle)", head[:n])
}

// legacyMagicBytes is the LONG1 opcode and the little-endian bytes of the
// legacy format's magic number.
const legacyMagicBytes = "\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"

// IsTorchSave reports whether prefix, the first bytes of a file (at least
// 23 of them for the legacy format), start as a torch.save file does: a zip
// archive, or the pickle of the legacy format's magic number. It tells
// torch.save files from safetensors files, whose first 8 bytes are a
// header length.
func IsTorchSave(prefix []byte) bool {
	if isZip(prefix) {
		return true
	}
	if len(prefix) < 2 || prefix[0] != 0x80 || prefix[1] < 2 || prefix[1] > 5 {
		return false
	}
	rest := prefix[2:]
	if len(rest) > 0 && rest[0] == 0x95 { // FRAME, from protocol 4 on
		if len(rest) < 9 {
			return false
		}
		rest = rest[9:]
	}
	return bytes.HasPrefix(rest, []byte(legacyMagicBytes))
}

// newFile collects the tensors of the unpickled state dict v, from the
// pickle named field.
func newFile(r io.ReaderAt, v any, field string) (*File, error) {
	entries, skipped, err := flatten(v)
	if err != nil {
		return nil, formatErr("", field, "%v", err)
	}
	f := &File{r: r, tensors: make(map[string]*tensorRef, len(entries)), skipped: skipped}
	for _, e := range entries {
		f.names = append(f.names, e.name)
		f.tensors[e.name] = e.t
	}
	return f, nil
}

// Names returns the names of the file's tensors in the state dict's order.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Skipped returns the names of the state dict's entries that are neither
// tensors nor dicts (numbers, strings, lists, None), which the File does
// not hold.
func (f *File) Skipped() []string { return append([]string(nil), f.skipped...) }

// Info returns the description of the named tensor, and whether it exists.
func (f *File) Info(name string) (Info, bool) {
	t, ok := f.tensors[name]
	if !ok {
		return Info{}, false
	}
	return Info{
		Name:       name,
		Dtype:      t.st.dtype,
		Shape:      append([]int{}, t.shape...),
		Strides:    append([]int64{}, t.strides...),
		Offset:     t.offset,
		Storage:    t.st.key,
		StorageLen: t.st.numel,
	}, true
}

// lookup returns the named tensor, or an error wrapping ErrNotFound.
func (f *File) lookup(name string) (*tensorRef, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, f.errorf(name, "%w", ErrNotFound)
	}
	return t, nil
}

// errorf returns an error naming the file and the tensor.
func (f *File) errorf(name, format string, args ...any) error {
	prefix := "pth: "
	if f.path != "" {
		prefix += f.path + ": "
	}
	return fmt.Errorf(prefix+"tensor %q: "+format, append([]any{name}, args...)...)
}

// Raw returns the named tensor's elements in row-major order, in the
// dtype of its storage, little-endian: the bytes of PyTorch's
// tensor.contiguous(), whatever the tensor's strides and offset.
func (f *File) Raw(name string) ([]byte, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.raw(name, t)
}

// raw reads and gathers the elements of t.
func (f *File) raw(name string, t *tensorRef) ([]byte, error) {
	es := int64(t.st.dtype.Size())
	if t.numel == 0 {
		return []byte{}, nil
	}
	// The view's elements lie between its first and its last one (strides
	// are non-negative); rebuildTensor checked that they lie in the storage
	// and the storage's layout was checked against the input's size.
	_, last, _ := extent(t.offset, int64s(t.shape), t.strides)
	span := int64(last) - t.offset + 1
	buf := make([]byte, span*es)
	if err := readFull(f.r, buf, t.st.off+t.offset*es); err != nil {
		return nil, f.errorf(name, "reading storage %q: %w", t.st.key, err)
	}
	if contiguous(t.shape, t.strides) {
		return buf, nil
	}
	out := make([]byte, t.numel*es)
	gather(out, buf, int(es), t.shape, t.strides)
	return out, nil
}

// contiguous reports whether strides are the row-major strides of shape
// (those of dimensions of size 1 do not matter).
func contiguous(shape []int, strides []int64) bool {
	want := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && strides[i] != want {
			return false
		}
		want *= int64(shape[i])
	}
	return true
}

// int64s converts a shape to int64s.
func int64s(shape []int) []int64 {
	out := make([]int64, len(shape))
	for i, d := range shape {
		out[i] = int64(d)
	}
	return out
}

// gather copies the elements of the strided view of src (whose first
// element is at src[0]) to dst in row-major order. Every dimension is at
// least 1.
func gather(dst, src []byte, es int, shape []int, strides []int64) {
	shape, strides = collapse(shape, strides)
	rank := len(shape)
	inner, innerStride := shape[rank-1], int(strides[rank-1])
	idx := make([]int, rank-1)
	base, pos := 0, 0
	for {
		switch {
		case innerStride == 1:
			pos += copy(dst[pos:pos+inner*es], src[base*es:])
		case es == 4:
			for j := 0; j < inner; j++ {
				o := (base + j*innerStride) * 4
				binary.LittleEndian.PutUint32(dst[pos:], binary.LittleEndian.Uint32(src[o:]))
				pos += 4
			}
		default:
			for j := 0; j < inner; j++ {
				o := (base + j*innerStride) * es
				pos += copy(dst[pos:pos+es], src[o:o+es])
			}
		}
		k := rank - 2
		for ; k >= 0; k-- {
			idx[k]++
			base += int(strides[k])
			if idx[k] < shape[k] {
				break
			}
			base -= int(strides[k]) * shape[k]
			idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

// collapse returns the view with dimensions of size 1 dropped and each
// dimension merged into the one before it where they step through memory
// as one (stride[i] == stride[i+1]*shape[i+1]), so that gather's inner runs
// are as long as they can be. The result has at least one dimension.
func collapse(shape []int, strides []int64) ([]int, []int64) {
	outShape, outStrides := []int{1}, []int64{1}
	for i, d := range shape {
		if d == 1 {
			continue
		}
		last := len(outShape) - 1
		switch {
		case outShape[last] == 1:
			outShape[last], outStrides[last] = d, strides[i]
		case outStrides[last] == strides[i]*int64(d):
			outShape[last] *= d
			outStrides[last] = strides[i]
		default:
			outShape = append(outShape, d)
			outStrides = append(outStrides, strides[i])
		}
	}
	return outShape, outStrides
}

// Tensor reads the named tensor as float32, contiguous: F32 data bit for
// bit, F16 and BF16 exactly, F64 rounded to nearest (Info reports the
// dtype of the file). Integer tensors are read by Int64.
func (f *File) Tensor(name string) (*tensor.Tensor, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if !isFloat(t.st.dtype) {
		return nil, f.errorf(name, "dtype %s cannot be read as float32", t.st.dtype)
	}
	b, err := f.raw(name, t)
	if err != nil {
		return nil, err
	}
	out := tensor.Zeros(t.shape...)
	decodeFloats(out.Data(), b, t.st.dtype)
	return out, nil
}

// Int64 reads the named integer tensor (I64, I32, I16, I8, U8 or BOOL) as
// int64 values, contiguous, such as BatchNorm's num_batches_tracked.
func (f *File) Int64(name string) (safetensors.Int64Tensor, error) {
	t, err := f.lookup(name)
	if err != nil {
		return safetensors.Int64Tensor{}, err
	}
	if !isInt(t.st.dtype) {
		return safetensors.Int64Tensor{}, f.errorf(name, "dtype %s cannot be read as int64", t.st.dtype)
	}
	b, err := f.raw(name, t)
	if err != nil {
		return safetensors.Int64Tensor{}, err
	}
	out := safetensors.Int64Tensor{Shape: append([]int{}, t.shape...), Data: make([]int64, t.numel)}
	decodeInts(out.Data, b, t.st.dtype)
	return out, nil
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
