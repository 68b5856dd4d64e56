package vision

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests offline, as CI does: FASTGO_OFFLINE is set, and
// fastgo's and PyTorch's weight caches are empty temporary directories, so
// that a CNNLearner that would look for pretrained weights fails at once
// instead of downloading, and no developer's cached files change a
// result. Tests that need the network or a cache set their own.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fastgo-vision-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for k, v := range map[string]string{
		"FASTGO_OFFLINE": "1", "FASTGO_WEIGHTS": "",
		"FASTGO_CACHE": dir + "/fastgo", "TORCH_HOME": dir + "/torch",
	} {
		os.Setenv(k, v)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
