package callbacks

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fastgo-ml/fastgo/learner"
)

// CSVLogger writes the results table to a CSV file, one row per epoch as
// it ends: fastai's CSVLogger. The columns are the Recorder's (epoch,
// train_loss, valid_loss, the metrics, time), formatted as Progress prints
// them. Each row is written and synced before the next epoch starts, so a
// killed run keeps every finished epoch.
type CSVLogger struct {
	// Path is the file (default "history.csv"); its directory is created.
	Path string
	// Append adds to an existing file instead of replacing it; the header
	// is written only when the file is new or empty.
	Append bool
}

// Order runs CSVLogger after the Recorder (fastai's 60).
func (c *CSVLogger) Order() int { return 60 }

// Name names the callback.
func (c *CSVLogger) Name() string { return "CSVLogger" }

func (c *CSVLogger) path() string {
	if c.Path == "" {
		return "history.csv"
	}
	return c.Path
}

// Handle writes the header before the fit and a row after each epoch
// (nothing during LRFind).
func (c *CSVLogger) Handle(l *learner.Learner, e learner.Event) error {
	if l.InLRFind() {
		return nil
	}
	switch e {
	case learner.BeforeFit:
		path := c.path()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("callbacks.CSVLogger: %w", err)
		}
		flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if c.Append {
			flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		f, err := os.OpenFile(path, flag, 0o644)
		if err != nil {
			return fmt.Errorf("callbacks.CSVLogger: %w", err)
		}
		st, err := f.Stat()
		if err == nil && st.Size() == 0 {
			err = writeCSV(f, l.Recorder.MetricNames)
		}
		return closeCSV(f, err)
	case learner.AfterEpoch:
		f, err := os.OpenFile(c.path(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("callbacks.CSVLogger: %w", err)
		}
		return closeCSV(f, writeCSV(f, l.Recorder.Row(l.Epoch)))
	}
	return nil
}

func writeCSV(f *os.File, rec []string) error {
	w := csv.NewWriter(f)
	w.Write(rec)
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return f.Sync()
}

func closeCSV(f *os.File, err error) error {
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("callbacks.CSVLogger: %s: %w", f.Name(), err)
	}
	return nil
}
