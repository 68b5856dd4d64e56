package weights

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastgo-ml/fastgo"
)

// isolate points every place Resolve looks at empty temporary
// directories, and allows downloads.
func isolate(t *testing.T) (cache, torch string) {
	t.Helper()
	root := t.TempDir()
	t.Setenv(EnvWeights, "")
	t.Setenv(EnvCache, filepath.Join(root, "fastgo"))
	t.Setenv(EnvTorchHome, filepath.Join(root, "torch"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(root, "xdg"))
	t.Setenv("HOME", filepath.Join(root, "home"))
	t.Setenv(EnvOffline, "")
	return filepath.Join(root, "fastgo", "weights"), filepath.Join(root, "torch", "hub", "checkpoints")
}

// payload returns n deterministic bytes and the File describing them.
func payload(n int, url string) ([]byte, File) {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	sum := sha256.Sum256(b)
	return b, File{Name: "tiny-" + hex.EncodeToString(sum[:4]) + ".pth", URL: url, SHA256: hex.EncodeToString(sum[:]), Size: int64(n)}
}

// put writes b to dir/name.
func put(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolveOrder(t *testing.T) {
	cache, torch := isolate(t)
	t.Setenv(EnvOffline, "1")
	b, f := payload(1000, "https://example.invalid/tiny.pth")
	ctx := context.Background()
	resolve := func() string {
		t.Helper()
		p, err := Resolve(ctx, f, NoProgress())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Nowhere: offline, an error naming the file, the address and the places.
	_, err := Resolve(ctx, f, NoProgress())
	if !errors.Is(err, fastgo.ErrNotFound) {
		t.Fatalf("nowhere and offline: %v, want fastgo.ErrNotFound", err)
	}
	for _, want := range []string{f.Name, f.URL, cache, torch, EnvWeights, EnvOffline} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not name %s", err, want)
		}
	}
	// PyTorch's cache, then the fastgo cache before it.
	inTorch := put(t, torch, f.Name, b)
	if got := resolve(); got != inTorch {
		t.Errorf("found %s, want PyTorch's copy %s", got, inTorch)
	}
	inCache := put(t, cache, f.Name, b)
	if got := resolve(); got != inCache {
		t.Errorf("found %s, want the fastgo cache's %s", got, inCache)
	}
	// $FASTGO_WEIGHTS as a directory, then as a file of any name.
	dir := t.TempDir()
	inDir := put(t, dir, f.Name, b)
	t.Setenv(EnvWeights, dir)
	if got := resolve(); got != inDir {
		t.Errorf("found %s, want $FASTGO_WEIGHTS's %s", got, inDir)
	}
	mine := put(t, t.TempDir(), "converted.safetensors", []byte("not checked"))
	t.Setenv(EnvWeights, mine)
	if got := resolve(); got != mine {
		t.Errorf("found %s, want the file $FASTGO_WEIGHTS names, %s", got, mine)
	}
	// An explicit path comes first, and must exist.
	explicit := put(t, t.TempDir(), "model.pth", []byte("anything"))
	if got, err := Resolve(ctx, f, Path(explicit)); err != nil || got != explicit {
		t.Errorf("Path: %q, %v, want %s", got, err, explicit)
	}
	missing := filepath.Join(t.TempDir(), "missing.pth")
	if _, err := Resolve(ctx, f, Path(missing)); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("a missing explicit path: %v", err)
	}
}

// TestResolveDefaultDirs: without $TORCH_HOME PyTorch's cache is under
// $XDG_CACHE_HOME, else ~/.cache; without $FASTGO_CACHE fastgo's is under
// the user cache directory.
func TestResolveDefaultDirs(t *testing.T) {
	isolate(t)
	root := t.TempDir()
	t.Setenv(EnvTorchHome, "")
	t.Setenv(EnvCache, "")
	t.Setenv("XDG_CACHE_HOME", filepath.Join(root, "xdg"))
	t.Setenv("HOME", filepath.Join(root, "home"))
	dir, err := TorchCacheDir()
	if want := filepath.Join(root, "xdg", "torch", "hub", "checkpoints"); err != nil || dir != want {
		t.Errorf("TorchCacheDir() = %q, %v, want %s", dir, err, want)
	}
	ucd, err := os.UserCacheDir()
	if err != nil {
		t.Skip(err)
	}
	if dir, err := CacheDir(); err != nil || dir != filepath.Join(ucd, "fastgo", "weights") {
		t.Errorf("CacheDir() = %q, %v, want under %s", dir, err, ucd)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	dir, err = TorchCacheDir()
	if want := filepath.Join(root, "home", ".cache", "torch", "hub", "checkpoints"); err != nil || dir != want {
		t.Errorf("TorchCacheDir() = %q, %v, want %s", dir, err, want)
	}
}

// TestResolveCorrupt: a file under the published name that does not match
// its checksum is an error naming it, not used and not skipped.
func TestResolveCorrupt(t *testing.T) {
	cache, torch := isolate(t)
	b, f := payload(1000, "")
	put(t, torch, f.Name, b)
	bad := bytes.Clone(b)
	bad[500] ^= 1
	p := put(t, cache, f.Name, bad)
	_, err := Resolve(context.Background(), f, NoProgress())
	if !errors.Is(err, fastgo.ErrFormat) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), f.SHA256) {
		t.Fatalf("a corrupt cached file: %v, want fastgo.ErrFormat naming %s and the digest", err, p)
	}
	short := put(t, cache, f.Name, b[:999])
	if _, err := Resolve(context.Background(), f, NoProgress()); !errors.Is(err, fastgo.ErrFormat) || !strings.Contains(err.Error(), "999 bytes, the published one 1000") {
		t.Fatalf("a short cached file %s: %v", short, err)
	}
}

// TestVerify checks full and prefix digests, and that a file changed
// after a successful check is checked again.
func TestVerify(t *testing.T) {
	b, f := payload(4096, "")
	p := put(t, t.TempDir(), f.Name, b)
	if err := f.Verify(p); err != nil {
		t.Fatal(err)
	}
	prefix := f
	prefix.SHA256 = f.SHA256[:8] // as torch.hub's check_hash
	if err := prefix.Verify(p); err != nil {
		t.Fatalf("prefix: %v", err)
	}
	wrong := prefix
	wrong.SHA256 = "00000000"
	if err := wrong.Verify(p); !errors.Is(err, fastgo.ErrFormat) || !strings.Contains(err.Error(), "prefix") {
		t.Errorf("a wrong prefix: %v", err)
	}
	b[0] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	if err := f.Verify(p); !errors.Is(err, fastgo.ErrFormat) {
		t.Errorf("a file changed since it verified: %v", err)
	}
}

func TestFileCheck(t *testing.T) {
	_, good := payload(10, "https://download.pytorch.org/models/x.pth")
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]File{
		"directory in name": {Name: "../x.pth", SHA256: good.SHA256},
		"empty name":        {SHA256: good.SHA256},
		"short hash":        {Name: "x.pth", SHA256: "abc"},
		"upper-case hash":   {Name: "x.pth", SHA256: strings.ToUpper(good.SHA256)},
		"not hex":           {Name: "x.pth", SHA256: "f37072fz"},
		"ftp address":       {Name: "x.pth", SHA256: good.SHA256, URL: "ftp://example.com/x.pth"},
		"negative size":     {Name: "x.pth", SHA256: good.SHA256, Size: -1},
	} {
		if err := f.Check(); err == nil {
			t.Errorf("%s: Check accepted %+v", name, f)
		}
		if _, err := Resolve(context.Background(), f); err == nil {
			t.Errorf("%s: Resolve accepted %+v", name, f)
		}
	}
}
