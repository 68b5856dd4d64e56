package models

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzArchConfig: an export's architecture configuration is outside data;
// every builder checks it without panicking, and what passes the check is
// within the size limit.
func FuzzArchConfig(f *testing.F) {
	r18, _ := json.Marshal(CNNConfig{ResNet: ResNetConfig{Layers: [4]int{2, 2, 2, 2}, InChannels: 1}, NOut: 10})
	for _, s := range []string{string(r18), `{"classes":10}`, `{"in_channels":3,"classes":10}`, `{"Block":1,"Layers":[3,4,6,3]}`,
		`{"resnet":{"Layers":[1,1,1,1],"Widths":[8,16,24,32]},"n_out":3,"mean":[0.5],"std":[0]}`, `{"Layers":[256,256,256,256],"Widths":[8192,8192,8192,8192]}`} {
		for name := range builders {
			f.Add(name, s)
		}
	}
	f.Fuzz(func(t *testing.T, name, raw string) {
		b, ok := builders[name]
		if !ok {
			return
		}
		_, err := b(json.RawMessage(raw), false)
		if err == nil {
			t.Fatal("a check-only build returned no error")
		}
		if errors.Is(err, errCheckOnly) {
			var c CNNConfig
			if json.Unmarshal([]byte(raw), &c) == nil && name == ArchCNN {
				if n, _ := resNetParams(c.ResNet); n > maxArchParams {
					t.Fatalf("%s passed with %g parameters", raw, n)
				}
			}
		}
	})
}
