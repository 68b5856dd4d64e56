package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/learner"
	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/vision"
	"github.com/fastgo-ml/fastgo/vision/models"
)

// The helper process of the interrupt test runs the command line given in
// FASTGO_CLI_ARGS (arguments separated by \x1f) and exits with its code.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("FASTGO_CLI_ARGS"); ok {
		os.Exit(run(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	os.Exit(offline(m.Run))
}

// offline runs the tests as CI does, without network: FASTGO_OFFLINE is
// set and fastgo's and PyTorch's weight caches are empty temporary
// directories, so that -pretrained auto finds nothing and trains from
// scratch at once, whatever the developer's caches hold. Tests that need
// weights set their own.
func offline(run func() int) int {
	dir, err := os.MkdirTemp("", "fastgo-cli-test")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	for k, v := range map[string]string{
		"FASTGO_OFFLINE": "1", "FASTGO_WEIGHTS": "",
		"FASTGO_CACHE": dir + "/fastgo", "TORCH_HOME": dir + "/torch",
	} {
		os.Setenv(k, v)
	}
	return run()
}

// commandNames returns the registered sub-commands, sorted.
func commandNames() []string {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestEveryCommandAnswersHelp(t *testing.T) {
	for _, n := range commandNames() {
		for _, h := range []string{"-h", "--help"} {
			t.Run(n+h, func(t *testing.T) {
				code, stdout, stderr := runCLI(n, h)
				if code != 0 {
					t.Errorf("exit code %d, want 0; stderr:\n%s", code, stderr)
				}
				if !strings.HasPrefix(stderr, "Usage: fastgo "+n) {
					t.Errorf("stderr does not start with %q:\n%s", "Usage: fastgo "+n, stderr)
				}
				if stdout != "" {
					t.Errorf("stdout %q, want nothing", stdout)
				}
			})
		}
	}
	code, _, stderr := runCLI("help")
	if code != 0 {
		t.Errorf("fastgo help: exit %d", code)
	}
	for _, n := range commandNames() {
		if !strings.Contains(stderr, "  "+n+" ") {
			t.Errorf("fastgo help does not list %s:\n%s", n, stderr)
		}
	}
}

// checkOneLine checks a failed run: the exit code, one line on stderr
// starting with "fastgo <cmd>: " and holding every want, nothing on stdout
// unless stdoutOK.
func checkOneLine(t *testing.T, args []string, wantCode int, stdoutOK bool, wants ...string) {
	t.Helper()
	code, stdout, stderr := runCLI(args...)
	if code != wantCode {
		t.Errorf("%v: exit code %d, want %d\nstderr: %s", args, code, wantCode, stderr)
	}
	if n := strings.Count(stderr, "\n"); n != 1 || !strings.HasPrefix(stderr, "fastgo "+args[0]+": ") {
		t.Errorf("%v: stderr is not one line starting with \"fastgo %s: \": %q", args, args[0], stderr)
	}
	for _, w := range wants {
		if !strings.Contains(stderr, w) {
			t.Errorf("%v: stderr %q does not contain %q", args, stderr, w)
		}
	}
	if !stdoutOK && stdout != "" {
		t.Errorf("%v: stdout %q, want nothing", args, stdout)
	}
}

func TestWrongFlagIsOneLineUsageError(t *testing.T) {
	for _, n := range commandNames() {
		t.Run(n, func(t *testing.T) {
			want := "-no-such-flag"
			checkOneLine(t, []string{n, "-no-such-flag"}, 2, false, want)
		})
	}
	checkOneLine(t, []string{"train", "-epochs", "many"}, 2, false, `invalid value "many" for flag -epochs`)
	checkOneLine(t, []string{"attack", "-model", "m", "-image", "x.png", "-eps", "-1"}, 2, false, "-eps -1")
	checkOneLine(t, []string{"attack", "-model", "m", "-image", "x.png", "-attack", "nope"}, 2, false, `unknown -attack "nope"`)
	checkOneLine(t, []string{"attack", "-image", "x.png"}, 2, false, "-model FILE")
	checkOneLine(t, []string{"train", "-arch", "vgg"}, 2, true, `unknown -arch "vgg"`)
	checkOneLine(t, []string{"train", "-data", "embedded", "-arch", "cifar-resnet18"}, 2, true, "32x32")
	checkOneLine(t, []string{"lr-find", "-num-it", "3"}, 2, false, "-num-it 3")
	checkOneLine(t, []string{"train", "-defence", "magic"}, 2, false, `unknown -defence "magic"`)
	checkOneLine(t, []string{"certify", "-model", "m", "-sigma", "0"}, 2, false, "-sigma 0")
	checkOneLine(t, []string{"certify", "-model", "m", "-alpha", "1"}, 2, false, "-alpha 1")
	if code, _, _ := runCLI("nosuchcommand"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

// exportUntrained exports an untrained SmallCNN over the embedded data to
// dir and returns the file.
func exportUntrained(t *testing.T, dir string) string {
	t.Helper()
	dls, err := vision.EmbeddedFashionMNIST(vision.BatchSize(64))
	if err != nil {
		t.Fatal(err)
	}
	l := learner.New(dls, models.NewSmallCNN(10, tensor.NewRNG(5)), learner.Metrics(learner.Accuracy()))
	p := filepath.Join(dir, "export.safetensors")
	if err := l.Export(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// writePNG writes a grey w x h PNG whose pixels come from f.
func writePNG(t *testing.T, path string, w, h int, f func(x, y int) uint8) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{Y: f(x, y)})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tinyFolder writes an image folder of two classes of n 28x28 grey
// images each: "bright" (a light square on dark) and "dark" (the reverse),
// which a SmallCNN separates in an epoch.
func tinyFolder(t *testing.T, dir string, n int) string {
	t.Helper()
	for c, name := range []string{"bright", "dark"} {
		for i := range n {
			writePNG(t, filepath.Join(dir, name, fmt.Sprintf("%s_%d.png", name, i)), 28, 28, func(x, y int) uint8 {
				in := x > 6+i%5 && x < 20 && y > 8 && y < 22-i%3
				if in == (c == 0) {
					return uint8(200 + (x*y+i)%50)
				}
				return uint8((x + y + i) % 40)
			})
		}
	}
	return dir
}

func TestMissingAndCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	export := exportUntrained(t, dir)
	garbage := filepath.Join(dir, "garbage.safetensors")
	os.WriteFile(garbage, []byte("this is not a safetensors file at all, nor anything else"), 0o644)
	truncated := filepath.Join(dir, "truncated.safetensors")
	b, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(truncated, b[:len(b)/2], 0o644)
	empty := filepath.Join(dir, "empty.safetensors")
	os.WriteFile(empty, nil, 0o644)
	badPNG := filepath.Join(dir, "bad.png")
	os.WriteFile(badPNG, []byte("\x89PNG\r\n\x1a\nthis is not the rest of a PNG"), 0o644)
	goodPNG := filepath.Join(dir, "good.png")
	writePNG(t, goodPNG, 28, 28, func(x, y int) uint8 { return uint8(x * 9) })
	csvBad := filepath.Join(dir, "labels.csv")
	os.WriteFile(csvBad, []byte("name,label\nmissing.png,a\nalso-missing.png,b\n"), 0o644)
	notCSV := filepath.Join(dir, "notes.txt")
	os.WriteFile(notCSV, []byte("hello"), 0o644)
	nope := filepath.Join(dir, "nope.safetensors")
	out := filepath.Join(dir, "out")

	cases := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"train: no such data", []string{"train", "-data", filepath.Join(dir, "nodata")}, []string{filepath.Join(dir, "nodata"), "no such file"}},
		{"train: not a csv", []string{"train", "-data", notCSV}, []string{notCSV, "not a .csv"}},
		{"train: csv naming missing files", []string{"train", "-data", csvBad, "-out", filepath.Join(out, "e.safetensors")}, []string{csvBad, "missing.png"}},
		{"train: no pretrained file", []string{"train", "-arch", "resnet18", "-pretrained", nope}, []string{nope}},
		{"lr-find: no such data", []string{"lr-find", "-data", filepath.Join(dir, "nodata")}, []string{filepath.Join(dir, "nodata")}},
		{"eval: no model", []string{"eval", "-model", nope}, []string{nope, "no such file"}},
		{"eval: garbage model", []string{"eval", "-model", garbage}, []string{garbage}},
		{"eval: truncated model", []string{"eval", "-model", truncated}, []string{truncated}},
		{"attack: no model", []string{"attack", "-model", nope, "-image", goodPNG, "-out", out}, []string{nope, "no such file"}},
		{"attack: empty model", []string{"attack", "-model", empty, "-image", goodPNG, "-out", out}, []string{empty, "empty"}},
		{"attack: garbage model", []string{"attack", "-model", garbage, "-image", goodPNG, "-out", out}, []string{garbage}},
		{"attack: truncated model", []string{"attack", "-model", truncated, "-image", goodPNG, "-out", out}, []string{truncated}},
		{"attack: garbage weights", []string{"attack", "-weights", garbage, "-image", goodPNG, "-out", out}, []string{garbage}},
		{"attack: export as weights", []string{"attack", "-weights", export, "-arch", "cifar-resnet18", "-image", goodPNG, "-out", out}, []string{export}},
		{"attack: no image", []string{"attack", "-model", export, "-image", filepath.Join(dir, "none.png"), "-out", out}, []string{filepath.Join(dir, "none.png")}},
		{"attack: corrupt image", []string{"attack", "-model", export, "-image", badPNG, "-out", out}, []string{badPNG}},
		{"attack: image is a directory", []string{"attack", "-model", export, "-image", dir, "-out", out}, []string{dir}},
		{"certify: no model", []string{"certify", "-model", nope}, []string{nope, "no such file"}},
		{"certify: garbage model", []string{"certify", "-model", garbage}, []string{garbage}},
		{"certify: corrupt image", []string{"certify", "-model", export, "-image", badPNG}, []string{badPNG}},
		{"certify: wrong classes", []string{"certify", "-model", export, "-data", tinyFolder(t, filepath.Join(dir, "tiny"), 3)}, []string{"classes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkOneLine(t, c.args, 1, true, c.wants...)
		})
	}
}

// TestTrainEvalAttackFolder trains on a tiny image folder, evaluates the
// export on the same split and attacks one of its images with a target.
func TestTrainEvalAttackFolder(t *testing.T) {
	dir := t.TempDir()
	data := tinyFolder(t, filepath.Join(dir, "data"), 40)
	export := filepath.Join(dir, "model", "export.safetensors")
	code, stdout, stderr := runCLI("train", "-data", data, "-channels", "1", "-size", "28", "-epochs", "3", "-lr", "3e-3",
		"-bs", "16", "-out", export, "-csv", filepath.Join(dir, "history.csv"), "-plot", filepath.Join(dir, "loss.png"), "-workers", "1")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"model: smallcnn", "epoch", "train_loss", "valid_loss", "accuracy", "exported " + export} {
		if !strings.Contains(stdout, w) {
			t.Errorf("train output lacks %q:\n%s", w, stdout)
		}
	}
	for _, f := range []string{export, filepath.Join(dir, "history.csv"), filepath.Join(dir, "loss.png")} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("train did not write %s: %v", f, err)
		}
	}
	if _, err := os.Stat(withSuffix(export, ".ckpt")); err == nil {
		t.Errorf("the checkpoint was left after a successful export")
	}
	l, err := vision.LoadLearner(export)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.Classes, ","); got != "bright,dark" {
		t.Errorf("exported classes %q", got)
	}

	// eval on the same split gives the accuracy train printed last.
	code, stdout, stderr = runCLI("eval", "-model", export, "-data", data, "-batch", "7")
	if code != 0 {
		t.Fatalf("eval: exit %d\n%s", code, stderr)
	}
	r := evalResultOf(t, stdout)
	if r.N != 16 { // int(0.2 * 80)
		t.Errorf("eval on %d images, want the 16 held out", r.N)
	}
	hist, _ := os.ReadFile(filepath.Join(dir, "history.csv"))
	rows := strings.Split(strings.TrimSpace(string(hist)), "\n")
	last := strings.Split(rows[len(rows)-1], ",")
	if want := fmt.Sprintf("%.6f", r.TestAcc); last[3] != want {
		t.Errorf("eval accuracy %s, train's last epoch %s (%s)", want, last[3], rows[len(rows)-1])
	}
	if r.TestAcc < 0.9 {
		t.Errorf("accuracy %.3f on two trivially separable classes", r.TestAcc)
	}

	// attack an image of the folder toward the other class.
	img := filepath.Join(data, "bright", "bright_3.png")
	out := filepath.Join(dir, "attack")
	code, stdout, stderr = runCLI("attack", "-model", export, "-image", img, "-target", "dark", "-eps", "0.5", "-steps", "30", "-out", out)
	if code != 0 {
		t.Fatalf("attack: exit %d\n%s", code, stderr)
	}
	for _, w := range []string{"clean:       bright", "adversarial: dark", "targeted: to dark", "the attack succeeded"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("attack output lacks %q:\n%s", w, stdout)
		}
	}
	adv, err := vision.LoadImage(filepath.Join(out, "adversarial.png"), 1)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := vision.LoadImage(img, 1)
	if !tensor.SameShape(adv.Shape(), orig.Shape()) {
		t.Fatalf("adversarial.png is %v, the image %v", adv.Shape(), orig.Shape())
	}
	changed := 0
	for i, v := range adv.Data() {
		d := v - orig.Data()[i]
		if d > 0.5+1.0/255 || d < -0.5-1.0/255 {
			t.Fatalf("pixel %d moved by %v, beyond eps 0.5", i, d)
		}
		if d != 0 {
			changed++
		}
	}
	if changed == 0 {
		t.Errorf("adversarial.png equals the image")
	}
	pred, err := l.PredictFile(filepath.Join(out, "adversarial.png"))
	if err != nil {
		t.Fatal(err)
	}
	if pred.Class != "dark" {
		t.Logf("the 8-bit PNG of the adversarial image is classified %s (the float image was dark)", pred.Class)
	}
	side, err := vision.LoadImage(filepath.Join(out, "side_by_side.png"), 3)
	if err != nil {
		t.Fatal(err)
	}
	if w := side.Dim(2); w < 3*84 {
		t.Errorf("side_by_side.png is %d pixels wide, want three images", w)
	}
}

// TestInterruptKeepsCheckpoint sends SIGINT to a training run after its
// first checkpoint: the run stops with exit 1 and one line naming the
// checkpoint, which -resume continues from.
func TestInterruptKeepsCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command in a child process")
	}
	dir := t.TempDir()
	data := tinyFolder(t, filepath.Join(dir, "data"), 16)
	export := filepath.Join(dir, "export.safetensors")
	ckpt := filepath.Join(dir, "export.ckpt.safetensors")
	args := []string{"train", "-data", data, "-channels", "1", "-size", "28", "-epochs", "100000", "-bs", "8", "-out", export, "-workers", "1"}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FASTGO_CLI_ARGS="+strings.Join(args, "\x1f"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, err := os.Stat(ckpt); err == nil && st.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no checkpoint after 60s\n%s\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("interrupted run: %v, want exit status 1\nstderr: %s", err, stderr.String())
	}
	if n := strings.Count(stderr.String(), "\n"); n != 1 || !strings.Contains(stderr.String(), "interrupted") || !strings.Contains(stderr.String(), ckpt) {
		t.Errorf("stderr is not one line saying interrupted and naming %s: %q", ckpt, stderr.String())
	}
	if _, err := os.Stat(export); err == nil {
		t.Errorf("an interrupted run exported %s", export)
	}
	// The checkpoint is whole: a learner resumes from it.
	dls, err := vision.ImageFolder(data, vision.Channels(1), vision.Size(28, 28), vision.BatchSize(8))
	if err != nil {
		t.Fatal(err)
	}
	l := learner.New(dls, models.NewSmallCNN(2, tensor.NewRNG(0)))
	epoch, err := l.Resume(ckpt)
	if err != nil {
		t.Fatalf("resuming from the kept checkpoint: %v", err)
	}
	if epoch < 1 {
		t.Fatalf("checkpoint at epoch %d", epoch)
	}
	// -resume with one more epoch runs it and exports.
	args[8] = fmt.Sprint(epoch + 1)
	code, out, errs := runCLI(append(args, "-resume")...)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, errs)
	}
	if !strings.Contains(out, fmt.Sprintf("resuming from %s at epoch %d", ckpt, epoch)) {
		t.Errorf("resume output:\n%s", out)
	}
	if strings.Count(out, "\n"+fmt.Sprint(epoch)+" ") != 1 {
		t.Errorf("the resumed run should train epoch %d only:\n%s", epoch, out)
	}
	if _, err := os.Stat(export); err != nil {
		t.Errorf("the resumed run did not export: %v", err)
	}
}

// readFile returns the contents of path.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTrainDefences trains with each -defence for an epoch on a tiny
// folder: the run names the defence, and a robust model must differ from
// the plain one trained with the same seed.
func TestTrainDefences(t *testing.T) {
	dir := t.TempDir()
	data := tinyFolder(t, filepath.Join(dir, "data"), 12)
	weights := map[string][]float32{}
	for _, d := range []string{"none", "pgd-at", "fast-at", "trades", "noise"} {
		t.Run(d, func(t *testing.T) {
			export := filepath.Join(dir, d+".safetensors")
			code, stdout, stderr := runCLI("train", "-data", data, "-channels", "1", "-size", "28", "-epochs", "1", "-bs", "8",
				"-defence", d, "-defence-steps", "2", "-out", export, "-workers", "1")
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			if d != "none" && !strings.Contains(stdout, "defence: "+d) {
				t.Errorf("the output does not name the defence:\n%s", stdout)
			}
			l, err := vision.LoadLearner(export)
			if err != nil {
				t.Fatal(err)
			}
			weights[d] = append([]float32(nil), layers.Parameters(l.Model)[0].Data().Data()...)
		})
	}
	for _, d := range []string{"pgd-at", "fast-at", "trades", "noise"} {
		if slices.Equal(weights[d], weights["none"]) {
			t.Errorf("-defence %s trained the same weights as no defence", d)
		}
	}
}

// TestTrainFromCSV trains from a CSV of file names and labels (relative to
// the CSV's folder) and exports a learner with the CSV's classes.
func TestTrainFromCSV(t *testing.T) {
	dir := t.TempDir()
	data := tinyFolder(t, filepath.Join(dir, "imgs"), 10)
	var b strings.Builder
	b.WriteString("file,label\n")
	for _, c := range []string{"bright", "dark"} {
		for i := range 10 {
			fmt.Fprintf(&b, "%s/%s_%d.png,%s\n", c, c, i, c)
		}
	}
	csvPath := filepath.Join(data, "labels.csv")
	if err := os.WriteFile(csvPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(dir, "csv.safetensors")
	code, stdout, stderr := runCLI("train", "-data", csvPath, "-channels", "1", "-size", "28", "-epochs", "1", "-bs", "4", "-out", export, "-workers", "1")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "the images listed in "+csvPath) {
		t.Errorf("output:\n%s", stdout)
	}
	l, err := vision.LoadLearner(export)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(l.Classes, ",") != "bright,dark" || l.Channels != 1 {
		t.Errorf("exported classes %v, channels %d", l.Classes, l.Channels)
	}
}
