package layers

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fastgo-ml/fastgo/tensor"
)

// StateDict is a module's saved state: float32 tensors (parameters and
// buffers) and integer scalars (such as num_batches_tracked), by dotted name,
// with the names in PyTorch's state_dict order.
type StateDict struct {
	// Names lists every entry, tensors and integers, in state_dict order.
	Names []string
	// Tensors holds the parameters and float buffers by name.
	Tensors map[string]*tensor.Tensor
	// Ints holds the integer buffers (num_batches_tracked) by name.
	Ints map[string]int64
}

// Clone returns a deep copy of sd: its own tensors, names and integers, so
// that the module it came from can change without changing the copy (a
// snapshot to restore later with LoadStateDict).
func (sd *StateDict) Clone() *StateDict {
	cp := &StateDict{Names: append([]string(nil), sd.Names...), Tensors: make(map[string]*tensor.Tensor, len(sd.Tensors)), Ints: make(map[string]int64, len(sd.Ints))}
	for n, t := range sd.Tensors {
		cp.Tensors[n] = t.Clone()
	}
	for n, v := range sd.Ints {
		cp.Ints[n] = v
	}
	return cp
}

// NonFinite returns the name of the first tensor of sd, in its order, that
// holds a NaN or an infinity, and the element's index; ok is false when
// every value is finite. It reads every value once and allocates nothing,
// so a training loop can call it after each step.
func (sd *StateDict) NonFinite() (name string, at int, ok bool) {
	for _, n := range sd.Names {
		t := sd.Tensors[n]
		if t == nil {
			continue
		}
		for i, x := range t.Data() {
			if x-x != 0 { // 0 for every finite x, NaN otherwise
				return n, i, true
			}
		}
	}
	return "", 0, false
}

// GetStateDict returns m's state: for each module in pre-order, its
// parameters, then its float buffers, then its integer buffers, as PyTorch's
// state_dict does. The tensors are m's own (not copies).
func GetStateDict(m Module) *StateDict {
	sd := &StateDict{Tensors: map[string]*tensor.Tensor{}, Ints: map[string]int64{}}
	for _, nm := range Modules(m) {
		b := nm.Module.Core()
		for _, p := range b.params {
			n := join(nm.Name, p.name)
			sd.Names = append(sd.Names, n)
			sd.Tensors[n] = p.p.Data()
		}
		for _, t := range b.buffers {
			n := join(nm.Name, t.name)
			sd.Names = append(sd.Names, n)
			sd.Tensors[n] = t.t
		}
		for _, t := range b.ints {
			n := join(nm.Name, t.name)
			sd.Names = append(sd.Names, n)
			sd.Ints[n] = *t.v
		}
	}
	return sd
}

// LoadReport lists what a lenient load did not match.
type LoadReport struct {
	// Missing are names m has that the state lacks.
	Missing []string
	// Unexpected are names the state has that m lacks.
	Unexpected []string
	// Mismatched are names whose shapes differ, as "name: have [..], got [..]".
	Mismatched []string
}

// Clean reports whether everything matched.
func (r *LoadReport) Clean() bool {
	return len(r.Missing) == 0 && len(r.Unexpected) == 0 && len(r.Mismatched) == 0
}

// String lists what did not match, as "missing a, b; unexpected c; shape
// mismatch d: have [..], got [..]", or "" when everything matched.
func (r *LoadReport) String() string {
	var parts []string
	if len(r.Missing) > 0 {
		parts = append(parts, "missing "+strings.Join(r.Missing, ", "))
	}
	if len(r.Unexpected) > 0 {
		parts = append(parts, "unexpected "+strings.Join(r.Unexpected, ", "))
	}
	if len(r.Mismatched) > 0 {
		parts = append(parts, "shape mismatch "+strings.Join(r.Mismatched, "; "))
	}
	return strings.Join(parts, "; ")
}

// LoadStateDict copies the tensors of sd into m. With strict, any missing,
// unexpected or mis-shaped entry is an error naming it, and nothing is
// changed; otherwise the entries that match are loaded and the report lists
// the rest. An entry of the wrong kind (an integer where m has a float
// tensor, or the other way round) counts as mis-shaped.
func LoadStateDict(m Module, sd *StateDict, opts ...Option) (*LoadReport, error) {
	strict := !resolve("LoadStateDict", inLoad, opts).nonStrict
	own := GetStateDict(m)
	rep := &LoadReport{}
	bad := map[string]bool{}
	mismatch := func(n, format string, args ...any) {
		rep.Mismatched = append(rep.Mismatched, n+": "+fmt.Sprintf(format, args...))
		bad[n] = true
	}
	for _, n := range own.Names {
		if t, ok := own.Tensors[n]; ok {
			src, ok := sd.Tensors[n]
			switch {
			case ok && src == nil:
				mismatch(n, "have %v, got a nil tensor", t.Shape())
			case ok && !tensor.SameShape(t.Shape(), src.Shape()):
				mismatch(n, "have %v, got %v", t.Shape(), src.Shape())
			case !ok:
				if _, isInt := sd.Ints[n]; isInt {
					mismatch(n, "have a float tensor %v, got an integer", t.Shape())
				} else {
					rep.Missing = append(rep.Missing, n)
				}
			}
			continue
		}
		if _, ok := sd.Ints[n]; !ok {
			if src, isFloat := sd.Tensors[n]; isFloat {
				shape := []int(nil)
				if src != nil {
					shape = src.Shape()
				}
				mismatch(n, "have an integer, got a float tensor %v", shape)
			} else {
				rep.Missing = append(rep.Missing, n)
			}
		}
	}
	for n := range sd.Tensors {
		if _, ok := own.Tensors[n]; !ok && !bad[n] {
			rep.Unexpected = append(rep.Unexpected, n)
		}
	}
	for n := range sd.Ints {
		if _, ok := own.Ints[n]; !ok && !bad[n] {
			rep.Unexpected = append(rep.Unexpected, n)
		}
	}
	sort.Strings(rep.Unexpected)
	if strict && !rep.Clean() {
		return rep, fmt.Errorf("layers.LoadStateDict: %s", rep)
	}
	for _, nm := range Modules(m) {
		b := nm.Module.Core()
		for _, p := range b.params {
			n := join(nm.Name, p.name)
			if src, ok := sd.Tensors[n]; ok && !bad[n] {
				p.p.Data().CopyFrom(src)
			}
		}
		for _, t := range b.buffers {
			n := join(nm.Name, t.name)
			if src, ok := sd.Tensors[n]; ok && !bad[n] {
				t.t.CopyFrom(src)
			}
		}
		for _, t := range b.ints {
			n := join(nm.Name, t.name)
			if v, ok := sd.Ints[n]; ok && !bad[n] {
				*t.v = v
			}
		}
	}
	return rep, nil
}
