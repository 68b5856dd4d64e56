package pth

import (
	"fmt"
	"strings"

	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// Dtype is the element type of a tensor, spelled as safetensors spells it
// ("F32"), so that code handling both formats can switch on one set of
// constants.
type Dtype = safetensors.Dtype

// The element types this package reads, each named after its PyTorch
// storage class. Tensor reads F32, F16, BF16 and F64; Int64 reads I64, I32,
// I16, I8, U8 and BOOL; Write writes all of them.
const (
	F32  = safetensors.F32  // torch.float32, FloatStorage
	F16  = safetensors.F16  // torch.float16, HalfStorage
	BF16 = safetensors.BF16 // torch.bfloat16, BFloat16Storage
	F64  = safetensors.F64  // torch.float64, DoubleStorage
	I64  = safetensors.I64  // torch.int64, LongStorage
	I32  = safetensors.I32  // torch.int32, IntStorage
	I16  = safetensors.I16  // torch.int16, ShortStorage
	I8   = safetensors.I8   // torch.int8, CharStorage
	U8   = safetensors.U8   // torch.uint8, ByteStorage
	BOOL = safetensors.BOOL // torch.bool, BoolStorage
)

// storageClasses maps the names of PyTorch's typed storage classes (module
// torch) to their element types.
var storageClasses = map[string]Dtype{
	"FloatStorage":    F32,
	"HalfStorage":     F16,
	"BFloat16Storage": BF16,
	"DoubleStorage":   F64,
	"LongStorage":     I64,
	"IntStorage":      I32,
	"ShortStorage":    I16,
	"CharStorage":     I8,
	"ByteStorage":     U8,
	"BoolStorage":     BOOL,
}

// storageClassName returns the torch storage class that holds dtype d, or "".
func storageClassName(d Dtype) string {
	for name, dt := range storageClasses {
		if dt == d {
			return name
		}
	}
	return ""
}

// isFloat reports whether Tensor reads d.
func isFloat(d Dtype) bool { return d == F32 || d == F16 || d == BF16 || d == F64 }

// isInt reports whether Int64 reads d.
func isInt(d Dtype) bool {
	switch d {
	case I64, I32, I16, I8, U8, BOOL:
		return true
	}
	return false
}

// Limits on what Read accepts. They bound the memory and time that a
// hostile file can cost; the package documentation says how.
const (
	// MaxPickleSize is the largest pickle (the data.pkl record of the zip
	// format, or each pickle of the legacy format) Read accepts: 16 MiB.
	// PyTorch pickles about 100 bytes a tensor.
	MaxPickleSize = 16 << 20
	// MaxPickleMemory bounds the memory that unpickling may build: Read
	// estimates, before unpickling, an upper bound on what each opcode
	// allocates and refuses a pickle whose total exceeds 256 MiB. The
	// estimate of a state dict is about 5 KiB a tensor, so a file may
	// hold about 50,000 tensors.
	MaxPickleMemory = 256 << 20
	// MaxNesting is the deepest nesting of marks (open tuples, lists and
	// dicts under construction) and of dicts within dicts that Read accepts.
	MaxNesting = 32
	// MaxRank is the largest number of dimensions of a tensor.
	MaxRank = 32
	// MaxViewElements is the most elements a tensor may have beyond those
	// of its storage: a view with zero or overlapping strides (such as
	// expand's) has more elements than it covers, and reading it allocates
	// them all. A tensor may have as many elements as its storage holds, or
	// MaxViewElements (16 Mi), whichever is larger.
	MaxViewElements = 1 << 24
)

// Info describes one tensor of a file.
type Info struct {
	// Name is the tensor's key in the state dict; the keys of nested dicts
	// are joined with dots.
	Name string
	// Dtype is the element type of the tensor's storage.
	Dtype Dtype
	// Shape is the tensor's shape; empty for a scalar.
	Shape []int
	// Strides are the tensor's strides in elements of its storage, one per
	// dimension, as PyTorch's tensor.stride() reports them.
	Strides []int64
	// Offset is the index in its storage of the tensor's first element, as
	// tensor.storage_offset() reports it.
	Offset int64
	// Storage is the key of the storage the tensor views: the name of its
	// record under data/ in the zip format. Tensors that share a storage
	// have the same key.
	Storage string
	// StorageLen is the number of elements of that storage.
	StorageLen int64
}

// FormatError reports a malformed or refused file.
type FormatError struct {
	// File is the path of the file, or "" when it was read from a reader.
	File string
	// Tensor is the name of the entry at fault, or "" for the file as a
	// whole.
	Tensor string
	// Field is the part of the file at fault, such as "data.pkl",
	// "data/0", "version", "storage keys" or "zip".
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error formats the error as "pth: FILE: tensor "NAME": FIELD: MSG",
// leaving out empty parts.
func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("pth: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Tensor != "" {
		fmt.Fprintf(&b, "tensor %q: ", e.Tensor)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// formatErr returns a *FormatError for the given entry and field.
func formatErr(tensor, field, format string, args ...any) *FormatError {
	return &FormatError{Tensor: tensor, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ErrNotFound is wrapped by the error that Tensor, Int64 and Raw return for
// a name the file does not hold. It is safetensors.ErrNotFound, so that one
// errors.Is test serves both formats.
var ErrNotFound = safetensors.ErrNotFound
