package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// screen runs the command line args of the fastgo binary bin inside a real
// terminal (a detached tmux session of 160x48 characters). It returns the
// lines drawn: those of the screens seen while it ran, polled every 50 ms,
// and those of everything the command wrote to the terminal, recorded byte
// for byte with tmux's pipe-pane (so every render of the bars is there,
// however short it stayed on the screen) with the escape sequences and
// carriage returns taken out; and, at the end, the whole session with its
// scrollback as the terminal shows it. It skips without tmux.
func screen(t *testing.T, bin string, args ...string) (drawn []string, final string) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux)")
	}
	dir := t.TempDir()
	sock, start, done, raw := filepath.Join(dir, "tmux.sock"), filepath.Join(dir, "start"), filepath.Join(dir, "done"), filepath.Join(dir, "raw")
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = strconv.Quote(a)
	}
	// The command waits for start, created once the recording runs.
	script := fmt.Sprintf("while [ ! -e %s ]; do sleep 0.02; done; %s %s; echo $? > %s; echo %s; sleep 600",
		start, strconv.Quote(bin), strings.Join(quoted, " "), done, endMark)
	tmux := func(a ...string) *exec.Cmd { return exec.Command("tmux", append([]string{"-S", sock}, a...)...) }
	if out, err := tmux("new-session", "-d", "-x", "160", "-y", "48", "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	defer tmux("kill-server").Run()
	if out, err := tmux("pipe-pane", "-o", "cat > "+strconv.Quote(raw)).CombinedOutput(); err != nil {
		t.Fatalf("tmux pipe-pane: %v: %s", err, out)
	}
	if err := os.WriteFile(start, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The screen is also polled every 50 ms while the command runs, as a
	// user watching it would see it.
	deadline := time.Now().Add(5 * time.Minute)
	last := ""
	for {
		if out, err := tmux("capture-pane", "-p").Output(); err == nil && string(out) != last {
			last = string(out)
			drawn = append(drawn, strings.Split(last, "\n")...)
		}
		if b, err := os.ReadFile(done); err == nil {
			if code := strings.TrimSpace(string(b)); code != "0" {
				all, _ := tmux("capture-pane", "-p", "-S", "-").Output()
				t.Fatalf("fastgo %v exited with %s:\n%s", args, code, all)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fastgo %v still running after 5 minutes", args)
		}
		time.Sleep(50 * time.Millisecond)
	}
	all, err := tmux("capture-pane", "-p", "-J", "-S", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	// The recording ends with the mark the script echoes after fastgo.
	var stream []byte
	for end := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if stream, err = os.ReadFile(raw); err == nil && strings.Contains(string(stream), endMark) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the recording of fastgo %v lacks its end mark (%v):\n%s", args, err, stream)
		}
	}
	text := ansiSeq.ReplaceAllString(string(stream), "\n")
	drawn = append(drawn, strings.Split(strings.ReplaceAll(text, "\r", "\n"), "\n")...)
	for i := range drawn {
		drawn[i] = strings.TrimSpace(drawn[i])
	}
	return drawn, string(all)
}

// endMark is echoed in the terminal after the command ends.
const endMark = "=end-of-fastgo="

var (
	// ansiSeq matches a terminal control sequence (CSI or a two-byte escape).
	ansiSeq  = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])`)
	barLine  = regexp.MustCompile(`^(epoch|train|valid)\s+(\d+)/(\d+)\s`)
	negTime  = regexp.MustCompile(`-\d|\d:-`)
	rowLine  = regexp.MustCompile(`^(\d+)\s+(\d+\.\d{6}|#na#)\s`)
	hdrLine  = regexp.MustCompile(`^epoch\s+train_loss\s+valid_loss`)
	timeCell = regexp.MustCompile(`\d+:\d\d(<\d+:\d\d)?`)
)

// checkBars asserts on every line drawn: each bar's count within its total,
// totals among want[phase] (when given), no negative time, and a bar of
// each phase of want drawn at least once.
func checkBars(t *testing.T, drawn []string, want map[string][]int) {
	t.Helper()
	seen := map[string]bool{}
	for _, line := range drawn {
		m := barLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		total, _ := strconv.Atoi(m[3])
		seen[m[1]] = true
		if total <= 0 || n > total {
			t.Errorf("bar %q: %d of %d", line, n, total)
		}
		if ok := want[m[1]]; ok != nil && !containsInt(ok, total) {
			t.Errorf("bar %q: total %d, want one of %v", line, total, ok)
		}
		for _, c := range timeCell.FindAllString(line, -1) {
			if negTime.MatchString(c) {
				t.Errorf("bar %q shows a negative time %q", line, c)
			}
		}
	}
	for phase := range want {
		if !seen[phase] {
			t.Errorf("no %s bar was ever drawn (%d lines drawn)", phase, len(drawn))
		}
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// tables returns, for each results table in the session, the epochs of its
// rows in the order printed.
func tables(final string) [][]int {
	var out [][]int
	for _, line := range strings.Split(final, "\n") {
		line = strings.TrimSpace(line)
		if hdrLine.MatchString(line) {
			out = append(out, []int{})
			continue
		}
		if m := rowLine.FindStringSubmatch(line); m != nil && len(out) > 0 {
			e, _ := strconv.Atoi(m[1])
			out[len(out)-1] = append(out[len(out)-1], e)
		}
	}
	return out
}

// buildFastgo builds the command into a temporary folder and returns its path.
func buildFastgo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fastgo")
	// The same tags as the test binary (purego: the same kernel tier, which
	// reports record).
	if out, err := exec.Command("go", "build", "-tags="+testBuildTags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestTerminalDemo runs fastgo demo -quick in a real terminal: its bars show
// the right totals (10 training batches and 2 validation batches per epoch,
// one epoch per fit), never a negative time, and each fit's results table
// holds each of its epochs exactly once.
func TestTerminalDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo in a terminal")
	}
	bin := buildFastgo(t)
	drawn, final := screen(t, bin, "demo", "-quick", "-out", t.TempDir())
	checkBars(t, drawn, map[string][]int{"epoch": {1}, "train": {10}, "valid": {2}})
	tabs := tables(final)
	if len(tabs) != 2 {
		t.Fatalf("%d results tables, want 2 (standard and adversarial training):\n%s", len(tabs), final)
	}
	for i, rows := range tabs {
		if len(rows) != 1 || rows[0] != 0 {
			t.Errorf("table %d has the epoch rows %v, want [0]:\n%s", i, rows, final)
		}
	}
}

// TestTerminalTrain runs fastgo train on a small image folder in a real
// terminal: bar totals, no negative time, every epoch's row exactly once.
func TestTerminalTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("trains in a terminal")
	}
	bin := buildFastgo(t)
	dir := t.TempDir()
	data := tinyFolder(t, filepath.Join(dir, "data"), 24)
	// 48 images, 20% validation: 38 training images in batches of 8 (4
	// full batches, the last dropped) and 10 validation images (2 batches).
	drawn, final := screen(t, bin, "train", "-data", data, "-channels", "1", "-size", "28", "-bs", "8", "-epochs", "3",
		"-out", filepath.Join(dir, "export.safetensors"), "-checkpoint", filepath.Join(dir, "ckpt.safetensors"))
	checkBars(t, drawn, map[string][]int{"epoch": {3}, "train": {4}, "valid": {2}})
	tabs := tables(final)
	if len(tabs) != 1 || fmt.Sprint(tabs[0]) != "[0 1 2]" {
		t.Errorf("results tables %v, want one with the epochs [0 1 2]:\n%s", tabs, final)
	}
}
