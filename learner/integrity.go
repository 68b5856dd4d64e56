package learner

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// metaSHA256 is the metadata key of the SHA-256 that Save and Export write
// over everything else the file holds.
const metaSHA256 = "fastgo.sha256"

// The file formats (metadata fastgo.format) Save and Export write; the
// version-1 ones, written before files carried their SHA-256, still load.
const (
	formatCheckpoint   = "fastgo-checkpoint-2"
	formatExport       = "fastgo-export-2"
	formatCheckpointV1 = "fastgo-checkpoint-1"
	formatExportV1     = "fastgo-export-1"
)

// needsDigest reports whether a file must carry a SHA-256: every file that
// says it is fastgo's (a metadata key starting with "fastgo"), but for the
// version-1 formats written before the digest existed. A weights file from
// elsewhere (PyTorch's) has none of these keys.
func needsDigest(meta map[string]string) (need, old bool) {
	if f := meta[metaFormat]; f == formatCheckpointV1 || f == formatExportV1 {
		return false, true
	}
	for k := range meta {
		if strings.HasPrefix(k, "fastgo") {
			return true, false
		}
	}
	return false, false
}

// digest returns the hex SHA-256 of a file's content as Save and Export
// write it: every entry in name order (its name, dtype, shape and values,
// float32 or int64, little-endian), then every metadata entry but the
// digest's own, in key order. Any changed bit of the tensors, their
// description or the metadata changes it.
func digest(tensors map[string]*tensor.Tensor, ints map[string]safetensors.Int64Tensor, meta map[string]string) string {
	h := sha256.New()
	var buf [8]byte
	str := func(s string) {
		binary.LittleEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	shape := func(s []int) {
		binary.LittleEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		for _, d := range s {
			binary.LittleEndian.PutUint64(buf[:], uint64(d))
			h.Write(buf[:])
		}
	}
	names := make([]string, 0, len(tensors)+len(ints))
	for n := range tensors {
		names = append(names, n)
	}
	for n := range ints {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		str(n)
		if t, ok := tensors[n]; ok {
			str(string(safetensors.F32))
			shape(t.Shape())
			for _, v := range t.Data() {
				binary.LittleEndian.PutUint32(buf[:4], math.Float32bits(v))
				h.Write(buf[:4])
			}
			continue
		}
		it := ints[n]
		str(string(safetensors.I64))
		shape(it.Shape)
		for _, v := range it.Data {
			binary.LittleEndian.PutUint64(buf[:], uint64(v))
			h.Write(buf[:])
		}
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if k != metaSHA256 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		str(k)
		str(meta[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sealed returns meta with the digest of the file's content added.
func sealed(tensors map[string]*tensor.Tensor, ints map[string]safetensors.Int64Tensor, meta map[string]string) map[string]string {
	meta[metaSHA256] = digest(tensors, ints, meta)
	return meta
}

// checkIntegrity reads every entry of a file Save or Export wrote and
// compares the content's SHA-256 with the one the file records. Every entry
// must be float32 or int64, the dtypes fastgo writes: a relabelled dtype is
// an error, never a reinterpretation. A file without a digest (written by
// an older fastgo) loads with a warning.
func checkIntegrity(path string, f *safetensors.File) error {
	meta := f.Metadata()
	want, sealedFile := meta[metaSHA256]
	need, old := needsDigest(meta)
	if need && !sealedFile {
		return fmt.Errorf("learner: %s: a fastgo file without its SHA-256 (field %s): the file is corrupt or was changed: %w", path, metaSHA256, fastgo.ErrFormat)
	}
	if f := meta[metaFormat]; strings.HasPrefix(f, "fastgo") && f != formatCheckpoint && f != formatExport && !old {
		return fmt.Errorf("learner: %s: unknown format %q (field %s): %w", path, f, metaFormat, fastgo.ErrFormat)
	}
	tensors := map[string]*tensor.Tensor{}
	ints := map[string]safetensors.Int64Tensor{}
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		switch info.Dtype {
		case safetensors.F32:
			t, err := f.Tensor(n)
			if err != nil {
				return err
			}
			tensors[n] = t
		case safetensors.I64:
			v, err := f.Int64(n)
			if err != nil {
				return err
			}
			ints[n] = v
		default:
			return fmt.Errorf("learner: %s: entry %s has dtype %s; fastgo writes F32 and I64 only: %w", path, strconv.Quote(n), info.Dtype, fastgo.ErrFormat)
		}
	}
	if !sealedFile {
		if old {
			slog.Warn("learner: the file has no integrity hash (written by an older fastgo); loaded without checking it", "file", path)
		}
		return nil
	}
	if got := digest(tensors, ints, meta); got != want {
		return fmt.Errorf("learner: %s: the content does not match the SHA-256 the file records (the file is corrupt or was changed): %w", path, fastgo.ErrFormat)
	}
	return nil
}
