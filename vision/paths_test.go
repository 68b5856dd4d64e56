package vision_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/vision"
)

// TestCSVPathsStayInside: a CSV naming a file outside its data folder (an
// absolute path, a climb with "..") is refused row by row unless
// AllowOutsidePaths is given.
func TestCSVPathsStayInside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	os.MkdirAll(dir, 0o755)
	for i := range 4 {
		writePNG(filepath.Join(dir, string(rune('a'+i))+".png"), 8, 8, uint8(40*i))
	}
	outside := filepath.Join(root, "secret.png")
	writePNG(outside, 8, 8, 200)
	for _, c := range []struct{ name, row string }{
		{"absolute", outside + ",x"},
		{"climbing", "../secret.png,x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			csvPath := filepath.Join(dir, "labels.csv")
			rows := "file,label\na.png,x\nb.png,y\nc.png,x\nd.png,y\n" + c.row + "\n"
			os.WriteFile(csvPath, []byte(rows), 0o644)
			_, err := vision.FromCSV(csvPath, vision.BatchSize(2))
			if err == nil || !strings.Contains(err.Error(), "outside the data folder") || !strings.Contains(err.Error(), csvPath) {
				t.Fatalf("a CSV naming %s: %v", c.row, err)
			}
			if _, err := vision.FromCSV(csvPath, vision.BatchSize(2), vision.AllowOutsidePaths()); err != nil {
				t.Fatalf("with AllowOutsidePaths: %v", err)
			}
		})
	}
}

// TestNonRegularFilesRefused: a FIFO named as an image (in a CSV or given
// to LoadImage) is an error, not a read that waits for a writer forever.
func TestNonRegularFilesRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.png")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := vision.LoadImage(fifo, 1)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("LoadImage of a FIFO: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("LoadImage of a FIFO hangs")
	}
	for i := range 4 {
		writePNG(filepath.Join(dir, string(rune('a'+i))+".png"), 8, 8, uint8(40*i))
	}
	csvPath := filepath.Join(dir, "labels.csv")
	os.WriteFile(csvPath, []byte("a.png,x\nb.png,y\nc.png,x\nd.png,y\npipe.png,x\n"), 0o644)
	if _, err := vision.FromCSV(csvPath, vision.BatchSize(2)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("a CSV naming a FIFO: %v", err)
	}
}
