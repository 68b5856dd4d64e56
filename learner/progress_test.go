package learner

import (
	"bytes"
	"context"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	l := New(blobData(32, 9, 8), newMLP(1), Metrics(Accuracy()), ProgressTo(&buf))
	cancelValid := CallbackFunc(func(l *Learner, e Event) error {
		if e != BeforeValidate {
			return nil
		}
		if l.Epoch == 1 {
			return CancelValidate
		}
		return nil
	})
	if err := l.Fit(context.Background(), 2, Callbacks(cancelValid)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// fastprogress's console table: names padded to 8, joined by two
	// spaces; values under them, 6 decimals, #na# when not computed.
	if lines[0] != "epoch     train_loss  valid_loss  accuracy  time" {
		t.Fatalf("header %q", lines[0])
	}
	row := regexp.MustCompile(`^(\d)         (\d\.\d{6})    (\d\.\d{6}|#na#    )    (\d\.\d{6}|#na#    )  \d\d:\d\d(  \((.*)\))?$`)
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for e, line := range lines[1:] {
		m := row.FindStringSubmatch(line)
		if m == nil || m[1] != string(rune('0'+e)) {
			t.Fatalf("row %d %q does not match the table", e, line)
		}
		if (e == 1) != (m[3] == "#na#    ") {
			t.Fatalf("row %d %q: #na# belongs to the cancelled validation only", e, line)
		}
		if (e == 1) != (m[6] == "validation cancelled before any batch was recorded") {
			t.Fatalf("row %d %q: only the cancelled validation carries a note saying why", e, line)
		}
	}
	if !strings.HasPrefix(lines[1][10:], formatStat(l.Recorder.Values[0][0])) {
		t.Fatalf("row %q does not show the recorded train_loss %v", lines[1], l.Recorder.Values[0][0])
	}
}

func TestProgressBars(t *testing.T) {
	// Bars drawn into a buffer (as on a terminal): the fit completes, the
	// bars shut down, and the table is still printed.
	var buf bytes.Buffer
	l := New(blobData(64, 16, 8), newMLP(1), Metrics(Accuracy()), NoProgress())
	done := make(chan error, 1)
	go func() {
		done <- l.Fit(context.Background(), 2, Callbacks(&progress{out: &buf, display: displayBars}))
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the progress bars hang")
	}
	out := buf.String()
	for _, want := range []string{"epoch     train_loss  valid_loss  accuracy  time", "epoch", "2/2"} {
		if !strings.Contains(out, want) {
			t.Fatalf("bar output lacks %q:\n%s", want, out)
		}
	}
	if isTerminal(&buf) {
		t.Fatal("a buffer is not a terminal")
	}
}

func TestFormatTime(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "00:00"}, {59 * time.Second, "00:59"}, {61*time.Second + 900*time.Millisecond, "01:01"}, {3723 * time.Second, "1:02:03"}} {
		if got := formatTime(tc.d); got != tc.want {
			t.Errorf("formatTime(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if formatStat(math.NaN()) != "#na#" || formatStat(0.5) != "0.500000" {
		t.Error("formatStat")
	}
}

// failingWriter accepts ok writes, then fails every one.
type failingWriter struct{ ok int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.ok <= 0 {
		return 0, errors.New("output closed")
	}
	w.ok--
	return len(p), nil
}

// TestProgressBarsOutputFails fits with bars on an output that fails after
// a few writes: the bars stop and the fit completes, without a panic or a
// hang.
func TestProgressBarsOutputFails(t *testing.T) {
	for _, ok := range []int{0, 1, 3} {
		l := New(blobData(64, 16, 8), newMLP(1), Metrics(Accuracy()), NoProgress())
		slow := CallbackFunc(func(l *Learner, e Event) error {
			if e == AfterBatch {
				time.Sleep(15 * time.Millisecond) // leaves time for renders
			}
			return nil
		})
		done := make(chan error, 1)
		go func() {
			done <- l.Fit(context.Background(), 2, Callbacks(slow, &progress{out: &failingWriter{ok: ok}, display: displayBars}))
		}()
		select {
		case err := <-done:
			if err != nil && !strings.Contains(err.Error(), "output closed") {
				t.Fatalf("ok=%d: %v", ok, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("ok=%d: the fit hangs when the bars' output fails", ok)
		}
	}
}
