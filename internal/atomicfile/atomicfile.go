package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// hook, when set by a test (SetWriteHook), is called after every piece
// written with the bytes written so far.
var hook func(written int64) error

// SetWriteHook makes every later Write call h after each piece it writes
// (at most 4 kB) with the bytes written so far; an error from h fails the
// write as a full disk would. It returns a function that restores the
// previous hook. It is for tests, which must not run in parallel with
// other writes while a hook is set.
func SetWriteHook(h func(written int64) error) (restore func()) {
	old := hook
	hook = h
	return func() { hook = old }
}

// Write writes path atomically with write, which gets a buffered writer
// on a temporary file in path's directory; Write flushes it, syncs and
// closes the file and renames it over path, then syncs the directory. A
// new file gets permissions 0644; an existing file keeps its own. On error
// the temporary file is removed and the previous file at path is left as
// it was. Errors are returned as they are, for the caller to name its
// operation; a path that exists and is not a regular file is an error.
func Write(path string, write func(w io.Writer) error) (err error) {
	perm := os.FileMode(0o644)
	if st, e := os.Stat(path); e == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", path)
		}
		perm = st.Mode().Perm()
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	removeStale(dir, base)
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	// The temporary file has the final file's permissions from the start,
	// so that one a killed write leaves behind is no more open than the
	// file it was to replace.
	if err = f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(&hookWriter{w: f}, 1<<20)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Make the rename durable; not every file system can sync a directory,
	// so a failure here is not an error.
	if d, e := os.Open(dir); e == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// removeStale removes the temporary files that earlier writes of the same
// path left behind when they were killed (".NAME.tmp" and the random
// suffix os.CreateTemp adds). Two processes writing the same path at once
// are not supported: the later one may remove the earlier one's temporary
// file, which then fails cleanly, leaving the previous file in place.
func removeStale(dir, base string) {
	matches, err := filepath.Glob(filepath.Join(dir, "."+escapeGlob(base)+".tmp*"))
	if err != nil {
		return
	}
	for _, m := range matches {
		if st, err := os.Lstat(m); err == nil && st.Mode().IsRegular() {
			os.Remove(m)
		}
	}
}

// escapeGlob escapes the metacharacters of filepath.Match in s.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// hookWriter passes writes through, in pieces of at most 4 kB when a hook
// is set, calling it after each so that a test sees a write half done.
type hookWriter struct {
	w io.Writer
	n int64
}

func (c *hookWriter) Write(p []byte) (int, error) {
	if hook == nil {
		n, err := c.w.Write(p)
		c.n += int64(n)
		return n, err
	}
	done := 0
	for done < len(p) {
		k := min(len(p)-done, 4<<10)
		n, err := c.w.Write(p[done : done+k])
		done += n
		c.n += int64(n)
		if err == nil {
			err = hook(c.n)
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}
