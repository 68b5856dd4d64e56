package vision

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/fastgo-ml/fastgo/vision/models"
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

// FuzzArchConfig: an export's architecture configuration is outside data;
// every builder checks it without panicking, and what passes the check is
// within the size limit.
func FuzzArchConfig(f *testing.F) {
	r18, _ := json.Marshal(models.CNNConfig{ResNet: models.ResNetConfig{Layers: [4]int{2, 2, 2, 2}, InChannels: 1}, NOut: 10})
	for _, s := range []string{string(r18), `{"classes":10}`, `{"in_channels":3,"classes":10}`, `{"Block":1,"Layers":[3,4,6,3]}`,
		`{"resnet":{"Layers":[1,1,1,1],"Widths":[8,16,24,32]},"n_out":3,"mean":[0.5],"std":[0]}`, `{"Layers":[256,256,256,256],"Widths":[8192,8192,8192,8192]}`} {
		for name := range archBuilders {
			f.Add(name, s)
		}
	}
	f.Fuzz(func(t *testing.T, name, raw string) {
		b, ok := archBuilders[name]
		if !ok {
			return
		}
		_, err := b(json.RawMessage(raw), false)
		if err == nil {
			t.Fatal("a check-only build returned no error")
		}
		if errors.Is(err, errCheckOnly) {
			var c models.CNNConfig
			if json.Unmarshal([]byte(raw), &c) == nil && name == ArchCNN {
				if n, _ := resNetParams(c.ResNet); n > maxArchParams {
					t.Fatalf("%s passed with %g parameters", raw, n)
				}
			}
		}
	})
}
