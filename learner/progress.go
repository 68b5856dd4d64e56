package learner

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// display chooses how the progress is shown.
type display int

const (
	// displayAuto draws bars when the output is a terminal and prints plain
	// lines otherwise.
	displayAuto display = iota
	// displayBars always draws bars (with cursor movements).
	displayBars
)

// progress shows a fit as fastai's ProgressCallback does: in a terminal, a
// bar over the epochs and one over the current phase's batches with the
// smoothed training loss; and, in any case, the results table
//
//	epoch     train_loss  valid_loss  accuracy  time
//	0         0.512345    0.431234    0.871000  00:03
//
// with one line printed as each epoch ends: floats with 6 decimals, "#na#"
// for a value not computed (a cancelled validation), the epoch's time as
// mm:ss (h:mm:ss past an hour). New and the fits add it (see NoProgress and
// ProgressTo). A fit that fails with an error (not a cancellation) skips
// AfterFit, so its bars are only shut down when the next fit begins.
type progress struct {
	out     io.Writer
	display display
	bars    *progressBars
}

// progressFor returns the progress callback of a fit: the fit's setting,
// else the learner's, else bars on standard output when it is a terminal.
func (l *Learner) progressFor(fit *progressSetting) Callback {
	s := l.progress
	if fit != nil {
		s = *fit
	}
	switch {
	case s.off:
		return nil
	case s.out != nil:
		return &progress{out: s.out}
	case isTerminal(os.Stdout):
		return &progress{out: os.Stdout}
	}
	return nil
}

// Order runs the progress display after the Recorder (fastai's 60).
func (p *progress) Order() int { return 60 }

// Name names the callback.
func (p *progress) Name() string { return "Progress" }

// useBars reports whether to draw bars.
func (p *progress) useBars() bool {
	if p.display == displayAuto {
		return isTerminal(p.out)
	}
	return p.display == displayBars
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// Handle draws the bars and prints the table.
func (p *progress) Handle(l *Learner, e Event) error {
	switch e {
	case BeforeFit:
		if p.bars != nil { // a previous fit failed before AfterFit
			p.bars.close(true)
			p.bars = nil
		}
		w := p.out
		if p.useBars() {
			p.bars = newProgressBars(w, l.NEpoch-l.Epoch)
			w = p.bars.p
		}
		if l.InLRFind() { // fastai shows LRFind's bars, not its table
			return nil
		}
		_, err := io.WriteString(w, tableHeader(l.Recorder.MetricNames)+"\n")
		return err
	case BeforeTrain, BeforeValidate:
		if p.bars != nil {
			p.bars.startPhase(l.Training, l.NIter)
		}
	case AfterBatch:
		if p.bars != nil {
			p.bars.batchDone(l.Training, l.Recorder.SmoothLoss)
		}
	case AfterTrain, AfterValidate:
		if p.bars != nil {
			p.bars.endPhase()
		}
	case AfterEpoch:
		// The row is written before the epoch bar moves: completing the last
		// bar triggers mpb's final renders, and only a render flushes the
		// lines written above the bars, so a row written after them could be
		// lost when the fit ends.
		var err error
		if !l.InLRFind() {
			w := p.out
			if p.bars != nil {
				w = p.bars.p
			}
			row := tableRow(l.Recorder.MetricNames, l.Recorder.Row(l.Epoch))
			if n := l.Recorder.EpochNotes; len(n) > 0 && n[len(n)-1] != "" {
				row += "  (" + n[len(n)-1] + ")"
			}
			_, err = io.WriteString(w, row+"\n")
			if err != nil && p.bars != nil {
				// mpb has shut down (it failed to write): the row goes
				// to the output itself, whose error, if any, is the
				// one that counts.
				_, err = io.WriteString(p.out, row+"\n")
			}
		}
		if p.bars != nil {
			p.bars.epoch.Increment()
		}
		return err
	case AfterFit:
		if p.bars != nil {
			p.bars.close(false)
			p.bars = nil
		}
	}
	return nil
}

// progressBars is the mpb state of one fit. The bars are drawn every
// refreshEvery by a ticker and, in addition, as soon as each phase's first
// batch is done, so that every phase shows on the screen, however short.
type progressBars struct {
	p       *mpb.Progress
	epoch   *mpb.Bar
	batch   *mpb.Bar
	loss    atomic.Uint64 // float64 bits of the smoothed loss
	refresh chan any      // render requests, to mpb's manual refresh (one pending at most)
	stop    chan struct{} // closed by close: the ticker stops
	drawn   bool          // the current phase was drawn
}

// refreshEvery is the bars' refresh period.
const refreshEvery = 100 * time.Millisecond

func newProgressBars(w io.Writer, nEpoch int) *progressBars {
	b := &progressBars{refresh: make(chan any, 1), stop: make(chan struct{})}
	b.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(100), mpb.WithManualRefresh(b.refresh))
	b.epoch = b.p.AddBar(int64(max(nEpoch, 0)),
		mpb.PrependDecorators(decor.Name("epoch", decor.WC{C: decor.DindentRight | decor.DextraSpace}),
			decor.CountersNoUnit("%d/%d", decor.WCSyncWidth)),
		mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}),
			decor.Name(" "), decor.Elapsed(decor.ET_STYLE_MMSS)),
	)
	go func() {
		tick := time.NewTicker(refreshEvery)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				b.render()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// render asks mpb for a render, unless one is already pending. It never
// blocks: mpb stops taking requests when it shuts down, which a write error
// on the output can make it do in the middle of a fit.
func (b *progressBars) render() {
	select {
	case b.refresh <- time.Now():
	default:
	}
}

func (b *progressBars) startPhase(training bool, n int) {
	b.endPhase()
	b.drawn = false
	name := "valid"
	if training {
		name = "train"
	}
	bar, err := b.p.Add(int64(n), mpb.BarStyle().Build(), mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(name, decor.WC{C: decor.DindentRight | decor.DextraSpace}),
			decor.CountersNoUnit("%d/%d", decor.WCSyncWidth)),
		mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}), decor.Name(" "),
			decor.Elapsed(decor.ET_STYLE_MMSS), decor.Name("<"), decor.AverageETA(decor.ET_STYLE_MMSS),
			decor.Any(func(decor.Statistics) string {
				if !training {
					return ""
				}
				return fmt.Sprintf(" loss %.4f", math.Float64frombits(b.loss.Load()))
			})),
	)
	if err != nil {
		// mpb has shut down: writing to the output failed. The fit goes
		// on without bars.
		return
	}
	b.batch = bar
}

func (b *progressBars) batchDone(training bool, smooth float64) {
	if training {
		b.loss.Store(math.Float64bits(smooth))
	}
	if b.batch == nil {
		return
	}
	b.batch.Increment()
	if !b.drawn {
		b.drawn = true
		b.render()
	}
}

// endPhase drops the batch bar, finished or cancelled.
func (b *progressBars) endPhase() {
	if b.batch != nil && !b.batch.Completed() {
		b.batch.Abort(true)
	}
	b.batch = nil
}

// close finishes the bars and waits for the last render.
func (b *progressBars) close(aborted bool) {
	b.endPhase()
	if aborted {
		b.epoch.Abort(false)
	} else if !b.epoch.Completed() {
		b.epoch.SetTotal(-1, true)
	}
	b.p.Wait()
	close(b.stop)
}

// Row returns the results-table row of the last recorded epoch, labelled
// epoch, as the progress display prints it: floats with 6 decimals, "#na#"
// for a value not computed, the epoch's time as mm:ss (h:mm:ss past an
// hour). Its columns are MetricNames.
func (r *Recorder) Row(epoch int) []string {
	cells := []string{strconv.Itoa(epoch)}
	if len(r.Values) > 0 {
		for _, v := range r.Values[len(r.Values)-1] {
			cells = append(cells, formatStat(v))
		}
	}
	if len(r.EpochTimes) > 0 {
		cells = append(cells, formatTime(r.EpochTimes[len(r.EpochTimes)-1]))
	}
	return cells
}

// formatStat formats a table value as fastai does: 6 decimals, "#na#" when
// it was not computed.
func formatStat(v float64) string {
	if math.IsNaN(v) {
		return "#na#"
	}
	return strconv.FormatFloat(v, 'f', 6, 64)
}

// formatTime formats a duration as fastai's format_time: mm:ss, or h:mm:ss
// from an hour on.
func formatTime(d time.Duration) string {
	t := int(d.Seconds())
	h, m, s := t/3600, (t/60)%60, t%60
	if h != 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", m, s)
}

// padName pads a column name to 8 characters, as fastprogress does.
func padName(n string) string {
	if len(n) < 8 {
		return n + strings.Repeat(" ", 8-len(n))
	}
	return n
}

// tableHeader is the header line of the results table.
func tableHeader(names []string) string {
	padded := make([]string, len(names))
	for i, n := range names {
		padded[i] = padName(n)
	}
	return strings.TrimRight(strings.Join(padded, "  "), " ")
}

// tableRow lays out cells under the header's columns.
func tableRow(names, cells []string) string {
	var b strings.Builder
	for i, c := range cells {
		b.WriteString(c)
		if i < len(names) {
			if pad := len(padName(names[i])) + 2 - len(c); pad > 0 {
				b.WriteString(strings.Repeat(" ", pad))
				continue
			}
		}
		b.WriteString("  ")
	}
	return strings.TrimRight(b.String(), " ")
}
