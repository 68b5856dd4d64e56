package layers

import (
	"strings"

	"github.com/fastgo-ml/fastgo"
	"github.com/fastgo-ml/fastgo/autograd"
)

// ParamGroups splits the parameters of root into groups, one per part, as
// a fastai splitter does (L(m.body, m.head).map(params)): group i holds the
// parameters of parts[i], each named by its dotted path from root, in
// NamedParameters order. Each part must be root itself or a module in root's
// tree, the parts must not share a parameter, and together they must hold
// every parameter of root, so that no parameter silently escapes the
// optimizer or a freeze; otherwise ParamGroups panics naming the part or the
// parameters. Freeze a group with FreezeGroups, or pass the groups to an
// optimizer, one optim.ParamGroup each.
func ParamGroups(root Module, parts ...Module) [][]NamedParam {
	names := map[Module]string{}
	for _, nm := range Modules(root) {
		if _, seen := names[nm.Module]; !seen {
			names[nm.Module] = nm.Name
		}
	}
	owner := map[string]int{}
	groups := make([][]NamedParam, len(parts))
	for i, part := range parts {
		prefix, ok := names[part]
		if !ok {
			panic(fastgo.Errorf("layers.ParamGroups: part %d (%T) is not in the module tree of %T", i, part, root))
		}
		for _, np := range NamedParameters(part) {
			np.Name = join(prefix, np.Name)
			if j, dup := owner[np.Name]; dup {
				panic(fastgo.Errorf("layers.ParamGroups: parameter %s is in parts %d and %d", np.Name, j, i))
			}
			owner[np.Name] = i
			groups[i] = append(groups[i], np)
		}
	}
	var left []string
	for _, np := range NamedParameters(root) {
		if _, ok := owner[np.Name]; !ok {
			left = append(left, np.Name)
		}
	}
	if len(left) > 0 {
		panic(fastgo.Errorf("layers.ParamGroups: parameters %s are in no part", strings.Join(left, ", ")))
	}
	return groups
}

// FreezeGroups freezes the parameter groups before n and unfreezes the
// others, as fastai's freeze_to(n) (a negative n counts from the end, so -1
// freezes all but the last group). The parameters of norm layers (IsNorm,
// searched for in root) stay trainable in frozen groups, as with fastai's
// train_bn, unless FreezeNorm is given. It returns the number of frozen
// groups.
func FreezeGroups(root Module, groups [][]NamedParam, n int, opts ...Option) int {
	keepNorm := !resolve("FreezeGroups", inFreeze, opts).freezeNorm
	if n < 0 {
		n += len(groups)
	}
	n = max(0, min(n, len(groups)))
	norm := map[*autograd.Value]bool{}
	if keepNorm {
		norm = NormParams(root)
	}
	for i, g := range groups {
		for _, np := range g {
			np.Param.SetRequiresGrad(i >= n || norm[np.Param])
		}
	}
	return n
}

// NormParams returns the set of root's parameters that belong to norm
// layers (IsNorm): the parameters fastai keeps training in frozen groups
// and spares from weight decay.
func NormParams(root Module) map[*autograd.Value]bool {
	out := map[*autograd.Value]bool{}
	for _, nm := range Modules(root) {
		if IsNorm(nm.Module) {
			for _, p := range Parameters(nm.Module) {
				out[p] = true
			}
		}
	}
	return out
}
