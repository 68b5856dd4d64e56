// Package safetensors reads and writes the safetensors format, the file
// format in which PyTorch and Hugging Face tools exchange weights.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON header, then the data of every tensor, row-major and little-endian,
// packed back to back. The header maps each tensor name to
//
//	{"dtype": "F32", "shape": [64, 1, 3, 3], "data_offsets": [begin, end]}
//
// where the offsets count bytes from the start of the data section. The
// optional "__metadata__" entry maps strings to strings. Writers pad the
// header with spaces to a multiple of 8 bytes so that the data is aligned.
//
// # Element types
//
// Tensor returns a float32 tensor for F32 entries (bit for bit), and converts
// F16 and BF16 (exactly: every half and bfloat16 value is a float32 value),
// I32 (exactly for |x| <= 2^24, rounded to nearest above), and F64 (rounded to
// nearest float32, so precision beyond float32's 24 bits is lost and values
// beyond float32's range become ±Inf). Int64 returns int64 values for I64
// entries, such as BatchNorm's num_batches_tracked, and for the other integer
// types U64 (values above math.MaxInt64 are an error), I32, U32, I16, U16,
// I8, U8 and BOOL. The 8-bit float types F8_E4M3 and F8_E5M2 are recognised
// and described by Info, but converting them is an error. Save writes F32
// and I64 entries.
//
// Raw and Entry return any tensor's bytes as the file holds them, in its
// own dtype, and SaveEntries and WriteEntries write such entries byte for
// byte, so a tensor of any dtype (F64, U16, F8_E4M3...) is copied exactly.
// Entry is also package pth's entry type: a .pth file's tensors convert to
// safetensors and back without loss.
//
// # Errors
//
// A malformed file is reported as a *FormatError that names the file (when
// read by Load), the tensor and the header field at fault. Nothing in this
// package panics on bad input.
//
// # Security considerations
//
// The header is validated against the real size of the input before anything
// is allocated from it: a header length beyond the input or above
// MaxHeaderSize, a tensor whose shape and dtype need more bytes than its
// offsets span, offsets beyond the data section, overlapping tensors or gaps
// between them are all errors. The largest allocation that Read makes is the
// header itself (at most MaxHeaderSize bytes); Tensor and Int64 allocate the
// decoded tensor, whose size is bounded by the input's size: at most twice
// the entry's bytes for F16 and BF16, and eight times for 1-byte integers
// read by Int64. Load reads the whole file into memory first; Read over an
// os.File reads only what is asked for.
//
// # Writing
//
// Save writes a file atomically: to a temporary file in the destination
// directory, synced, then renamed over the destination, so that a failed or
// interrupted save leaves the previous file intact. Entries are written in a
// deterministic order (8-byte types first, then by name, as the reference
// Rust writer orders them), so the same tensors always give the same bytes.
package safetensors
