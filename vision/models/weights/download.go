package weights

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// netDialer bounds the wait for a connection.
var netDialer = net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}

// MaxDownload is the most bytes a download of a file of unknown size may
// bring: 4 GiB.
const MaxDownload = 4 << 30

// maxAttempts bounds the requests of one download: a connection that drops
// is resumed where it stopped as long as each request brings bytes.
const maxAttempts = 5

// partLocks serialises the downloads of one file within the process.
var partLocks sync.Map

// download fetches f.URL into dir/f.Name: through dir/f.Name.part, resumed
// from what it holds, renamed to f.Name only once its SHA-256 matches.
func download(ctx context.Context, c *config, f File, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	final := filepath.Join(dir, f.Name)
	part := final + ".part"
	mu, _ := partLocks.LoadOrStore(part, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if err := f.Verify(final); err == nil { // another download finished it
		return final, nil
	}
	d := &downloader{c: c, f: f, part: part, final: final}
	if err := d.run(ctx); err != nil {
		return "", err
	}
	if err := os.Rename(part, final); err != nil {
		return "", err
	}
	return final, nil
}

// downloader is one download of a file into its .part file.
type downloader struct {
	c     *config
	f     File
	part  string
	final string
	bar   progress
}

// run fetches the file into d.part until it is complete and verified.
func (d *downloader) run(ctx context.Context) (err error) {
	d.bar = newProgress(d.c, d.f, d.final)
	defer func() { d.bar.finish(err) }()
	restarted := false
	for attempt := 0; ; attempt++ {
		have, err := d.partSize()
		if err != nil {
			return err
		}
		complete := d.f.Size > 0 && have == d.f.Size
		if !complete {
			var got int64
			complete, got, err = d.fetch(ctx, have)
			if err != nil && (ctx.Err() != nil || got == 0 || attempt+1 >= maxAttempts || errors.Is(err, errTooLong)) {
				return err
			}
		}
		if !complete {
			continue // the connection dropped after some bytes: resume
		}
		err = d.verify()
		if err == nil {
			return nil
		}
		// A part left by an earlier run may hold bytes of another file (or
		// of a corrupted transfer): start again once from nothing.
		if have == 0 || restarted {
			os.Remove(d.part)
			return err
		}
		restarted = true
		if err := os.Truncate(d.part, 0); err != nil {
			return err
		}
		d.bar.restart()
	}
}

// partSize returns the bytes the .part file holds (0 if none), starting
// it afresh when it holds more than the published size.
func (d *downloader) partSize() (int64, error) {
	st, err := os.Stat(d.part)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if d.f.Size > 0 && st.Size() > d.f.Size {
		return 0, os.Truncate(d.part, 0)
	}
	return st.Size(), nil
}

// verify checks the SHA-256 of the .part file.
func (d *downloader) verify() error {
	r, err := os.Open(d.part)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return err
	}
	if err := d.f.checkDigest(d.f.URL, h.Sum(nil)); err != nil {
		return fmt.Errorf("%w (the download was deleted)", err)
	}
	return nil
}

// errTooLong reports a server sending more than the file's size.
var errTooLong = errors.New("more bytes than expected")

// fetch asks for the file from byte have on, appends what comes to the
// .part file and reports whether the file is complete, with the bytes it
// brought.
func (d *downloader) fetch(ctx context.Context, have int64) (complete bool, got int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.f.URL, nil)
	if err != nil {
		return false, 0, err
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := d.c.client.Do(req)
	if err != nil {
		return false, 0, err
	}
	defer resp.Body.Close()
	start, total, err := d.span(resp, have)
	if err != nil || start < 0 {
		return start < 0, 0, err
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if start == 0 {
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	out, err := os.OpenFile(d.part, flag, 0o644)
	if err != nil {
		return false, 0, err
	}
	d.bar.start(start, total)
	limit := int64(MaxDownload)
	if total > 0 {
		limit = total
	}
	body := &idleReader{r: resp.Body, cancel: cancel, idle: d.c.idle}
	got, err = copyBody(out, body, limit-start, d.bar)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case body.stalled():
		return false, got, fmt.Errorf("GET %s: nothing received for %v after %d bytes", d.f.URL, d.c.idle, start+got)
	case err != nil && ctx.Err() != nil:
		return false, got, fmt.Errorf("GET %s: %w", d.f.URL, context.Cause(ctx))
	case err != nil:
		return false, got, fmt.Errorf("GET %s: %w after %d bytes", d.f.URL, err, start+got)
	case resp.ContentLength >= 0 && got != resp.ContentLength:
		return false, got, fmt.Errorf("GET %s: the connection closed after %d of %d bytes", d.f.URL, start+got, start+resp.ContentLength)
	case total > 0 && start+got < total:
		return false, got, fmt.Errorf("GET %s: the connection closed after %d of %d bytes", d.f.URL, start+got, total)
	}
	return true, got, nil
}

// span checks the response to a request from byte have and returns where
// its body starts in the file and the file's size (0 if unknown); start
// is -1 when the .part file already holds the whole file.
func (d *downloader) span(resp *http.Response, have int64) (start, total int64, err error) {
	total = d.f.Size
	switch resp.StatusCode {
	case http.StatusOK:
		if resp.ContentLength >= 0 && total == 0 {
			total = resp.ContentLength
		}
		start = 0
	case http.StatusPartialContent:
		var first, size int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &first); err != nil || first != have {
			return 0, 0, fmt.Errorf("GET %s: a partial answer %q for a request from byte %d", d.f.URL, resp.Header.Get("Content-Range"), have)
		}
		if _, s, ok := strings.Cut(resp.Header.Get("Content-Range"), "/"); ok {
			if size, err = strconv.ParseInt(s, 10, 64); err == nil && total == 0 {
				total = size
			}
		}
		start = have
	case http.StatusRequestedRangeNotSatisfiable:
		// The part holds at least the whole file: let the checksum judge.
		return -1, total, nil
	default:
		return 0, 0, fmt.Errorf("GET %s: %s", d.f.URL, resp.Status)
	}
	if d.f.Size > 0 && resp.ContentLength >= 0 && start+resp.ContentLength > d.f.Size {
		return 0, 0, fmt.Errorf("GET %s: %d bytes from byte %d, more than the %d published: %w", d.f.URL, resp.ContentLength, start, d.f.Size, errTooLong)
	}
	return start, total, nil
}

// copyBody copies at most limit bytes of r to w, counting them on bar; a
// body longer than limit is an error.
func copyBody(w io.Writer, r io.Reader, limit int64, bar progress) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, err := r.Read(buf)
		if int64(k) > limit-n {
			return n, fmt.Errorf("%w (%d)", errTooLong, limit)
		}
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
			bar.add(int64(k))
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// idleReader cancels a request whose body sends nothing for idle.
type idleReader struct {
	r      io.Reader
	cancel context.CancelFunc
	idle   time.Duration
	timer  *time.Timer
	dead   bool
	mu     sync.Mutex
}

func (r *idleReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	if r.timer == nil {
		r.timer = time.AfterFunc(r.idle, func() {
			r.mu.Lock()
			r.dead = true
			r.mu.Unlock()
			r.cancel()
		})
	} else {
		r.timer.Reset(r.idle)
	}
	r.mu.Unlock()
	n, err := r.r.Read(p)
	if err != nil {
		r.timer.Stop()
	}
	return n, err
}

// stalled reports whether the idle timeout cancelled the request.
func (r *idleReader) stalled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dead
}
