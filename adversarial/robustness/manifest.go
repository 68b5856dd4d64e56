package robustness

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/fastgo-ml/fastgo/internal/kernels"
	"github.com/fastgo-ml/fastgo/layers"
	"github.com/fastgo-ml/fastgo/tensor"
)

// Manifest says what a report measured and how to measure it again: the
// hashes of the model's weights and of the evaluated inputs and labels,
// the suite's full configuration (seeds included), fastgo's version and
// the kernel tier. Two runs with equal manifests on the same tier give
// bit-identical per-sample outcomes.
type Manifest struct {
	// Fastgo is fastgo's version: the module version of the build, or
	// "(devel)" with the VCS revision when built from a checkout.
	Fastgo string `json:"fastgo"`
	// Go is the Go toolchain's version.
	Go string `json:"go"`
	// KernelTier is the kernel tier in use ("avx512", "avx2", "generic";
	// several, comma-separated, in a report merged from machines that
	// differ).
	KernelTier string `json:"kernel_tier"`
	// Weights is the SHA-256 of the model's state dict (names, shapes and
	// values in state-dict order; empty for a prediction function).
	Weights string `json:"weights_sha256,omitempty"`
	// Inputs is the SHA-256 of the evaluated inputs (shape and float32
	// values), all samples, not only a shard's.
	Inputs string `json:"inputs_sha256"`
	// Labels is the SHA-256 of the labels, all samples.
	Labels string `json:"labels_sha256"`
	// Samples is the number of samples of the whole evaluation.
	Samples int `json:"samples"`
	// Suite is the suite's configuration.
	Suite SuiteConfig `json:"suite"`
	// SuiteHash is the SHA-256 of Suite's JSON.
	SuiteHash string `json:"suite_sha256"`
	// Shard is the slice evaluated (nil: all the samples).
	Shard *Shard `json:"shard,omitempty"`
	// Command is the command line that re-runs the evaluation, after
	// "fastgo" (set by fastgo robustness: "robustness" and its flags but
	// the output and the shard).
	Command []string `json:"command,omitempty"`
}

// SuiteConfig is a suite's configuration, as recorded in a manifest.
type SuiteConfig struct {
	// Version is the AutoAttack version (empty: a suite of one's own).
	Version Version `json:"version,omitempty"`
	// Norm, Lo and Hi are the threat model.
	Norm string  `json:"norm"`
	Lo   float64 `json:"lo"`
	Hi   float64 `json:"hi"`
	// Eps is the suite's eps, ascending.
	Eps []float64 `json:"eps"`
	// Attacks and AutoAttack describe the entries.
	Attacks    []EntryConfig `json:"attacks"`
	AutoAttack []EntryConfig `json:"autoattack"`
	// Unbounded describes the unbounded attack (empty: none).
	Unbounded string `json:"unbounded,omitempty"`
	// GradientCheck and Tolerance are the suite's fields of those names.
	GradientCheck bool    `json:"gradient_check"`
	Tolerance     float64 `json:"tolerance"`
	// Passes is the number of passes each example is scored over (a
	// randomised model's protocol; 1 otherwise).
	Passes int `json:"passes"`
}

// EntryConfig describes one entry of a suite: its attack's type and every
// setting of it (seed included).
type EntryConfig struct {
	// Name is the entry's name in the report.
	Name string `json:"name"`
	// Attack is the attack's Go type and every field of it, seed included.
	Attack string `json:"attack"`
	// Kind is the entry's AttackKind.
	Kind AttackKind `json:"kind"`
	// Targeted says the entry runs a targeted attack.
	Targeted bool `json:"targeted,omitempty"`
	// Access and Budget are a black-box entry's access (scores or labels)
	// and query budget.
	Access string `json:"access,omitempty"`
	Budget int    `json:"budget,omitempty"`
	// Eps is the entry's own eps list, when it has one.
	Eps []float64 `json:"eps,omitempty"`
	// MinClasses is the number of classes the entry needs.
	MinClasses int `json:"min_classes,omitempty"`
}

var pointerRE = regexp.MustCompile(`0x[0-9a-f]+`)

// describe returns a value's type and fields, pointers elided.
func describe(v any) string {
	if v == nil {
		return ""
	}
	return pointerRE.ReplaceAllString(fmt.Sprintf("%T%+v", v, v), "ptr")
}

// Config returns the suite's configuration for a manifest.
func (s Suite) Config() SuiteConfig {
	lo, hi := s.Threat.Bounds()
	eps, _ := s.validate()
	c := SuiteConfig{Version: s.Version, Norm: s.Threat.Norm.String(), Lo: lo, Hi: hi, Eps: eps,
		GradientCheck: s.GradientCheck, Tolerance: s.Tolerance, Passes: s.Passes}
	if c.Tolerance == 0 {
		c.Tolerance = 0.01
	}
	if c.Passes == 0 {
		c.Passes = 20
	}
	entry := func(e SuiteAttack) EntryConfig {
		ec := EntryConfig{Name: e.DisplayName(), Kind: e.kind(), Targeted: e.Targets != nil, Eps: e.Eps, MinClasses: e.MinClasses}
		if e.Attack != nil {
			ec.Attack = describe(e.Attack)
		} else {
			ec.Attack = describe(e.BlackBox)
			ec.Access = e.Access.String()
			ec.Budget = e.Budget
		}
		return ec
	}
	for _, e := range s.Attacks {
		c.Attacks = append(c.Attacks, entry(e))
	}
	for _, e := range s.AutoAttack {
		c.AutoAttack = append(c.AutoAttack, entry(e))
	}
	if s.Unbounded != nil {
		c.Unbounded = describe(s.Unbounded)
	}
	return c
}

// Version returns fastgo's version: the main module's version in the
// build information, with the VCS revision when built from a checkout.
func fastgoVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if bi.Main.Path != "github.com/fastgo-ml/fastgo" {
		for _, d := range bi.Deps {
			if d.Path == "github.com/fastgo-ml/fastgo" {
				v = d.Version
			}
		}
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v
}

func newManifest(tgt evalTarget, x *tensor.Tensor, labels []int, s Suite, eps []float64) (*Manifest, error) {
	m := &Manifest{Fastgo: fastgoVersion(), Go: runtime.Version(), KernelTier: kernels.Tier(),
		Inputs: HashInputs(x), Labels: HashLabels(labels), Samples: len(labels), Suite: s.Config()}
	m.Suite.Eps = eps
	b, err := json.Marshal(m.Suite)
	if err != nil {
		return nil, fmt.Errorf("robustness: manifest: %w", err)
	}
	sum := sha256.Sum256(b)
	m.SuiteHash = hex.EncodeToString(sum[:])
	if tgt.module != nil {
		m.Weights = HashWeights(tgt.module)
	}
	if s.Shard.Count > 0 {
		sh := s.Shard
		m.Shard = &sh
	}
	return m, nil
}

// HashWeights returns the SHA-256 of m's state dict: each entry's name,
// shape and values (little-endian float32 or int64), in state-dict order.
func HashWeights(m layers.Module) string {
	sd := layers.GetStateDict(m)
	h := sha256.New()
	for _, n := range sd.Names {
		writeString(h, n)
		if t := sd.Tensors[n]; t != nil {
			writeTensor(h, t)
		} else {
			writeInt(h, sd.Ints[n])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// HashInputs returns the SHA-256 of x's shape and float32 values.
func HashInputs(x *tensor.Tensor) string {
	h := sha256.New()
	writeTensor(h, x)
	return hex.EncodeToString(h.Sum(nil))
}

// HashLabels returns the SHA-256 of the labels (int64, little-endian).
func HashLabels(labels []int) string {
	h := sha256.New()
	writeInt(h, int64(len(labels)))
	for _, y := range labels {
		writeInt(h, int64(y))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeString(h hash.Hash, s string) {
	writeInt(h, int64(len(s)))
	h.Write([]byte(s))
}

func writeInt(h hash.Hash, v int64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v))
	h.Write(b[:])
}

func writeTensor(h hash.Hash, t *tensor.Tensor) {
	sh := t.Shape()
	writeInt(h, int64(len(sh)))
	for _, d := range sh {
		writeInt(h, int64(d))
	}
	buf := make([]byte, 4*4096)
	data := t.Data()
	for s := 0; s < len(data); s += 4096 {
		part := data[s:min(s+4096, len(data))]
		for i, v := range part {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		h.Write(buf[:4*len(part)])
	}
}

// sameRun returns what differs between two manifests' evaluations (the
// model, the data, the suite), ignoring the shard, the command and the
// machine.
func (m *Manifest) sameRun(o *Manifest) []string {
	var d []string
	if m.Weights != o.Weights {
		d = append(d, fmt.Sprintf("weights %s != %s", short(m.Weights), short(o.Weights)))
	}
	if m.Inputs != o.Inputs {
		d = append(d, fmt.Sprintf("inputs %s != %s", short(m.Inputs), short(o.Inputs)))
	}
	if m.Labels != o.Labels {
		d = append(d, fmt.Sprintf("labels %s != %s", short(m.Labels), short(o.Labels)))
	}
	if m.Samples != o.Samples {
		d = append(d, fmt.Sprintf("%d samples != %d", m.Samples, o.Samples))
	}
	if m.SuiteHash != o.SuiteHash {
		d = append(d, fmt.Sprintf("suite %s != %s", short(m.SuiteHash), short(o.SuiteHash)))
	}
	return d
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "(none)"
	}
	return h
}

// Markdown returns the manifest as a Markdown list.
func (m *Manifest) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "- fastgo %s, %s, kernel tier %s\n", m.Fastgo, m.Go, m.KernelTier)
	if m.Weights != "" {
		fmt.Fprintf(&b, "- weights SHA-256 `%s`\n", m.Weights)
	}
	fmt.Fprintf(&b, "- inputs SHA-256 `%s` (%d samples), labels SHA-256 `%s`\n", m.Inputs, m.Samples, m.Labels)
	v := string(m.Suite.Version)
	if v == "" {
		v = "custom"
	}
	fmt.Fprintf(&b, "- suite (%s, %s, eps %v) SHA-256 `%s`\n", v, m.Suite.Norm, m.Suite.Eps, m.SuiteHash)
	for _, e := range append(append([]EntryConfig(nil), m.Suite.Attacks...), m.Suite.AutoAttack...) {
		fmt.Fprintf(&b, "  - %s: `%s`\n", e.Name, e.Attack)
	}
	if m.Shard != nil {
		fmt.Fprintf(&b, "- shard %s\n", m.Shard)
	}
	if len(m.Command) > 0 {
		fmt.Fprintf(&b, "- command: `fastgo %s`\n", strings.Join(m.Command, " "))
	}
	return b.String()
}
