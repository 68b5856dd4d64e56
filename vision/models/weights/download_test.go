package weights

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo"
)

// server serves one file, its behaviour set per test, and records the
// Range header of each request.
type server struct {
	*httptest.Server
	data   []byte
	mu     sync.Mutex
	ranges []string
}

func newServer(t *testing.T, data []byte, handle func(s *server, w http.ResponseWriter, r *http.Request, n int)) *server {
	s := &server{data: data}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.ranges)
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		s.mu.Unlock()
		handle(s, w, r, n)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve answers as a file server does, Range requests included.
func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(s.data))
}

// truncated sends the first n bytes of the answer, claiming them all,
// and drops the connection.
func (s *server) truncated(w http.ResponseWriter, n int) {
	w.Header().Set("Content-Length", strconv.Itoa(len(s.data)))
	w.Write(s.data[:n])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

// noFinal checks that the cache holds no file under the published name.
func noFinal(t *testing.T, cache string, f File) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(cache, f.Name)); !os.IsNotExist(err) {
		t.Errorf("the cache holds %s after a failed download (%v)", f.Name, err)
	}
}

// verifiedFinal checks that path is the cache's copy and holds data.
func verifiedFinal(t *testing.T, path, cache string, f File, data []byte) {
	t.Helper()
	if path != filepath.Join(cache, f.Name) {
		t.Errorf("downloaded to %s, want %s", path, filepath.Join(cache, f.Name))
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the downloaded file differs (%v)", err)
	}
	if _, err := os.Stat(path + ".part"); !os.IsNotExist(err) {
		t.Errorf("the .part file is left after a download (%v)", err)
	}
}

const fileSize = 3<<20 + 123

func TestDownload(t *testing.T) {
	cache, _ := isolate(t)
	data, f := payload(fileSize, "")
	s := newServer(t, data, func(s *server, w http.ResponseWriter, r *http.Request, _ int) { s.serve(w, r) })
	f.URL = s.URL + "/" + f.Name
	var out bytes.Buffer
	p, err := Resolve(context.Background(), f, ProgressTo(&out))
	if err != nil {
		t.Fatal(err)
	}
	verifiedFinal(t, p, cache, f, data)
	for _, want := range []string{"downloading " + f.URL, "  50% ", "100% ", "verified"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lines %q lack %q", out.String(), want)
		}
	}
	// The second time the cache answers: no request.
	if p2, err := Resolve(context.Background(), f, NoProgress()); err != nil || p2 != p || len(s.requests()) != 1 {
		t.Errorf("again: %s, %v after %d requests", p2, err, len(s.requests()))
	}
}

// TestDownloadTruncated: a connection that drops half way is resumed from
// where it stopped, with a Range request, and the file verifies.
func TestDownloadTruncated(t *testing.T) {
	cache, _ := isolate(t)
	data, f := payload(fileSize, "")
	half := len(data) / 2
	s := newServer(t, data, func(s *server, w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			s.truncated(w, half)
		}
		s.serve(w, r)
	})
	f.URL = s.URL + "/" + f.Name
	p, err := Resolve(context.Background(), f, NoProgress())
	if err != nil {
		t.Fatal(err)
	}
	verifiedFinal(t, p, cache, f, data)
	if got := s.requests(); len(got) != 2 || got[0] != "" || got[1] != "bytes="+strconv.Itoa(half)+"-" {
		t.Errorf("requests' ranges %q, want none then bytes=%d-", got, half)
	}
}

// TestDownloadAlwaysTruncated: a server that always drops the connection
// ends in an error after a bounded number of requests; the part is kept
// for a later run, and no file is under the published name.
func TestDownloadAlwaysTruncated(t *testing.T) {
	cache, _ := isolate(t)
	data, f := payload(fileSize, "")
	s := newServer(t, data, func(s *server, w http.ResponseWriter, r *http.Request, n int) {
		from := 0
		if rg := r.Header.Get("Range"); rg != "" {
			from, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
			w.Header().Set("Content-Range", "bytes "+strconv.Itoa(from)+"-"+strconv.Itoa(len(data)-1)+"/"+strconv.Itoa(len(data)))
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)-from))
		if from > 0 {
			w.WriteHeader(http.StatusPartialContent)
		}
		w.Write(data[from : from+1000])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	f.URL = s.URL + "/" + f.Name
	_, err := Resolve(context.Background(), f, NoProgress())
	if !errors.Is(err, fastgo.ErrNotFound) || !strings.Contains(err.Error(), f.URL) {
		t.Fatalf("always truncated: %v", err)
	}
	if n := len(s.requests()); n != maxAttempts {
		t.Errorf("%d requests, want %d", n, maxAttempts)
	}
	noFinal(t, cache, f)
	if st, err := os.Stat(filepath.Join(cache, f.Name+".part")); err != nil || st.Size() != maxAttempts*1000 {
		t.Errorf("the part file: %v, %v", st, err)
	}
}

// TestDownloadResume: a part left by an earlier run is resumed with a
// Range request for the rest only.
func TestDownloadResume(t *testing.T) {
	cache, _ := isolate(t)
	data, f := payload(fileSize, "")
	s := newServer(t, data, func(s *server, w http.ResponseWriter, r *http.Request, _ int) { s.serve(w, r) })
	f.URL = s.URL + "/" + f.Name
	have := 1<<20 + 7
	put(t, cache, f.Name+".part", data[:have])
	var out bytes.Buffer
	p, err := Resolve(context.Background(), f, ProgressTo(&out))
	if err != nil {
		t.Fatal(err)
	}
	verifiedFinal(t, p, cache, f, data)
	if got := s.requests(); len(got) != 1 || got[0] != "bytes="+strconv.Itoa(have)+"-" {
		t.Errorf("requests' ranges %q, want bytes=%d-", got, have)
	}
	if !strings.Contains(out.String(), "resuming at 1.0 MiB") {
		t.Errorf("progress %q does not say it resumed", out.String())
	}
}

// TestDownloadResumeSpoiled: a part left by an earlier run that does not
// belong to the file fails the checksum and is downloaded again whole;
// a server that ignores Range restarts the part from the first byte.
func TestDownloadResumeSpoiled(t *testing.T) {
	for _, ranges := range []bool{true, false} {
		t.Run("ranges="+strconv.FormatBool(ranges), func(t *testing.T) {
			cache, _ := isolate(t)
			data, f := payload(fileSize, "")
			s := newServer(t, data, func(s *server, w http.ResponseWriter, r *http.Request, _ int) {
				if !ranges {
					r.Header.Del("Range")
				}
				s.serve(w, r)
			})
			f.URL = s.URL + "/" + f.Name
			put(t, cache, f.Name+".part", bytes.Repeat([]byte{0xaa}, 5000))
			p, err := Resolve(context.Background(), f, NoProgress())
			if err != nil {
				t.Fatal(err)
			}
			verifiedFinal(t, p, cache, f, data)
		})
	}
}

// TestDownloadWrongChecksum: a file that does not match is deleted and
// the error names both digests; nothing is left in the cache.
func TestDownloadWrongChecksum(t *testing.T) {
	cache, _ := isolate(t)
	data, f := payload(fileSize, "")
	other := bytes.Clone(data)
	other[12345] ^= 1
	s := newServer(t, other, func(s *server, w http.ResponseWriter, r *http.Request, _ int) { s.serve(w, r) })
	f.URL = s.URL + "/" + f.Name
	_, err := Resolve(context.Background(), f, NoProgress())
	if !errors.Is(err, fastgo.ErrNotFound) || !errors.Is(err, fastgo.ErrFormat) || !strings.Contains(err.Error(), f.SHA256) {
		t.Fatalf("wrong checksum: %v", err)
	}
	noFinal(t, cache, f)
	if _, err := os.Stat(filepath.Join(cache, f.Name+".part")); !os.IsNotExist(err) {
		t.Errorf("a download that failed its checksum is kept (%v)", err)
	}
}

// TestDownloadTooLong: a server that sends more than the published size
// is cut off.
func TestDownloadTooLong(t *testing.T) {
	cache, _ := isolate(t)
	data, f := payload(fileSize, "")
	s := newServer(t, append(bytes.Clone(data), 1, 2, 3), func(s *server, w http.ResponseWriter, r *http.Request, _ int) {
		w.Write(s.data) // no Content-Length: chunked
	})
	f.URL = s.URL + "/" + f.Name
	if _, err := Resolve(context.Background(), f, NoProgress()); !errors.Is(err, fastgo.ErrNotFound) || !strings.Contains(err.Error(), "more bytes") {
		t.Fatalf("too long: %v", err)
	}
	noFinal(t, cache, f)
}

func TestDownloadServerError(t *testing.T) {
	cache, _ := isolate(t)
	data, f := payload(1000, "")
	s := newServer(t, data, func(s *server, w http.ResponseWriter, r *http.Request, _ int) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	})
	f.URL = s.URL + "/" + f.Name
	_, err := Resolve(context.Background(), f, NoProgress())
	if !errors.Is(err, fastgo.ErrNotFound) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("server error: %v", err)
	}
	if len(s.requests()) != 1 {
		t.Errorf("%d requests for a server error, want 1", len(s.requests()))
	}
	noFinal(t, cache, f)
}

// TestDownloadCancel: cancelling the context stops the download with an
// error wrapping context.Canceled; the part is kept for a later run.
func TestDownloadCancel(t *testing.T) {
	cache, _ := isolate(t)
	data, f := payload(fileSize, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newServer(t, data, func(s *server, w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:1<<20])
		w.(http.Flusher).Flush()
		cancel()
		<-r.Context().Done()
	})
	f.URL = s.URL + "/" + f.Name
	start := time.Now()
	_, err := Resolve(ctx, f, NoProgress())
	if !errors.Is(err, context.Canceled) || !errors.Is(err, fastgo.ErrNotFound) {
		t.Fatalf("cancelled: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the cancelled download took %v", d)
	}
	noFinal(t, cache, f)
	if len(s.requests()) != 1 {
		t.Errorf("%d requests after the cancellation, want 1", len(s.requests()))
	}
}

// TestDownloadStall: a server that stops sending fails the download after
// the idle timeout instead of hanging.
func TestDownloadStall(t *testing.T) {
	cache, _ := isolate(t)
	data, f := payload(fileSize, "")
	release := make(chan struct{})
	defer close(release)
	s := newServer(t, data, func(s *server, w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:1000])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	f.URL = s.URL + "/" + f.Name
	_, err := Resolve(context.Background(), f, NoProgress(), IdleTimeout(200*time.Millisecond))
	if !errors.Is(err, fastgo.ErrNotFound) || !strings.Contains(err.Error(), "nothing received") {
		t.Fatalf("stalled: %v", err)
	}
	noFinal(t, cache, f)
}

// TestDownloadOffline: FASTGO_OFFLINE and a refused connection are both
// the not-found error, without a wait.
func TestDownloadOffline(t *testing.T) {
	isolate(t)
	data, f := payload(1000, "")
	s := newServer(t, data, func(s *server, w http.ResponseWriter, r *http.Request, _ int) { s.serve(w, r) })
	f.URL = s.URL + "/" + f.Name
	t.Setenv(EnvOffline, "1")
	if _, err := Resolve(context.Background(), f, NoProgress()); !errors.Is(err, fastgo.ErrNotFound) || !strings.Contains(err.Error(), f.URL) {
		t.Fatalf("offline: %v", err)
	}
	if _, err := Resolve(context.Background(), f, NoProgress()); len(s.requests()) != 0 {
		t.Errorf("offline: %d requests (%v)", len(s.requests()), err)
	}
	t.Setenv(EnvOffline, "0") // "0" allows downloads
	if _, err := Resolve(context.Background(), f, NoProgress()); err != nil {
		t.Errorf("FASTGO_OFFLINE=0: %v", err)
	}

	isolate(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.URL = "http://" + l.Addr().String() + "/" + f.Name
	l.Close() // nothing listens there now
	_, err = Resolve(context.Background(), f, NoProgress())
	if !errors.Is(err, fastgo.ErrNotFound) || !strings.Contains(err.Error(), f.Name) {
		t.Fatalf("no network: %v", err)
	}
}

// TestBar draws the terminal bar into a buffer: the file's name and its
// size, through a resumed start, to completion; an aborted bar ends too.
func TestBar(t *testing.T) {
	_, f := payload(10, "")
	f.Size = 4 << 20
	for _, fail := range []bool{false, true} {
		var out bytes.Buffer
		b := &barProgress{w: &out, f: f}
		b.start(1<<20, f.Size)
		for i := 0; i < 12; i++ {
			b.add(256 << 10)
		}
		var err error
		if fail {
			err = errors.New("stopped")
		}
		b.finish(err)
		if s := out.String(); !strings.Contains(s, f.Name) || !strings.Contains(s, "4.0 MiB") {
			t.Errorf("bar (failed %v): %q", fail, s)
		}
	}
}
