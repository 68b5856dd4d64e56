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

// TestStaleTemporariesAndPermissions: a temporary file a killed write left
// is removed by the next write to the same path (and only such files), and
// a temporary file has the final file's permissions while it is written.
func TestStaleTemporariesAndPermissions(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "model.safetensors")
	if err := os.WriteFile(p, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".model.safetensors.tmp123456")
	other := filepath.Join(dir, ".other.safetensors.tmp999")
	for _, f := range []string{stale, other} {
		if err := os.WriteFile(f, []byte("half a file"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var during os.FileMode
	restore := SetWriteHook(func(int64) error {
		m, _ := filepath.Glob(filepath.Join(dir, ".model.safetensors.tmp*"))
		if len(m) != 1 {
			t.Errorf("while writing: temporaries %v, want only the new one", m)
			return nil
		}
		st, err := os.Stat(m[0])
		if err == nil {
			during = st.Mode().Perm()
		}
		return nil
	})
	err := Write(p, func(w io.Writer) error { _, err := w.Write([]byte("new")); return err })
	restore()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale temporary is still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file's temporary was removed: %v", err)
	}
	if during != 0o640 {
		t.Errorf("the temporary had permissions %v while written, want the final file's 0640", during)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("file holds %q", b)
	}
}
