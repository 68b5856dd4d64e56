package pth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/bits"

	"github.com/nlpodyssey/gopickle/types"
)

// legacyMagic is the number that starts a legacy torch.save file.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// legacyProtocol is the legacy format's protocol version.
const legacyProtocol = 1001

// firstPickleRead is how many bytes are read first for a legacy pickle;
// more are read, four times as many each time, while the pickle goes on.
const firstPickleRead = 4 << 10

// readLegacy reads the legacy format: the pickles of the magic number, the
// protocol version, the system information and the state dict, the pickle
// of the list of storage keys, then for each key its element count (8
// bytes, little-endian) and its raw elements.
func readLegacy(r io.ReaderAt, size int64) (*File, error) {
	var off int64
	u := &unpickling{legacy: true, storages: map[string]*storage{}}
	next := func(field string) (any, error) {
		p, err := readPickle(r, off, size)
		if err != nil {
			return nil, asFormatErr(field, err)
		}
		off += int64(len(p))
		v, err := u.load(p)
		if err != nil {
			return nil, asFormatErr(field, err)
		}
		return v, nil
	}

	magic, err := next("magic number")
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, formatErr("", "magic number", "not the magic number of torch.save")
	}
	proto, err := next("protocol version")
	if err != nil {
		return nil, err
	}
	if p, ok := proto.(int); !ok || p != legacyProtocol {
		return nil, formatErr("", "protocol version", "a %s, want %d", pyType(proto), legacyProtocol)
	}
	info, err := next("sys_info")
	if err != nil {
		return nil, err
	}
	if err := checkSysInfo(info); err != nil {
		return nil, err
	}
	obj, err := next("data pickle")
	if err != nil {
		return nil, err
	}
	keys, err := next("storage keys")
	if err != nil {
		return nil, err
	}
	if err := placeLegacyStorages(r, u.storages, keys, off, size); err != nil {
		return nil, err
	}
	f, err := newFile(r, obj, "data pickle")
	if err != nil {
		return nil, err
	}
	f.legacy = true
	return f, nil
}

// checkSysInfo checks the system information dict: little-endian storages.
func checkSysInfo(v any) error {
	its, err := items(v)
	if _, isDict := v.(*types.Dict); err != nil || !isDict {
		return formatErr("", "sys_info", "not a dict of strings")
	}
	for _, it := range its {
		if it.key == "little_endian" && it.val != true {
			return formatErr("", "sys_info", "storages are big-endian; only little-endian files are supported")
		}
	}
	return nil
}

// placeLegacyStorages walks the raw storages that start at off, in the
// order of keys, checking each element count against the pickle's and the
// file's size, and sets each storage's offset.
func placeLegacyStorages(r io.ReaderAt, storages map[string]*storage, keys any, off, size int64) error {
	list, ok := keys.(*types.List)
	if !ok {
		return formatErr("", "storage keys", "a %s, not a list", pyType(keys))
	}
	for _, k := range *list {
		key, ok := k.(string)
		if !ok {
			return formatErr("", "storage keys", "a key is a %s, not a string", pyType(k))
		}
		st, ok := storages[key]
		switch {
		case !ok:
			return formatErr("", "storage keys", "storage %s is not used by the pickle", quoteKey(key))
		case st.off >= 0:
			return formatErr("", "storage keys", "storage %s listed twice", quoteKey(key))
		}
		var nb [8]byte
		if size-off < 8 || readFull(r, nb[:], off) != nil {
			return formatErr("", "storage "+printable(key), "the file ends before the storage's element count")
		}
		n := binary.LittleEndian.Uint64(nb[:])
		if n != uint64(st.numel) {
			return formatErr("", "storage "+printable(key), "%d elements in the file, %d in the pickle", n, st.numel)
		}
		hi, nbytes := bits.Mul64(n, uint64(st.dtype.Size()))
		if hi != 0 || nbytes > uint64(size-off-8) {
			return formatErr("", "storage "+printable(key), "%d %s elements at offset %d run past the end of the %d-byte file", n, st.dtype, off+8, size)
		}
		st.off = off + 8
		off += 8 + int64(nbytes)
	}
	for key, st := range storages {
		if st.off < 0 {
			return formatErr("", "storage keys", "storage %s has no data", quoteKey(key))
		}
	}
	return nil
}

// readPickle reads and validates the pickle at off: scanPickle on the
// first firstPickleRead bytes, then on four times as many while the pickle
// goes on, up to MaxPickleSize.
func readPickle(r io.ReaderAt, off, size int64) ([]byte, error) {
	for want := int64(firstPickleRead); ; want *= 4 {
		avail := size - off
		n := min(want, avail, MaxPickleSize)
		buf := make([]byte, n)
		if err := readFull(r, buf, off); err != nil {
			return nil, err
		}
		m, err := scanPickle(buf)
		switch {
		case err == nil:
			return buf[:m], nil
		case !errors.Is(err, errNeedMore):
			return nil, err
		case n == avail:
			return nil, errors.New("the file ends inside the pickle")
		case n == MaxPickleSize:
			return nil, fmt.Errorf("pickle larger than %d MiB", MaxPickleSize>>20)
		}
	}
}

// asFormatErr returns err as a *FormatError, for field unless it is one.
func asFormatErr(field string, err error) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		return fe
	}
	return formatErr("", field, "%v", err)
}
