package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write writes path atomically with write, which gets the temporary file
// (unbuffered: a writer of many small pieces wraps it in a bufio.Writer and
// flushes it before returning). A new file gets permissions 0644; an
// existing file keeps its own. Errors are returned as they are, for the caller to
// name its operation; a path that exists and is not a regular file is an
// error.
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
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
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
