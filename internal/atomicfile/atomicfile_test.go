package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesOrKeeps(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.bin")
	if err := Write(p, func(w io.Writer) error { _, err := w.Write([]byte("one")); return err }); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	// A failing write leaves the old file and no temporary.
	boom := errors.New("disk full")
	if err := Write(p, func(w io.Writer) error { w.Write([]byte("half")); return boom }); !errors.Is(err, boom) {
		t.Fatalf("error %v, want the write's", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Fatalf("after a failed write the file holds %q", b)
	}
	if err := Write(p, func(w io.Writer) error { _, err := w.Write([]byte("two")); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("the file holds %q, want %q", b, "two")
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("permissions %v, want the old file's 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the directory holds %d entries, want the file alone", len(entries))
	}
	if err := Write(dir, func(io.Writer) error { return nil }); err == nil {
		t.Fatal("writing over a directory succeeded")
	}
}
