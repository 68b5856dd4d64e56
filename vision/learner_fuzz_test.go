package vision

import (
	"testing"
)

// FuzzParseItemTransform: the item transforms of an export file are
// outside data; parsing them never panics, and what parses describes
// itself back.
func FuzzParseItemTransform(f *testing.F) {
	for _, s := range []string{"Resize(28, 28, Crop)", "CenterCrop(5, 6)", "RandomResizedCrop(32, 32, 0.35)", "Resize(-1, 2, Pad)", "X()", "Resize(2,2,Squish)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tf, err := parseItemTransform(s)
		if err != nil {
			return
		}
		if _, err := parseItemTransform(describe(tf)); err != nil {
			t.Fatalf("%q parsed to %q, which does not parse: %v", s, describe(tf), err)
		}
	})
}
