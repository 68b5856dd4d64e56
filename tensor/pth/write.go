package pth

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/fastgo-ml/fastgo/internal/atomicfile"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// Entry is one tensor for Write: its name in the state dict, its element
// type (F32, F16, BF16, F64, I64, I32, I16, I8, U8 or BOOL) and shape, and
// its elements in row-major order, little-endian. It is safetensors.Entry,
// so that the entries of a safetensors file (safetensors.File.Entry) write
// unchanged to a .pth file and those of a .pth file (File.Entry) to a
// safetensors file (safetensors.SaveEntries), byte for byte.
type Entry = safetensors.Entry

// Float32Entry returns an entry holding t converted to dtype: F32 bit for
// bit, F16 and BF16 rounded to nearest (ties to even, exactly as PyTorch's
// .half() and .bfloat16(); a value read from such a tensor converts back to
// the same bits), F64 exactly.
func Float32Entry(name string, t *tensor.Tensor, dtype Dtype) (Entry, error) {
	if t == nil {
		return Entry{}, fmt.Errorf("pth: tensor %q is nil", name)
	}
	src := t.Data()
	e := Entry{Name: name, Dtype: dtype, Shape: append([]int{}, t.Shape()...)}
	switch dtype {
	case F32:
		e.Data = make([]byte, 4*len(src))
		for i, v := range src {
			binary.LittleEndian.PutUint32(e.Data[4*i:], math.Float32bits(v))
		}
	case F16, BF16:
		conv := float32ToHalf
		if dtype == BF16 {
			conv = float32ToBF16
		}
		e.Data = make([]byte, 2*len(src))
		for i, v := range src {
			binary.LittleEndian.PutUint16(e.Data[2*i:], conv(v))
		}
	case F64:
		e.Data = make([]byte, 8*len(src))
		for i, v := range src {
			binary.LittleEndian.PutUint64(e.Data[8*i:], math.Float64bits(float64(v)))
		}
	default:
		return Entry{}, fmt.Errorf("pth: tensor %q: dtype %s is not a float type", name, dtype)
	}
	return e, nil
}

// Int64Entry returns an I64 entry holding v, such as BatchNorm's
// num_batches_tracked (a scalar: nil Shape, one value).
func Int64Entry(name string, v safetensors.Int64Tensor) (Entry, error) {
	n := 1
	for _, d := range v.Shape {
		if d < 0 {
			return Entry{}, fmt.Errorf("pth: tensor %q: negative dimension in shape %v", name, v.Shape)
		}
		n *= d
	}
	if n != len(v.Data) {
		return Entry{}, fmt.Errorf("pth: tensor %q: %d values do not fill shape %v", name, len(v.Data), v.Shape)
	}
	e := Entry{Name: name, Dtype: I64, Shape: append([]int{}, v.Shape...), Data: make([]byte, 8*len(v.Data))}
	for i, x := range v.Data {
		binary.LittleEndian.PutUint64(e.Data[8*i:], uint64(x))
	}
	return e, nil
}

// Entry returns the named tensor as an Entry in its own dtype, its data
// contiguous (see Raw), for writing it unchanged.
func (f *File) Entry(name string) (Entry, error) {
	t, err := f.lookup(name)
	if err != nil {
		return Entry{}, err
	}
	b, err := f.raw(name, t)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Name: name, Dtype: t.st.dtype, Shape: append([]int{}, t.shape...), Data: b}, nil
}

// checkEntries validates what Write is given.
func checkEntries(entries []Entry) error {
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		switch {
		case !utf8.ValidString(e.Name):
			return fmt.Errorf("pth: tensor name %q is not valid UTF-8", e.Name)
		case seen[e.Name]:
			return fmt.Errorf("pth: two tensors are named %q", e.Name)
		case storageClassName(e.Dtype) == "":
			return fmt.Errorf("pth: tensor %q: dtype %q cannot be written", e.Name, e.Dtype)
		}
		seen[e.Name] = true
		if err := e.Check(); err != nil {
			return fmt.Errorf("pth: %w", err)
		}
	}
	return nil
}

// archiveDir is the folder of the records in the archives Write makes, the
// name PyTorch uses when it saves to a buffer.
const archiveDir = "archive/"

// recordAlign is the alignment of every record's data, as PyTorch aligns
// them (so that storages can be mapped in place).
const recordAlign = 64

// Write writes entries to w as torch.save writes a state dict in its zip
// format (PyTorch 1.6 and later): an OrderedDict of the tensors in the
// order given, each with its own storage, contiguous, on the CPU. Names
// must be distinct and valid UTF-8, and each Data must hold exactly the
// shape's elements. The output is deterministic: the same entries give the
// same bytes.
func Write(w io.Writer, entries []Entry) error {
	if err := checkEntries(entries); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	zw := zip.NewWriter(bw)
	var off int64
	record := func(name string, data []byte) error {
		name = archiveDir + name
		pad := (recordAlign - (off+30+int64(len(name))+4)%recordAlign) % recordAlign
		extra := make([]byte, 4+pad)
		binary.LittleEndian.PutUint16(extra, 0x4246) // "FB", PyTorch's padding field
		binary.LittleEndian.PutUint16(extra[2:], uint16(pad))
		for i := 4; i < len(extra); i++ {
			extra[i] = 'Z'
		}
		rw, err := zw.CreateRaw(&zip.FileHeader{
			Name:               name,
			Method:             zip.Store,
			CRC32:              crc32.ChecksumIEEE(data),
			CompressedSize64:   uint64(len(data)),
			UncompressedSize64: uint64(len(data)),
			Extra:              extra,
		})
		if err != nil {
			return err
		}
		off += 30 + int64(len(name)) + int64(len(extra)) + int64(len(data))
		_, err = rw.Write(data)
		return err
	}
	if err := record("data.pkl", statePickle(entries)); err != nil {
		return fmt.Errorf("pth: %w", err)
	}
	if err := record("byteorder", []byte("little")); err != nil {
		return fmt.Errorf("pth: %w", err)
	}
	for i, e := range entries {
		if err := record("data/"+strconv.Itoa(i), e.Data); err != nil {
			return fmt.Errorf("pth: %w", err)
		}
	}
	if err := record("version", []byte("3\n")); err != nil {
		return fmt.Errorf("pth: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("pth: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("pth: %w", err)
	}
	return nil
}

// Save writes entries to the file at path, as Write does, atomically: the
// data goes to a temporary file in the same directory, which is synced and
// then renamed over path. If Save fails, the file previously at path (if
// any) is left unchanged.
func Save(path string, entries []Entry) error {
	if err := checkEntries(entries); err != nil {
		return err
	}
	err := atomicfile.Write(path, func(w io.Writer) error { return Write(w, entries) })
	if err != nil {
		return fmt.Errorf("pth: saving %s: %w", path, err)
	}
	return nil
}

// pickler writes the protocol-2 opcodes of a state dict.
type pickler struct {
	b    []byte
	memo map[string]int // memoized globals and strings
}

// Opcodes of the pickle protocol that statePickle writes.
const (
	opMark       = '('
	opStop       = '.'
	opBinInt     = 'J'
	opBinInt1    = 'K'
	opBinInt2    = 'M'
	opBinPersID  = 'Q'
	opReduce     = 'R'
	opBinUnicode = 'X'
	opGlobal     = 'c'
	opBinGet     = 'h'
	opLongBinGet = 'j'
	opBinPut     = 'q'
	opLongBinPut = 'r'
	opSetItems   = 'u'
	opTuple      = 't'
	opEmptyTuple = ')'
	opProto      = 0x80
	opTuple1     = 0x85
	opNewFalse   = 0x89
	opLong1      = 0x8a
)

// memoized writes the value under key from the memo if it is there, or
// with write and then into the memo.
func (p *pickler) memoized(key string, write func()) {
	if i, ok := p.memo[key]; ok {
		if i < 256 {
			p.b = append(p.b, opBinGet, byte(i))
		} else {
			p.b = binary.LittleEndian.AppendUint32(append(p.b, opLongBinGet), uint32(i))
		}
		return
	}
	write()
	i := len(p.memo)
	p.memo[key] = i
	if i < 256 {
		p.b = append(p.b, opBinPut, byte(i))
	} else {
		p.b = binary.LittleEndian.AppendUint32(append(p.b, opLongBinPut), uint32(i))
	}
}

// global writes the global module.name.
func (p *pickler) global(module, name string) {
	p.memoized("g"+module+"."+name, func() {
		p.b = append(p.b, opGlobal)
		p.b = append(p.b, module+"\n"+name+"\n"...)
	})
}

// str writes s as a str.
func (p *pickler) str(s string) {
	p.b = binary.LittleEndian.AppendUint32(append(p.b, opBinUnicode), uint32(len(s)))
	p.b = append(p.b, s...)
}

// int writes v as an int in the shortest form.
func (p *pickler) int(v int64) {
	switch {
	case v >= 0 && v < 1<<8:
		p.b = append(p.b, opBinInt1, byte(v))
	case v >= 0 && v < 1<<16:
		p.b = binary.LittleEndian.AppendUint16(append(p.b, opBinInt2), uint16(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		p.b = binary.LittleEndian.AppendUint32(append(p.b, opBinInt), uint32(int32(v)))
	default: // LONG1: little-endian two's complement, as short as it goes
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		n := 8
		for n > 1 && ((b[n-1] == 0 && b[n-2]&0x80 == 0) || (b[n-1] == 0xff && b[n-2]&0x80 != 0)) {
			n--
		}
		p.b = append(append(p.b, opLong1, byte(n)), b[:n]...)
	}
}

// tuple writes a tuple of ints.
func (p *pickler) tuple(vals []int64) {
	switch len(vals) {
	case 0:
		p.b = append(p.b, opEmptyTuple)
		return
	case 1, 2, 3:
		for _, v := range vals {
			p.int(v)
		}
		p.b = append(p.b, opTuple1+byte(len(vals)-1))
		return
	}
	p.b = append(p.b, opMark)
	for _, v := range vals {
		p.int(v)
	}
	p.b = append(p.b, opTuple)
}

// emptyOrderedDict writes collections.OrderedDict().
func (p *pickler) emptyOrderedDict() {
	p.global("collections", "OrderedDict")
	p.b = append(p.b, opEmptyTuple, opReduce)
}

// statePickle returns the data.pkl of entries: an OrderedDict mapping each
// name to _rebuild_tensor_v2(storage i, 0, shape, contiguous strides,
// False, OrderedDict()), storage i being the persistent ID ('storage',
// torch.XStorage, "i", "cpu", numel).
func statePickle(entries []Entry) []byte {
	p := &pickler{memo: map[string]int{}}
	p.b = append(p.b, opProto, 2)
	p.emptyOrderedDict()
	const batch = 1000 // as Python's pickler batches dict items
	for i, e := range entries {
		if i%batch == 0 {
			p.b = append(p.b, opMark)
		}
		p.str(e.Name)
		p.global("torch._utils", "_rebuild_tensor_v2")
		p.b = append(p.b, opMark, opMark)
		p.memoized("sstorage", func() { p.str("storage") })
		p.global("torch", storageClassName(e.Dtype))
		p.str(strconv.Itoa(i))
		p.memoized("scpu", func() { p.str("cpu") })
		shape := int64s(e.Shape)
		numel := int64(1)
		for _, d := range shape {
			numel *= d
		}
		p.int(numel)
		p.b = append(p.b, opTuple, opBinPersID)
		p.int(0)
		p.tuple(shape)
		strides := make([]int64, len(shape))
		s := int64(1)
		for j := len(shape) - 1; j >= 0; j-- {
			strides[j] = s
			s *= max(shape[j], 1)
		}
		p.tuple(strides)
		p.b = append(p.b, opNewFalse)
		p.emptyOrderedDict()
		p.b = append(p.b, opTuple, opReduce)
		if i%batch == batch-1 || i == len(entries)-1 {
			p.b = append(p.b, opSetItems)
		}
	}
	return append(p.b, opStop)
}
