package safetensors

import (
	"fmt"
	"strings"
)

// Dtype is the element type of a tensor, spelled as in the header ("F32").
type Dtype string

// The dtypes of the safetensors format.
const (
	BOOL   Dtype = "BOOL"
	U8     Dtype = "U8"
	I8     Dtype = "I8"
	F8E5M2 Dtype = "F8_E5M2"
	F8E4M3 Dtype = "F8_E4M3"
	I16    Dtype = "I16"
	U16    Dtype = "U16"
	F16    Dtype = "F16"
	BF16   Dtype = "BF16"
	I32    Dtype = "I32"
	U32    Dtype = "U32"
	F32    Dtype = "F32"
	F64    Dtype = "F64"
	I64    Dtype = "I64"
	U64    Dtype = "U64"
)

// Size returns the number of bytes of one element, or 0 for a string that is
// not a dtype of the format.
func (d Dtype) Size() int {
	switch d {
	case BOOL, U8, I8, F8E5M2, F8E4M3:
		return 1
	case I16, U16, F16, BF16:
		return 2
	case I32, U32, F32:
		return 4
	case F64, I64, U64:
		return 8
	}
	return 0
}

// MaxHeaderSize is the largest JSON header Read accepts, in bytes: 100 MB,
// the limit of the reference implementation.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header entry holding string metadata.
const metadataKey = "__metadata__"

// Info describes one tensor entry of a file.
type Info struct {
	// Name is the entry's key in the header.
	Name string
	// Dtype is the element type as the header spells it.
	Dtype Dtype
	// Shape is the tensor's shape; empty for a scalar.
	Shape []int
	// Begin and End are the entry's byte offsets within the data section
	// (End exclusive).
	Begin, End int64
}

// Int64Tensor is a row-major int64 array and its shape, the form in which
// integer tensors are read and written. A nil or empty Shape is a scalar,
// holding exactly one value.
type Int64Tensor struct {
	// Shape is the tensor's shape; nil or empty for a scalar.
	Shape []int
	// Data holds the values in row-major order.
	Data []int64
}

// FormatError reports a malformed safetensors file.
type FormatError struct {
	// File is the path of the file, or "" when it was read from a reader.
	File string
	// Tensor is the name of the entry at fault, or "" for the file as a whole.
	Tensor string
	// Field is the header field or part of the file at fault, such as
	// "header length", "header", "dtype", "shape", "data_offsets" or
	// "__metadata__".
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error formats the error as
// "safetensors: FILE: tensor "NAME": FIELD: MSG", leaving out empty parts.
func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("safetensors: ")
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
