package pth

import (
	"archive/zip"
	"bytes"
	"io"
	"math/bits"
	"strconv"
	"strings"
)

// maxSmallRecord is the most bytes read from the version and byteorder
// records.
const maxSmallRecord = 64

// maxVersion is the newest format version of the zip archive's version
// record that Read accepts (PyTorch 1.6 to 2.x write 3).
const maxVersion = 9

// readZip reads the zip format: one folder (of any name) holding data.pkl,
// version, an optional byteorder, and data/KEY for each storage.
func readZip(r io.ReaderAt, size int64) (*File, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, formatErr("", "zip", "%v", err)
	}
	records, err := zipRecords(zr)
	if err != nil {
		return nil, err
	}

	v, err := readRecord(records, "version", maxSmallRecord)
	if err != nil {
		return nil, err
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(v))); err != nil || n < 1 || n > maxVersion {
		return nil, formatErr("", "version", "format version %q is not one of 1 to %d", truncateBytes(v), maxVersion)
	}
	if _, ok := records["byteorder"]; ok {
		b, err := readRecord(records, "byteorder", maxSmallRecord)
		if err != nil {
			return nil, err
		}
		if string(b) != "little" {
			return nil, formatErr("", "byteorder", "storages are %q-endian; only little-endian files are supported", truncateBytes(b))
		}
	}
	pkl, err := readRecord(records, "data.pkl", MaxPickleSize)
	if err != nil {
		return nil, err
	}
	n, err := scanPickle(pkl)
	if err == errNeedMore {
		return nil, formatErr("", "data.pkl", "the pickle ends without its STOP opcode")
	}
	if err != nil {
		return nil, formatErr("", "data.pkl", "%v", err)
	}
	u := &unpickling{storages: map[string]*storage{}}
	u.resolve = func(st *storage) error { return resolveZipStorage(records, size, st) }
	obj, err := u.load(pkl[:n])
	if err != nil {
		return nil, asFormatErr("data.pkl", err)
	}
	return newFile(r, obj, "data.pkl")
}

// zipRecords returns the archive's files by name within its top folder,
// the folder that holds data.pkl.
func zipRecords(zr *zip.Reader) (map[string]*zip.File, error) {
	prefix := ""
	for _, f := range zr.File {
		dir, base, ok := strings.Cut(f.Name, "/")
		if !ok || base != "data.pkl" {
			continue
		}
		if prefix != "" {
			return nil, formatErr("", "zip", "two data.pkl records, in %q and %q", strings.TrimSuffix(prefix, "/"), dir)
		}
		prefix = dir + "/"
	}
	if prefix == "" {
		for _, f := range zr.File {
			if strings.HasSuffix(f.Name, "/constants.pkl") {
				return nil, formatErr("", "zip", "a TorchScript archive (torch.jit.save), not a state dict saved by torch.save")
			}
		}
		return nil, formatErr("", "zip", "no data.pkl record: not a file saved by torch.save")
	}
	records := map[string]*zip.File{}
	for _, f := range zr.File {
		name, ok := strings.CutPrefix(f.Name, prefix)
		if !ok {
			continue
		}
		if _, dup := records[name]; dup {
			return nil, formatErr("", "zip", "two records named %q", f.Name)
		}
		records[name] = f
	}
	return records, nil
}

// readRecord reads a whole record of at most max bytes.
func readRecord(records map[string]*zip.File, name string, max int64) ([]byte, error) {
	f, ok := records[name]
	if !ok {
		return nil, formatErr("", name, "missing")
	}
	if f.UncompressedSize64 > uint64(max) {
		return nil, formatErr("", name, "%d bytes, more than the %d read", f.UncompressedSize64, max)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, formatErr("", name, "%v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, formatErr("", name, "%v", err)
	}
	if int64(len(b)) > max {
		return nil, formatErr("", name, "more than the %d bytes read", max)
	}
	return b, nil
}

// resolveZipStorage checks the record data/KEY of st against st's size and
// the archive's and sets st.off to its data.
func resolveZipStorage(records map[string]*zip.File, size int64, st *storage) error {
	f, ok := records["data/"+st.key]
	name := "data/" + printable(st.key)
	if !ok {
		return formatErr("", name, "missing: no record for the storage")
	}
	if f.Method != zip.Store {
		return formatErr("", name, "compressed (method %d); PyTorch stores storages uncompressed", f.Method)
	}
	hi, nbytes := bits.Mul64(uint64(st.numel), uint64(st.dtype.Size()))
	if hi != 0 || f.UncompressedSize64 != nbytes || f.CompressedSize64 != nbytes {
		return formatErr("", name, "record of %d bytes for a storage of %d %s elements", f.UncompressedSize64, st.numel, st.dtype)
	}
	off, err := f.DataOffset()
	if err != nil {
		return formatErr("", name, "%v", err)
	}
	if off < 0 || off > size || nbytes > uint64(size-off) {
		return formatErr("", name, "%d bytes at offset %d run past the end of the %d-byte file", nbytes, off, size)
	}
	st.off = off
	return nil
}

// printable returns a key from the file as it can be printed in an error:
// quoted if it is not plain, and shortened.
func printable(key string) string {
	if len(key) > 32 {
		key = key[:32] + "..."
	}
	if q := strconv.Quote(key); q[1:len(q)-1] != key {
		return q
	}
	return key
}

// quoteKey returns a key from the file quoted and shortened, for errors.
func quoteKey(key string) string {
	if len(key) > 32 {
		key = key[:32] + "..."
	}
	return strconv.Quote(key)
}

// truncateBytes returns b as a string, shortened for an error message.
func truncateBytes(b []byte) string {
	const max = 32
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// isZip reports whether b starts as a zip archive does.
func isZip(b []byte) bool { return bytes.HasPrefix(b, []byte("PK\x03\x04")) }
