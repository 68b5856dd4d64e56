package optim

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/fastgo-ml/fastgo/tensor"
	"github.com/fastgo-ml/fastgo/tensor/safetensors"
)

// Encode returns s as the entries of a safetensors file:
//
//	state.<group>.<index>.<buffer>  F32 tensors (exp_avg, momentum_buffer...)
//	state.<group>.<index>.step      I64 scalars (steps taken, when not 0)
//	optim.kind                      metadata: "SGD", "Adam", "AdamW", "RMSProp"
//	optim.groups                    metadata: the number of groups
//	optim.<group>.params            metadata: the number of params of a group
//	optim.<group>.<hyper>           metadata: a hyper-parameter, as the
//	                                shortest decimal that reads back exactly
//
// The tensors are s's own, not copies.
func (s *State) Encode() (map[string]*tensor.Tensor, map[string]safetensors.Int64Tensor, map[string]string) {
	tensors := map[string]*tensor.Tensor{}
	ints := map[string]safetensors.Int64Tensor{}
	meta := map[string]string{
		"optim.kind":   s.Kind,
		"optim.groups": strconv.Itoa(len(s.Groups)),
	}
	for gi, g := range s.Groups {
		meta[fmt.Sprintf("optim.%d.params", gi)] = strconv.Itoa(len(g.Params))
		for name, v := range g.Hyper {
			meta[fmt.Sprintf("optim.%d.%s", gi, name)] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		for pi, p := range g.Params {
			prefix := fmt.Sprintf("state.%d.%d.", gi, pi)
			if p.Step != 0 {
				ints[prefix+"step"] = safetensors.Int64Tensor{Data: []int64{p.Step}}
			}
			for name, t := range p.Buffers {
				tensors[prefix+name] = t
			}
		}
	}
	return tensors, ints, meta
}

// maxStateParams bounds the parameters an optimizer state read from a file
// may claim (the largest torchvision models have a few hundred parameter
// tensors).
const maxStateParams = 1 << 16

// DecodeState reads a State that Encode wrote from f. It reads only the
// "state." entries and the "optim." metadata, so the same file may hold
// other tensors, such as a model's weights. The counts it reads are checked
// against the file and bounds before anything is allocated for them.
func DecodeState(f *safetensors.File) (*State, error) {
	meta := f.Metadata()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("optim: state: "+format, args...)
	}
	kind, ok := meta["optim.kind"]
	if !ok {
		return nil, bad("no optim.kind metadata")
	}
	atoi := func(key string) (int, error) {
		v, ok := meta[key]
		if !ok {
			return 0, bad("no %s metadata", key)
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1<<20 {
			return 0, bad("%s = %q is not a valid count", key, v)
		}
		return n, nil
	}
	ngroups, err := atoi("optim.groups")
	if err != nil {
		return nil, err
	}
	// The counts come from the file: each group needs its own metadata
	// entry, and the parameters together stay under maxStateParams, before
	// anything is allocated for them.
	if ngroups > len(meta) {
		return nil, bad("optim.groups = %d, but the file has %d metadata entries", ngroups, len(meta))
	}
	counts := make([]int, ngroups)
	total := 0
	for gi := range counts {
		if counts[gi], err = atoi(fmt.Sprintf("optim.%d.params", gi)); err != nil {
			return nil, err
		}
		if total += counts[gi]; total > maxStateParams {
			return nil, bad("the groups claim more than %d parameters", maxStateParams)
		}
	}
	s := &State{Kind: kind, Groups: make([]GroupState, ngroups)}
	for gi, n := range counts {
		s.Groups[gi] = GroupState{Hyper: map[string]float64{}, Params: make([]ParamState, n)}
		for pi := range s.Groups[gi].Params {
			s.Groups[gi].Params[pi].Buffers = map[string]*tensor.Tensor{}
		}
	}
	for key, v := range meta {
		rest, ok := strings.CutPrefix(key, "optim.")
		if !ok || rest == "kind" || rest == "groups" {
			continue
		}
		gs, name, ok := strings.Cut(rest, ".")
		gi, err := strconv.Atoi(gs)
		if !ok || err != nil || gi < 0 || gi >= ngroups {
			return nil, bad("metadata %s names no group", key)
		}
		if name == "params" {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) {
			return nil, bad("metadata %s = %q is not a number", key, v)
		}
		s.Groups[gi].Hyper[name] = x
	}
	for _, name := range f.Names() {
		rest, ok := strings.CutPrefix(name, "state.")
		if !ok {
			continue
		}
		parts := strings.SplitN(rest, ".", 3)
		if len(parts) != 3 {
			return nil, bad("tensor %q is not state.<group>.<index>.<buffer>", name)
		}
		gi, err1 := strconv.Atoi(parts[0])
		pi, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil || gi < 0 || gi >= ngroups || pi < 0 || pi >= len(s.Groups[gi].Params) {
			return nil, bad("tensor %q names no parameter", name)
		}
		ps := &s.Groups[gi].Params[pi]
		if parts[2] == "step" {
			v, err := f.Int64(name)
			if err != nil {
				return nil, err
			}
			if len(v.Data) != 1 || v.Data[0] < 0 {
				return nil, bad("tensor %q is not a step count", name)
			}
			ps.Step = v.Data[0]
			continue
		}
		t, err := f.Tensor(name)
		if err != nil {
			return nil, err
		}
		ps.Buffers[parts[2]] = t
	}
	return s, nil
}

// Save writes o's state to the safetensors file at path, atomically (see
// safetensors.Save).
func Save(path string, o Optimizer) error {
	tensors, ints, meta := o.StateDict().Encode()
	return safetensors.Save(path, tensors, safetensors.Ints(ints), safetensors.Metadata(meta))
}

// Load restores into o the state saved at path by Save. o must be built over
// the same parameter groups as the saved optimizer; on error it is unchanged.
func Load(path string, o Optimizer) error {
	f, err := safetensors.Load(path)
	if err != nil {
		return err
	}
	s, err := DecodeState(f)
	if err == nil {
		err = o.LoadStateDict(s)
	}
	if err != nil {
		return fmt.Errorf("optim: loading %s: %w", path, err)
	}
	return nil
}
