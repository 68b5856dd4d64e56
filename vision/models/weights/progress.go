package weights

import (
	"fmt"
	"io"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// progress shows a download.
type progress interface {
	// start announces a request whose body begins at byte have of a file
	// of total bytes (0 if unknown).
	start(have, total int64)
	// add counts n more bytes.
	add(n int64)
	// restart announces that the download begins again from nothing.
	restart()
	// finish ends the display; err is the download's result.
	finish(err error)
}

// newProgress returns the display c asks for: none, a bar on a terminal
// when the size is known, plain lines otherwise.
func newProgress(c *config, f File, dest string) progress {
	switch {
	case c.quiet || c.progress == nil:
		return noProgress{}
	case f.Size > 0 && isTerminal(c.progress):
		return &barProgress{w: c.progress, f: f}
	}
	return &lineProgress{w: c.progress, f: f, dest: dest}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

type noProgress struct{}

func (noProgress) start(int64, int64) {}
func (noProgress) add(int64)          {}
func (noProgress) restart()           {}
func (noProgress) finish(error)       {}

// barProgress draws an mpb bar: name, bytes, percentage, speed, ETA.
type barProgress struct {
	w   io.Writer
	f   File
	p   *mpb.Progress
	bar *mpb.Bar
	at  time.Time
}

func (b *barProgress) start(have, total int64) {
	if b.p == nil {
		b.p = mpb.New(mpb.WithOutput(b.w), mpb.WithWidth(60), mpb.WithAutoRefresh(), mpb.WithRefreshRate(150*time.Millisecond))
		b.bar = b.p.AddBar(b.f.Size,
			mpb.PrependDecorators(decor.Name(b.f.Name+" ", decor.WC{C: decor.DindentRight}),
				decor.CountersKibiByte("% .1f / % .1f")),
			mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}), decor.Name(" "),
				decor.EwmaSpeed(decor.SizeB1024(0), "% .1f", 30), decor.Name(" "),
				decor.EwmaETA(decor.ET_STYLE_MMSS, 30)))
	}
	b.bar.SetCurrent(have)
	b.at = time.Now()
}

func (b *barProgress) add(n int64) {
	now := time.Now()
	b.bar.EwmaIncrInt64(n, now.Sub(b.at))
	b.at = now
}

func (b *barProgress) restart() { b.bar.SetCurrent(0) }

func (b *barProgress) finish(err error) {
	if b.p == nil {
		return
	}
	if err == nil {
		b.bar.SetTotal(-1, true)
	} else {
		b.bar.Abort(false)
	}
	b.p.Wait()
}

// lineProgress prints a line as the download starts or resumes, at every
// tenth of a file of known size (every 16 MiB otherwise) and at the end.
type lineProgress struct {
	w      io.Writer
	f      File
	dest   string
	total  int64
	have   int64
	next   int64
	begun  time.Time
	counts bool
}

func (l *lineProgress) start(have, total int64) {
	l.total, l.have = total, have
	if !l.counts {
		l.counts, l.begun = true, time.Now()
		fmt.Fprintf(l.w, "downloading %s (%s) to %s\n", l.f.URL, mib(total), l.dest)
	}
	if have > 0 {
		fmt.Fprintf(l.w, "  resuming at %s\n", mib(have))
	}
	l.next = l.step(have)
}

// step returns the count at which the next line is printed.
func (l *lineProgress) step(have int64) int64 {
	if l.total > 0 {
		tenth := max(l.total/10, 1)
		return (have/tenth + 1) * tenth
	}
	const chunk = 16 << 20
	return (have/chunk + 1) * chunk
}

func (l *lineProgress) add(n int64) {
	l.have += n
	if l.have < l.next {
		return
	}
	if l.total > 0 {
		fmt.Fprintf(l.w, "  %3d%% %s of %s\n", l.have*10/l.total*10, mib(l.have), mib(l.total))
	} else {
		fmt.Fprintf(l.w, "  %s\n", mib(l.have))
	}
	l.next = l.step(l.have)
}

func (l *lineProgress) restart() {
	l.have, l.next = 0, l.step(0)
	fmt.Fprintf(l.w, "  the partial file did not verify: downloading again from the start\n")
}

func (l *lineProgress) finish(err error) {
	if err == nil && l.counts {
		fmt.Fprintf(l.w, "  done in %v, checksum verified\n", time.Since(l.begun).Round(100*time.Millisecond))
	}
}

// mib formats a byte count in MiB ("unknown size" for 0).
func mib(n int64) string {
	if n <= 0 {
		return "unknown size"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
