package weights

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fastgo-ml/fastgo"
)

// File describes a published weights file: what torchvision calls a
// weights entry (ResNet18_Weights.IMAGENET1K_V1) and torch.hub downloads.
type File struct {
	// Name is the file's name as published ("resnet18-f37072fd.pth"): the
	// name looked for in every place and given to the downloaded file. It
	// must be a plain file name, without a directory.
	Name string
	// URL is the official address of the file
	// ("https://download.pytorch.org/models/resnet18-f37072fd.pth"), or ""
	// for a file that is never downloaded.
	URL string
	// SHA256 is the file's SHA-256 in hexadecimal: all 64 digits, or,
	// when only that is known, a prefix of at least 8 (the digits that
	// torchvision puts in its file names and torch.hub checks).
	SHA256 string
	// Size is the file's size in bytes, or 0 when unknown. A download
	// longer than Size is refused; it also sizes the progress bar.
	Size int64
}

// Check reports whether f is a usable description: a plain file name, an
// http or https URL (or none) and a SHA-256 of 8 to 64 lower-case
// hexadecimal digits.
func (f File) Check() error {
	switch {
	case f.Name == "" || f.Name == "." || f.Name == ".." || strings.ContainsAny(f.Name, `/\`) || filepath.Base(f.Name) != f.Name:
		return fmt.Errorf("weights: %q is not a plain file name", f.Name)
	case len(f.SHA256) < 8 || len(f.SHA256) > 64 || strings.Trim(f.SHA256, "0123456789abcdef") != "":
		return fmt.Errorf("weights: %s: SHA-256 %q is not 8 to 64 lower-case hexadecimal digits", f.Name, f.SHA256)
	case f.Size < 0:
		return fmt.Errorf("weights: %s: size %d", f.Name, f.Size)
	}
	if f.URL != "" {
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("weights: %s: %q is not an http or https address", f.Name, f.URL)
		}
	}
	return nil
}

// FullHash reports whether f.SHA256 holds all 64 digits of the digest,
// rather than a prefix of it.
func (f File) FullHash() bool { return len(f.SHA256) == 64 }

// Verify checks that the file at path has f's SHA-256 (all of it, or the
// prefix f.SHA256 holds, as torch.hub's check_hash does). A mismatch is an
// error wrapping fastgo.ErrFormat that names the file and both digests
// (and both sizes when they differ).
func (f File) Verify(path string) error {
	if err := f.Check(); err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	key := verifiedKey{path, st.Size(), st.ModTime(), f.SHA256}
	if _, ok := verified.Load(key); ok {
		return nil
	}
	r, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("weights: reading %s: %w", path, err)
	}
	if err := f.checkDigest(path, h.Sum(nil)); err != nil {
		if f.Size > 0 && st.Size() != f.Size {
			return fmt.Errorf("%w (the file has %d bytes, the published one %d)", err, st.Size(), f.Size)
		}
		return err
	}
	verified.Store(key, true)
	return nil
}

// checkDigest compares a computed SHA-256 with f's.
func (f File) checkDigest(path string, sum []byte) error {
	got := hex.EncodeToString(sum)
	if strings.HasPrefix(got, f.SHA256) {
		return nil
	}
	what := "SHA-256"
	if !f.FullHash() {
		what = fmt.Sprintf("SHA-256 prefix (%d digits)", len(f.SHA256))
	}
	return fmt.Errorf("weights: %s: SHA-256 %s does not match the published %s's %s %s: %w", path, got, f.Name, what, f.SHA256, fastgo.ErrFormat)
}

// verifiedKey identifies a file already verified by this process.
type verifiedKey struct {
	path    string
	size    int64
	modTime time.Time
	sha     string
}

// verified remembers the files Verify accepted, so that building many
// learners from one file hashes it once.
var verified sync.Map

// The environment variables Resolve reads.
const (
	// EnvWeights names a weights file, or a directory holding published
	// files under their names.
	EnvWeights = "FASTGO_WEIGHTS"
	// EnvCache is fastgo's cache directory; weights go to its weights
	// folder (default: os.UserCacheDir()/fastgo).
	EnvCache = "FASTGO_CACHE"
	// EnvOffline, when set to anything but "" or "0", forbids downloads.
	EnvOffline = "FASTGO_OFFLINE"
	// EnvTorchHome is PyTorch's home, whose hub/checkpoints folder holds
	// what torch.hub downloaded (default: $XDG_CACHE_HOME/torch, else
	// ~/.cache/torch, as PyTorch's own default).
	EnvTorchHome = "TORCH_HOME"
)

// Option configures Resolve.
type Option func(*config)

type config struct {
	path     string
	offline  bool
	client   *http.Client
	progress io.Writer
	quiet    bool
	idle     time.Duration
}

// Path makes Resolve return path, which must exist, before looking
// anywhere else: the caller's own file (.pth, .pt or .safetensors, any
// name), used as it is, without a checksum. An empty path is ignored.
func Path(path string) Option { return func(c *config) { c.path = path } }

// Offline forbids the download, as FASTGO_OFFLINE does.
func Offline() Option { return func(c *config) { c.offline = true } }

// Client sets the HTTP client of the download (default: one with
// connection, TLS and response-header timeouts of 30 seconds).
func Client(client *http.Client) Option { return func(c *config) { c.client = client } }

// ProgressTo shows the download's progress on w: a bar when w is a
// terminal, a line at every tenth otherwise (default: standard error).
func ProgressTo(w io.Writer) Option { return func(c *config) { c.progress, c.quiet = w, false } }

// NoProgress shows nothing of the download.
func NoProgress() Option { return func(c *config) { c.quiet = true } }

// IdleTimeout sets how long the download may receive nothing before it
// fails (default 60 seconds), so that a stalled connection never hangs.
func IdleTimeout(d time.Duration) Option { return func(c *config) { c.idle = d } }

// defaultClient fetches weights: bounded connection and header waits, no
// bound on the whole transfer (the idle timeout catches stalls).
var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&netDialer).DialContext,
	TLSHandshakeTimeout:   30 * time.Second,
	ResponseHeaderTimeout: 30 * time.Second,
}}

// Place is one place Resolve looks for a file.
type Place struct {
	// Path is the file's path there.
	Path string
	// What says what the place is ("$FASTGO_WEIGHTS", "the fastgo cache",
	// "PyTorch's cache").
	What string
	// Verify is true for a file found by its published name, whose
	// SHA-256 is checked.
	Verify bool
}

// Places returns where Resolve looks for f, in order, after an explicit
// Path: $FASTGO_WEIGHTS (the file it names, or f.Name in the directory it
// names), f.Name in the fastgo cache, then in PyTorch's cache. A place
// whose directory cannot be known (no home directory) is left out.
func Places(f File) []Place {
	var ps []Place
	if env := os.Getenv(EnvWeights); env != "" {
		if st, err := os.Stat(env); err == nil && !st.IsDir() {
			ps = append(ps, Place{Path: env, What: "$" + EnvWeights})
		} else {
			ps = append(ps, Place{Path: filepath.Join(env, f.Name), What: "$" + EnvWeights, Verify: true})
		}
	}
	if dir, err := CacheDir(); err == nil {
		ps = append(ps, Place{Path: filepath.Join(dir, f.Name), What: "the fastgo cache", Verify: true})
	}
	if dir, err := TorchCacheDir(); err == nil {
		ps = append(ps, Place{Path: filepath.Join(dir, f.Name), What: "PyTorch's cache", Verify: true})
	}
	return ps
}

// CacheDir returns the directory fastgo downloads weights into:
// $FASTGO_CACHE/weights, or <user cache directory>/fastgo/weights
// (~/.cache/fastgo/weights on Linux).
func CacheDir() (string, error) {
	if env := os.Getenv(EnvCache); env != "" {
		return filepath.Join(env, "weights"), nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("weights: no cache directory (set %s): %w", EnvCache, err)
	}
	return filepath.Join(dir, "fastgo", "weights"), nil
}

// TorchCacheDir returns the directory where torch.hub keeps what it
// downloads, as PyTorch computes it: $TORCH_HOME/hub/checkpoints, else
// $XDG_CACHE_HOME/torch/hub/checkpoints, else
// ~/.cache/torch/hub/checkpoints.
func TorchCacheDir() (string, error) {
	home := os.Getenv(EnvTorchHome)
	if home == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("weights: no home directory for PyTorch's cache: %w", err)
			}
			cache = filepath.Join(h, ".cache")
		}
		home = filepath.Join(cache, "torch")
	}
	return filepath.Join(home, "hub", "checkpoints"), nil
}

// offlineEnv reports whether FASTGO_OFFLINE forbids downloads.
func offlineEnv() bool {
	v := os.Getenv(EnvOffline)
	return v != "" && v != "0"
}

// Resolve returns the path of f's weights, looking in order at:
//
//  1. the path given with the Path option, used as it is;
//  2. $FASTGO_WEIGHTS: the file it names, used as it is, or f.Name in the
//     directory it names;
//  3. f.Name in the fastgo cache (CacheDir);
//  4. f.Name in PyTorch's cache (TorchCacheDir), where torchvision keeps
//     the files it downloaded;
//  5. a download from f.URL into the fastgo cache, unless FASTGO_OFFLINE
//     is set or the Offline option given (see the package documentation).
//
// A file found under f.Name (2 to 4) must have f's SHA-256 (see Verify):
// one that does not is an error, not skipped. When the file is nowhere and
// cannot be downloaded the error wraps fastgo.ErrNotFound and names the
// file, its address and every place it may be put; a failed download's
// cause (a network error, a server's status, a checksum mismatch,
// ctx's cancellation) is wrapped too.
func Resolve(ctx context.Context, f File, opts ...Option) (string, error) {
	if err := f.Check(); err != nil {
		return "", err
	}
	c := config{client: defaultClient, progress: os.Stderr, idle: 60 * time.Second}
	for _, o := range opts {
		o(&c)
	}
	if c.path != "" {
		st, err := os.Stat(c.path)
		if err != nil {
			return "", fmt.Errorf("weights: %w", err)
		}
		if st.IsDir() {
			return "", fmt.Errorf("weights: %s is a directory, want a weights file", c.path)
		}
		return c.path, nil
	}
	places := Places(f)
	for _, p := range places {
		st, err := os.Stat(p.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return "", fmt.Errorf("weights: %w", err)
		case st.IsDir():
			return "", fmt.Errorf("weights: %s (%s) is a directory, want the weights file", p.Path, p.What)
		}
		if p.Verify {
			if err := f.Verify(p.Path); err != nil {
				return "", fmt.Errorf("%w (found in %s: delete or replace it)", err, p.What)
			}
		}
		return p.Path, nil
	}
	var why error
	dir, dirErr := CacheDir()
	switch {
	case f.URL == "":
		why = errors.New("it has no download address")
	case c.offline || offlineEnv():
		why = fmt.Errorf("%s is set", EnvOffline)
	case dirErr != nil:
		why = dirErr
	default:
		path, err := download(ctx, &c, f, dir)
		if err == nil {
			return path, nil
		}
		why = err
	}
	return "", notFound(f, places, why)
}

// notFound is Resolve's error when the file is nowhere and could not be
// downloaded.
func notFound(f File, places []Place, why error) error {
	var where []string
	if os.Getenv(EnvWeights) == "" {
		where = append(where, "a directory named by $"+EnvWeights)
	}
	for _, p := range places {
		where = append(where, filepath.Dir(p.Path)+" ("+p.What+")")
	}
	get := "it has no download address"
	if f.URL != "" {
		get = "download it from " + f.URL
	}
	return fmt.Errorf("weights: %s not found and not downloaded (%w): %s and put it in %s, or pass its path: %w",
		f.Name, why, get, strings.Join(where, ", or "), fastgo.ErrNotFound)
}
