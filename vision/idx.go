package vision

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/fastgo-ml/fastgo/internal/parallel"
	"github.com/fastgo-ml/fastgo/tensor"
)

// FormatError reports a file whose contents do not follow its format: an IDX
// header that disagrees with the file's length, a CIFAR file of the wrong size,
// a CSV row that names no file. File is empty when the bytes came from memory;
// Row is the 1-based CSV row, or 0.
type FormatError struct {
	File string // the file, or "" for bytes from memory
	Row  int    // the 1-based CSV row, or 0
	Msg  string // what is wrong
}

// Error returns "vision: file row n: message", leaving out what is unknown.
func (e *FormatError) Error() string {
	switch {
	case e.File != "" && e.Row > 0:
		return fmt.Sprintf("vision: %s row %d: %s", e.File, e.Row, e.Msg)
	case e.File != "":
		return fmt.Sprintf("vision: %s: %s", e.File, e.Msg)
	}
	return "vision: " + e.Msg
}

// maxIDXBytes bounds the data an IDX header may claim (4 GiB).
const maxIDXBytes = 1 << 32

// DecodeIDX parses an IDX file of unsigned bytes (data type 0x08, as MNIST
// and Fashion-MNIST use), raw or gzip-compressed, and returns its dimensions
// and its values in row-major order.
//
// The header's claimed size is checked against the bytes actually present
// before the values are allocated: a raw file must have exactly that many
// bytes after the header, and a gzip stream is read in growing steps that
// stop at the end of the real data, so a hostile header never causes an
// allocation of the size it claims.
func DecodeIDX(data []byte) (dims []int, values []byte, err error) {
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		return decodeIDXGzip(data)
	}
	dims, hdr, err := parseIDXHeader(data)
	if err != nil {
		return nil, nil, err
	}
	n := idxCount(dims)
	if got := int64(len(data) - hdr); got != n {
		return nil, nil, &FormatError{Msg: fmt.Sprintf("IDX header claims dimensions %v (%d bytes) but %d bytes follow it", dims, n, got)}
	}
	return dims, data[hdr:], nil
}

// parseIDXHeader reads the magic number and the dimensions from b and returns
// them with the header's length.
func parseIDXHeader(b []byte) ([]int, int, error) {
	if len(b) < 4 {
		return nil, 0, &FormatError{Msg: fmt.Sprintf("IDX file of %d bytes is shorter than its 4-byte magic number", len(b))}
	}
	if b[0] != 0 || b[1] != 0 {
		return nil, 0, &FormatError{Msg: fmt.Sprintf("bad IDX magic number % x", b[:4])}
	}
	if b[2] != 0x08 {
		return nil, 0, &FormatError{Msg: fmt.Sprintf("IDX data type 0x%02x: only unsigned bytes (0x08) are supported", b[2])}
	}
	nd := int(b[3])
	if nd < 1 || nd > 4 {
		return nil, 0, &FormatError{Msg: fmt.Sprintf("IDX file has %d dimensions: want 1 to 4", nd)}
	}
	hdr := 4 + 4*nd
	if len(b) < hdr {
		return nil, 0, &FormatError{Msg: fmt.Sprintf("IDX header of %d dimensions is cut short", nd)}
	}
	dims := make([]int, nd)
	n := int64(1)
	for i := range dims {
		d := int64(binary.BigEndian.Uint32(b[4+4*i:]))
		dims[i] = int(d)
		if d != 0 && n > maxIDXBytes/d {
			return nil, 0, &FormatError{Msg: fmt.Sprintf("IDX dimensions %v claim more than %d bytes", dims[:i+1], int64(maxIDXBytes))}
		}
		n *= d
	}
	return dims, hdr, nil
}

func idxCount(dims []int) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= int64(d)
	}
	return n
}

func decodeIDXGzip(data []byte) ([]int, []byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, &FormatError{Msg: "IDX gzip stream: " + err.Error()}
	}
	var head [4 + 4*4]byte
	if _, err := io.ReadFull(zr, head[:4]); err != nil {
		return nil, nil, &FormatError{Msg: "IDX gzip stream ends inside the header: " + err.Error()}
	}
	nd := int(head[3])
	if nd >= 1 && nd <= 4 {
		if _, err := io.ReadFull(zr, head[4:4+4*nd]); err != nil {
			return nil, nil, &FormatError{Msg: "IDX gzip stream ends inside the header: " + err.Error()}
		}
	}
	dims, hdr, err := parseIDXHeader(head[:4+4*max(min(nd, 4), 0)])
	if err != nil {
		return nil, nil, err
	}
	want := idxCount(dims)
	// The first allocation is the smallest of: the claim, the size in the
	// gzip trailer, and what deflate can expand the real input to.
	hint := want
	if len(data) >= 4 {
		isize := int64(binary.LittleEndian.Uint32(data[len(data)-4:])) - int64(hdr)
		if isize >= 0 {
			hint = min(hint, isize)
		}
	}
	hint = min(hint, int64(len(data))*1032) + 1
	out := make([]byte, 0, hint)
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		limit := min(int64(cap(out)), want+1)
		n, err := zr.Read(out[len(out):limit])
		out = out[:len(out)+n]
		if int64(len(out)) > want {
			return nil, nil, &FormatError{Msg: fmt.Sprintf("IDX header claims dimensions %v (%d bytes) but more data follows", dims, want)}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, &FormatError{Msg: fmt.Sprintf("IDX gzip stream after %d of %d bytes: %v", len(out), want, err)}
		}
	}
	if int64(len(out)) != want {
		return nil, nil, &FormatError{Msg: fmt.Sprintf("IDX header claims dimensions %v (%d bytes) but %d bytes follow it", dims, want, len(out))}
	}
	return dims, out, nil
}

// LoadIDX reads and decodes an IDX file (see DecodeIDX); errors name the file.
func LoadIDX(path string) (dims []int, values []byte, err error) {
	data, err := readFileLimit(path, maxIDXBytes)
	if err != nil {
		return nil, nil, err
	}
	dims, values, err = DecodeIDX(data)
	if err != nil {
		return nil, nil, nameFile(err, path)
	}
	return dims, values, nil
}

// nameFile adds the file name to a FormatError or wraps another error.
func nameFile(err error, path string) error {
	if fe, ok := err.(*FormatError); ok {
		c := *fe
		c.File = path
		return &c
	}
	return fmt.Errorf("vision: %s: %w", path, err)
}

// IDXImages decodes a pair of IDX files, images [N,H,W] and labels [N], into an
// in-memory data set of [N,1,H,W] float32 pixels in [0,1]. Either file may be
// gzip-compressed. imagesName and labelsName name them in errors.
func IDXImages(images, labels []byte, imagesName, labelsName string) (*TensorDataset, error) {
	type res struct {
		dims []int
		v    []byte
		err  error
	}
	lc := make(chan res, 1)
	go func() {
		d, v, err := DecodeIDX(labels)
		lc <- res{d, v, err}
	}()
	idims, ivals, err := DecodeIDX(images)
	lr := <-lc
	if err != nil {
		return nil, nameFile(err, imagesName)
	}
	if lr.err != nil {
		return nil, nameFile(lr.err, labelsName)
	}
	return idxDataset(idims, ivals, lr.dims, lr.v, imagesName, labelsName)
}

func idxDataset(idims []int, ivals []byte, ldims []int, lvals []byte, imagesName, labelsName string) (*TensorDataset, error) {
	if len(idims) != 3 {
		return nil, &FormatError{File: imagesName, Msg: fmt.Sprintf("IDX images have dimensions %v: want [N,H,W]", idims)}
	}
	if len(ldims) != 1 {
		return nil, &FormatError{File: labelsName, Msg: fmt.Sprintf("IDX labels have dimensions %v: want [N]", ldims)}
	}
	if idims[0] != ldims[0] {
		return nil, &FormatError{File: labelsName, Msg: fmt.Sprintf("%d labels for %d images in %s", ldims[0], idims[0], imagesName)}
	}
	y := make([]int, len(lvals))
	for i, v := range lvals {
		y[i] = int(v)
	}
	x := bytesToTensor(ivals, idims[0], 1, idims[1], idims[2])
	return &TensorDataset{X: x, Y: y}, nil
}

// bytesToTensor converts 8-bit pixels to a float32 tensor in [0,1].
func bytesToTensor(b []byte, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(shape...)
	d := t.Data()
	parallel.For(len(b), 1<<16, func(lo, hi int) {
		src, dst := b[lo:hi], d[lo:hi]
		for i, v := range src {
			dst[i] = byteToFloat[v]
		}
	})
	return t
}

// byteToFloat maps a byte to v/255 exactly as the division would.
var byteToFloat = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// plausibleRatio bounds how much larger than the compressed file an IDX
// gzip stream's claimed contents may be for readIDXFloats to allocate the
// claimed size up front. Real image data compresses 2-5 times; a larger
// claim takes the slower path that grows with the data actually present.
const plausibleRatio = 16

// readIDXFloats reads an IDX file of unsigned bytes straight into float32
// values v/255, streaming the (possibly gzip) data in chunks so that no copy
// of the file or of its decompressed bytes is held. The claimed size is
// allocated only when the file's length makes it plausible: a raw file must
// hold exactly the claimed bytes, a gzip file at least 1/plausibleRatio of
// them; otherwise the file goes through DecodeIDX.
func readIDXFloats(path string) ([]int, []float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("vision: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("vision: %w", err)
	}
	size := st.Size()
	br := bufio.NewReaderSize(f, 1<<18)
	magic, _ := br.Peek(2)
	gz := len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	var r io.Reader = br
	if gz {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, &FormatError{File: path, Msg: "IDX gzip stream: " + err.Error()}
		}
		r = zr
	}
	var head [4 + 4*4]byte
	n, _ := io.ReadFull(r, head[:4])
	nd := int(head[3])
	if n == 4 && nd >= 1 && nd <= 4 {
		m, _ := io.ReadFull(r, head[4:4+4*nd])
		n += m
	}
	dims, hdr, err := parseIDXHeader(head[:n])
	if err != nil {
		return nil, nil, nameFile(err, path)
	}
	want := idxCount(dims)
	if (!gz && want != size-int64(hdr)) || (gz && want > plausibleRatio*size+1<<16) {
		// Let the careful path produce the error or the data.
		_, vals, err := LoadIDX(path)
		if err != nil {
			return nil, nil, err
		}
		out := make([]float32, len(vals))
		for i, v := range vals {
			out[i] = byteToFloat[v]
		}
		return dims, out, nil
	}
	out, err := streamIDXFloats(path, r, dims, want)
	if err != nil {
		return nil, nil, err
	}
	return dims, out, nil
}

// streamIDXFloats reads the want data bytes of an IDX file from r into
// float32 values v/255: one goroutine decompresses while this one converts,
// so that the inflate work overlaps the first touch of the output's pages.
// More or fewer bytes than want is a *FormatError naming path.
func streamIDXFloats(path string, r io.Reader, dims []int, want int64) ([]float32, error) {
	type chunk struct {
		b   []byte
		err error
	}
	full := make(chan chunk, 3)
	free := make(chan []byte, 4)
	for range 4 {
		free <- make([]byte, 1<<18)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(full)
		for {
			var b []byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			k, err := readFull(r, b)
			select {
			case full <- chunk{b[:k], err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	out := make([]float32, want)
	var got int64
	for c := range full {
		if int64(len(c.b)) > want-got {
			return nil, &FormatError{File: path, Msg: fmt.Sprintf("IDX header claims dimensions %v (%d bytes) but more data follows", dims, want)}
		}
		dst := out[got : got+int64(len(c.b))]
		for i, v := range c.b {
			dst[i] = byteToFloat[v]
		}
		got += int64(len(c.b))
		if c.err == io.EOF {
			break
		}
		if c.err != nil {
			return nil, &FormatError{File: path, Msg: fmt.Sprintf("IDX data after %d of %d bytes: %v", got, want, c.err)}
		}
		free <- c.b[:cap(c.b)]
	}
	if got != want {
		return nil, &FormatError{File: path, Msg: fmt.Sprintf("IDX header claims dimensions %v (%d bytes) but %d bytes follow it", dims, want, got)}
	}
	return out, nil
}

// readFull fills b from r like io.ReadFull, but returns the reader's own
// error: io.EOF at the clean end of the data, io.ErrUnexpectedEOF (from a
// gzip reader) when the stream is cut short, even inside its trailer.
func readFull(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
