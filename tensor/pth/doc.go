// Package pth reads and writes PyTorch's own checkpoint files: the files
// that torch.save(model.state_dict(), "model.pth") writes, such as
// torchvision's pretrained weights. It runs no Python: the pickle inside the
// file is decoded by a restricted unpickler that builds only Go values.
//
// # Formats
//
// Since PyTorch 1.6, torch.save writes a zip archive whose records are in
// one folder (named after the file, or "archive"): data.pkl, the pickle of
// the state dict, in which each tensor is a call of
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) and
// each storage a persistent ID ('storage', torch.FloatStorage, key,
// location, numel); data/KEY, the raw little-endian elements of each
// storage; version; and, since PyTorch 2.1, byteorder. The legacy format
// (torch.save(..., _use_new_zipfile_serialization=False), and PyTorch
// before 1.6) is a sequence of pickles (a magic number, the protocol
// version 1001, system information, the state dict, the list of storage
// keys) followed by each storage as an 8-byte element count and its
// elements. Read tells the two apart by their first bytes.
//
// # Reading
//
// Load and Read return a *File, which lists the tensors in the state
// dict's order (Names) and describes each (Info: dtype, shape, strides,
// storage offset, storage key). Tensor, Int64, Raw and Entry read one
// tensor's data on demand. A tensor that views its storage with any
// strides and offset, or shares it with other tensors (transposed,
// sliced, expanded, tied weights), reads as the contiguous row-major
// elements that PyTorch's tensor.contiguous() holds.
//
// The state dict may be an OrderedDict or a dict; a dict nested in it (a
// checkpoint such as {"model": state_dict, "epoch": 3}) contributes its
// tensors with their keys joined by dots ("model.conv1.weight"). Entries
// that are neither tensors nor dicts (numbers, strings, lists, None) are
// left out and listed by Skipped.
//
// The File mirrors safetensors.File (Names, Info, Tensor, Int64, with
// safetensors' Dtype constants and Int64Tensor, and ErrNotFound the same
// error), so that code can read both formats alike; layers.ReadStateDict
// reads either.
//
// # Element types
//
// Tensor returns float32 for F32 (bit for bit), F16 and BF16 (exactly:
// every half and bfloat16 value is a float32 value) and F64 (rounded to
// nearest, so precision beyond float32's is lost and values beyond its
// range become ±Inf); Info reports the file's dtype. Int64 returns int64
// values for I64 (such as BatchNorm's num_batches_tracked), I32, I16, I8,
// U8 and BOOL. Raw and Entry return any tensor's elements in its own dtype,
// byte for byte. Storages of other types (complex, quantized) are refused.
//
// # Writing
//
// Write and Save write a state dict in the zip format, as torch.save does
// with its default pickle protocol 2: an OrderedDict of tensors, each with
// its own contiguous storage, records aligned to 64 bytes. PyTorch 1.13's
// torch.load reads the files back (the package's tests check it).
// Float32Entry converts float32 tensors to F32, F16, BF16 or F64 and
// Int64Entry makes I64 entries; Entry copies a tensor of a read file
// unchanged. Converting between .pth and .safetensors is exact in both
// directions for F32, F16, BF16 and I64 through float32 and int64: a F16 or
// BF16 value read as float32 by either package converts back to the same
// bits. For every other dtype (F64 above all, which float32 rounds), copy
// the raw entries instead: Entry is safetensors.Entry, so the entries of
// File.Entry write unchanged with safetensors.SaveEntries and those of
// safetensors.File.Entry with Save, byte for byte, for every dtype both
// formats have (F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL). This is
// what "fastgo convert" does.
//
// # Errors
//
// A malformed or refused file is reported as a *FormatError that names the
// file (when read by Load), the tensor and the part of the file at fault;
// a global outside the allowed set is named, as in
//
//	pth: model.pth: data.pkl: opcode 0x63 at byte 2: global "os.system" is not allowed
//
// Nothing in this package panics on bad input.
//
// # Security considerations
//
// A pickle is a program: Python's unpickler calls any function the file
// names, so torch.load of an untrusted file can run any code. This package
// runs none. Before the unpickler sees a pickle, every opcode is checked:
// only the opcodes a state dict uses are accepted (not INST, OBJ, NEWOBJ,
// the extension registry, bytes, sets or out-of-band buffers), every length
// is checked against the bytes present, and every global, whether named
// inline (GLOBAL) or built from strings on the stack (STACK_GLOBAL), must be
// one of
//
//	collections.OrderedDict
//	torch._utils._rebuild_tensor_v2, torch._utils._rebuild_tensor
//	torch._utils._rebuild_parameter, torch._utils._rebuild_parameter_with_state
//	torch.Size
//	torch.FloatStorage, HalfStorage, BFloat16Storage, DoubleStorage,
//	LongStorage, IntStorage, ShortStorage, CharStorage, ByteStorage, BoolStorage
//
// Every other global (os.system, builtins.eval, subprocess.Popen,
// torch.storage._load_from_bytes, a model's own classes) is refused with an
// error that names it, and the unpickler's class hook refuses them again.
// The allowed globals are implemented in Go: they build tensor
// descriptions, and nothing else.
//
// The memory a hostile file can cost is bounded, and nothing is allocated
// at a size the file claims before it is checked against the bytes present:
//
//   - A pickle is read only up to MaxPickleSize (16 MiB). Before unpickling,
//     an upper bound on what the unpickler will allocate is added up opcode
//     by opcode and a pickle needing more than MaxPickleMemory (256 MiB) is
//     refused (the tests check the bound against the live heap of the
//     unpickled values, for each kind of value a pickle can multiply); the
//     check itself keeps a stack of at most 65,536 entries and a copy of the
//     memo, each entry of which the bound counts. Marks nest at most
//     MaxNesting deep, integers have at most 16 bytes, and nested dicts are
//     followed at most MaxNesting deep (a dict that contains itself is an
//     error, not a hang).
//   - Each storage's size (numel times the element size, overflow-checked)
//     must equal its zip record's size, and the record must lie within the
//     file; compressed storage records are refused. In the legacy format
//     each storage's element count must match the pickle's and its bytes lie
//     within the file. The version, byteorder and data.pkl records are read
//     through a bound, whatever their headers claim.
//   - Each tensor's shape, strides and offset are checked, overflow-safe,
//     to view elements inside its storage, with at most MaxRank dimensions,
//     and at most as many elements as its storage holds or MaxViewElements
//     (16 Mi), whichever is larger (a view with zero strides can have more).
//   - Tensor, Int64, Raw and Entry allocate the span of the storage the
//     tensor views (at most the storage, whose bytes are in the file) and
//     the result. Tensors that share a storage are each read in full, so
//     reading every tensor of a file can allocate more than the file's size
//     (as PyTorch's own tensor.contiguous() would).
//
// Load reads the whole file into memory first; Read over an os.File reads
// the pickles and then only the storage bytes asked for. Storage records'
// CRC-32 checksums are not verified (their sizes and places are).
package pth
