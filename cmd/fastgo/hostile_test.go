package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// hostileExport writes an export of a SmallCNN in the version-1 format
// (which loads without a SHA-256, so only the given fields are hostile) with
// the given class list and transform spec.
func hostileExport(t *testing.T, path, classes, transforms string) {
	t.Helper()
	sd := layers.GetStateDict(models.NewSmallCNN(10, tensor.NewRNG(1)))
	ints := map[string]safetensors.Int64Tensor{}
	for n, v := range sd.Ints {
		ints[n] = safetensors.Int64Tensor{Data: []int64{v}}
	}
	meta := map[string]string{
		"fastgo.format": "fastgo-export-1", "fastgo.arch": "fastgo.smallcnn", "fastgo.arch_config": `{"classes":10}`,
		"fastgo.classes": classes,
	}
	if transforms != "" {
		meta["fastgo.transforms"] = transforms
	}
	if err := safetensors.Save(path, sd.Tensors, safetensors.Ints(ints), safetensors.Metadata(meta)); err != nil {
		t.Fatal(err)
	}
}

// gzIDX writes a gzip'd IDX file whose header claims dims over data.
func gzIDX(t *testing.T, path string, dims []int, data []byte) {
	t.Helper()
	var raw bytes.Buffer
	raw.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		raw.Write([]byte{byte(d >> 24), byte(d >> 16), byte(d >> 8), byte(d)})
	}
	raw.Write(data)
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(raw.Bytes())
	w.Close()
	if err := os.WriteFile(path, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// memLimitKiB is the address space (ulimit -v) each run gets: a hostile
// input that made the command allocate what it claims would end in the Go
// runtime's fatal out-of-memory error, which the test reports as a crash.
// (The rusage of a child started from the test counts the test's own
// memory, so the limit is set rather than measured.)
const memLimitKiB = 3 << 20

// TestHostileInputs runs the command on inputs crafted to break it: each
// run ends with exit code 1 or 2 and a one-line message naming the file or
// flag and the field at fault, never a panic, within a 3 GiB address
// space (the Go runtime alone reserves more than 1 GiB of it).
func TestHostileInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command many times")
	}
	bin := buildFastgo(t)
	dir := t.TempDir()
	classes10, _ := json.Marshal([]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"})
	good := `{"channels":1,"item_tfms":[],"input_shape":[1,28,28]}`
	file := func(name string, write func(p string)) string {
		p := filepath.Join(dir, name)
		write(p)
		return p
	}
	cases := []struct {
		name string
		args []string
		want []string // substrings of the message
	}{
		{"empty class list", []string{"eval", "-model", file("empty-classes.safetensors", func(p string) { hostileExport(t, p, "[]", good) })},
			[]string{"empty-classes.safetensors", "fastgo.classes"}},
		{"short class list", []string{"eval", "-model", file("short-classes.safetensors", func(p string) { hostileExport(t, p, `["a","b","c"]`, good) })},
			[]string{"short-classes.safetensors", "fastgo.classes"}},
		{"negative input shape", []string{"eval", "-model", file("neg-shape.safetensors", func(p string) {
			hostileExport(t, p, string(classes10), `{"channels":1,"item_tfms":[],"input_shape":[1,-28,28]}`)
		})}, []string{"neg-shape.safetensors", "input_shape"}},
		{"enormous input shape", []string{"eval", "-model", file("huge-shape.safetensors", func(p string) {
			hostileExport(t, p, string(classes10), `{"channels":1,"item_tfms":[],"input_shape":[1,100000000,100000000]}`)
		})}, []string{"huge-shape.safetensors", "input_shape"}},
		{"huge resize in the export", []string{"eval", "-model", file("huge-resize.safetensors", func(p string) {
			hostileExport(t, p, string(classes10), `{"channels":1,"item_tfms":["Resize(16384, 16384, Crop)"]}`)
		})}, []string{"huge-resize.safetensors"}},
		{"not a fastgo file", []string{"eval", "-model", file("garbage.safetensors", func(p string) { os.WriteFile(p, []byte("\xff\xff\xff\xff\xff\xff\xff\x7fgarbage"), 0o644) })},
			[]string{"garbage.safetensors", "header"}},
		{"IDX claiming more than it holds", []string{"eval", "-weights", file("w.safetensors", func(p string) {
			layers.SaveFile(models.NewSmallCNN(10, tensor.NewRNG(1)), p)
		}), "-data", file("idx", func(p string) {
			os.MkdirAll(p, 0o755)
			gzIDX(t, filepath.Join(p, "t10k-images-idx3-ubyte.gz"), []int{1 << 30, 28, 28}, make([]byte, 784))
			gzIDX(t, filepath.Join(p, "t10k-labels-idx1-ubyte.gz"), []int{1}, []byte{1})
		})}, []string{"t10k-images-idx3-ubyte.gz"}},
		{"-wd NaN", []string{"train", "-wd", "NaN"}, []string{"-wd", "NaN"}},
		{"-lr Inf", []string{"train", "-lr", "+Inf"}, []string{"-lr"}},
		{"huge -size", []string{"train", "-size", "1000000000"}, []string{"-size"}},
		{"huge batch", []string{"train", "-bs", "60000", "-size", "4096"}, []string{"-bs"}},
		{"CSV naming a file outside its folder", []string{"train", "-data", file("labels.csv", func(p string) {
			os.WriteFile(p, []byte("file,label\n/etc/passwd,a\n../x.png,b\n"), 0o644)
		})}, []string{"labels.csv", "outside the data folder"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("sh", append([]string{"-c", fmt.Sprintf(`ulimit -v %d && exec "$0" "$@"`, memLimitKiB), bin}, c.args...)...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "FASTGO_OFFLINE=1")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := cmd.ProcessState.ExitCode()
			msg := strings.TrimSpace(stderr.String())
			if err == nil || (code != 1 && code != 2) {
				t.Fatalf("exit code %d, want 1 or 2 (err %v)\nstderr: %s", code, err, msg)
			}
			if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine ") || strings.Contains(msg, "out of memory") {
				t.Fatalf("a crash:\n%s", msg)
			}
			last := msg[strings.LastIndex(msg, "\n")+1:]
			for _, w := range c.want {
				if !strings.Contains(last, w) {
					t.Errorf("message %q does not name %q", last, w)
				}
			}
		})
	}
}
