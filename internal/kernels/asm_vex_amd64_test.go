package kernels

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestAssemblyIsAllVEX checks that no instruction of the generated
// kernels touches a vector register through a legacy-SSE encoding (one
// without the V prefix, such as MOVD R9, X0). Between VEX or EVEX code, such
// an instruction can pay for a change of the upper-state: on an Intel Xeon
// four MOVDs at the entry of the AVX2 max pool made each call cost about
// 300 ns more, three times the pool of a whole 28x28 plane.
func TestAssemblyIsAllVEX(t *testing.T) {
	f, err := os.Open("kernels_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vec := regexp.MustCompile(`\b[XYZ]\d+\b`)
	var fn string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "TEXT ") {
			fn = text
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 2 || strings.HasPrefix(text, "//") || strings.HasSuffix(fields[0], ":") {
			continue
		}
		op := fields[0]
		if strings.HasPrefix(op, "V") || strings.HasPrefix(op, "K") {
			continue
		}
		if vec.MatchString(strings.Join(fields[1:], " ")) {
			t.Errorf("kernels_amd64.s:%d (%s): %q uses a vector register without a VEX encoding", line, fn, text)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}
