package pth

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/internal/race"
)

// le32 returns v as 4 little-endian bytes.
func le32(v int) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	return string(b[:])
}

// repeat returns n copies of f(i) after head, closed by tail.
func repeat(head string, n int, f func(i int) string, tail string) []byte {
	var b strings.Builder
	b.WriteString(head)
	for i := 0; i < n; i++ {
		b.WriteString(f(i))
	}
	b.WriteString(tail)
	return []byte(b.String())
}

// heapAfter returns the live heap growth while the value that load returns
// is kept.
func heapGrowth(t *testing.T, load func() (any, error)) int64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v, err := load()
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// TestPickleMemoryEstimate checks that the scanner's estimate of what
// unpickling allocates is an upper bound of the live memory the unpickler
// builds, on a real state dict and on pickles made of one kind of value
// each, the way a hostile file would multiply it.
func TestPickleMemoryEstimate(t *testing.T) {
	if race.Enabled || testing.Short() {
		t.Skip("measures the heap")
	}
	const n = 50000
	od := "\x80\x02ccollections\nOrderedDict\nq\x00"
	cases := map[string][]byte{
		"OrderedDicts":  repeat(od+"]", n, func(int) string { return "h\x00)Ra" }, "."),
		"marked tuples": repeat("\x80\x02]", n, func(int) string { return "(K\x01K\x02K\x03ta" }, "."),
		"empty marks":   repeat("\x80\x02]", n, func(int) string { return "(ta" }, "."),
		"tuple3s":       repeat("\x80\x02]", n, func(int) string { return "K\x01K\x02K\x03\x87a" }, "."),
		"dicts":         repeat("\x80\x02]", n, func(int) string { return "}a" }, "."),
		"lists":         repeat("\x80\x02]", n, func(int) string { return "]a" }, "."),
		"empty tuples":  repeat("\x80\x02]", n, func(int) string { return ")a" }, "."),
		"strings":       repeat("\x80\x02]", n, func(int) string { return "X\x01\x00\x00\x00xa" }, "."),
		"floats":        repeat("\x80\x02]", n, func(int) string { return "G\x40\x09\x21\xfb\x54\x44\x2d\x18a" }, "."),
		"ints":          repeat("\x80\x02]", n, func(int) string { return "J\x01\x02\x03\x04a" }, "."),
		"long ints":     repeat("\x80\x02]", n, func(int) string { return "\x8a\x10" + strings.Repeat("\x01", 16) + "a" }, "."),
		"memo entries":  repeat("\x80\x02]", n, func(i int) string { return "}r" + le32(i+1) + "a" }, "."),
		"memoized":      repeat("\x80\x02]", n, func(int) string { return "}\x94a" }, "."),
		"dict items":    repeat("\x80\x02}", n/1000, func(int) string { return "(" + strings.Repeat("X\x01\x00\x00\x00aK\x01", 1000) + "u" }, "."),
		"dict setitem":  repeat("\x80\x02}", n, func(int) string { return "X\x01\x00\x00\x00aK\x01s" }, "."),
		"list appends":  repeat("\x80\x02]", n/1000, func(int) string { return "(" + strings.Repeat("K\x01", 1000) + "e" }, "."),
		"od items": repeat(od+")R", n/1000, func(i int) string {
			return "(" + string(repeat("", 1000, func(j int) string { return "J" + le32(1000*i+j) + "K\x01" }, "u"))
		}, "."),
		"globals":      repeat("\x80\x02]", n, func(int) string { return "ctorch\nSize\na" }, "."),
		"torch.Size":   repeat("\x80\x02ctorch\nSize\nq\x00]", n, func(int) string { return "h\x00K\x01K\x02\x86\x85Ra" }, "."),
		"stack global": repeat("\x80\x04]", n, func(int) string { return "\x8c\x05torch\x8c\x04Size\x93a" }, "."),
		"builds": repeat(od+"]}q\x01"+string(repeat("(", 1000, func(j int) string { return "X\x04\x00\x00\x00" + fmt.Sprintf("%04d", j) + "K\x01" }, "u0")),
			n/100, func(int) string { return "h\x00)Rh\x01ba" }, "."),
		"rank-32 tensors": repeat("\x80\x02]ctorch._utils\n_rebuild_tensor_v2\nq\x000((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"+
			"X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQK\x00("+strings.Repeat("K\x01", 32)+"t("+strings.Repeat("K\x00", 32)+"t"+
			"\x89ccollections\nOrderedDict\n)Rtq\x010", n, func(int) string { return "h\x00h\x01Ra" }, "."),
		"storage dtypes": repeat("\x80\x02]", n, func(int) string { return "ctorch\nFloatStorage\na" }, "."),
	}
	zr, err := zip.OpenReader("testdata/resnet18.pth")
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	cases["resnet18 data.pkl"], err = io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range cases {
		_, cost, err := scanCost(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		u := &unpickling{storages: map[string]*storage{}}
		if name == "resnet18 data.pkl" {
			u.resolve = func(st *storage) error { st.off = 0; return nil }
		}
		got := heapGrowth(t, func() (any, error) { return u.load(p) })
		t.Logf("%-18s %8d bytes of pickle: estimate %9d, heap %9d (%.2f)", name, len(p), cost, got, float64(got)/float64(cost))
		if got > cost {
			t.Errorf("%s: unpickling holds %d bytes, more than the estimate %d", name, got, cost)
		}
	}
}
