package robustness

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Part is one part of a sharded evaluation, for MergeReports: a report
// written with Suite.Shard set, and a name for errors (its file).
type Part struct {
	// Name names the part in errors.
	Name string
	// Report is the part's report.
	Report *Report
}

// MergeReports merges the parts of a sharded evaluation (one report per
// shard i/n, i from 0 to n-1, in any order) into the report of the whole
// run: the same per-sample outcomes, the same figures and checks as a
// single run of the suite on all the samples (wall times aside: each
// entry's is the sum over the parts). A missing or duplicated shard, or a
// part of another evaluation (other weights, inputs, labels or suite, or
// another version of fastgo), is an error naming the part.
func MergeReports(parts ...Part) (*Report, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("robustness.MergeReports: no parts")
	}
	if err := checkParts(parts); err != nil {
		return nil, err
	}
	byIndex, err := orderShards(parts)
	if err != nil {
		return nil, err
	}
	return mergeShards(byIndex)
}

// checkParts checks that every part is a shard's report with a manifest
// and per-sample outcomes.
func checkParts(parts []Part) error {
	for _, p := range parts {
		r := p.Report
		if r == nil || r.Manifest == nil || r.Outcomes == nil {
			return fmt.Errorf("robustness.MergeReports: %s: not a report of fastgo with a manifest and per-sample outcomes", p.Name)
		}
		if r.Manifest.Shard == nil {
			return fmt.Errorf("robustness.MergeReports: %s: not a part of a sharded evaluation (no shard in its manifest)", p.Name)
		}
		if err := r.Manifest.Shard.check(); err != nil || r.Manifest.Shard.Count < 1 || r.Manifest.Samples < r.Manifest.Shard.Count {
			return fmt.Errorf("robustness.MergeReports: %s: shard %s of %d samples", p.Name, r.Manifest.Shard, r.Manifest.Samples)
		}
	}
	return nil
}

// orderShards checks that the parts are the shards of one evaluation, each
// holding its shard's samples, and returns them by shard index (all
// present, none twice).
func orderShards(parts []Part) ([]*Part, error) {
	ref := parts[0]
	n := ref.Report.Manifest.Shard.Count
	byIndex := make([]*Part, n)
	for k := range parts {
		p := &parts[k]
		m := p.Report.Manifest
		if d := ref.Report.Manifest.sameRun(m); len(d) > 0 {
			return nil, fmt.Errorf("robustness.MergeReports: %s is not a part of the evaluation of %s: %s", p.Name, ref.Name, strings.Join(d, ", "))
		}
		if m.Fastgo != ref.Report.Manifest.Fastgo {
			return nil, fmt.Errorf("robustness.MergeReports: %s was written by fastgo %s, %s by fastgo %s", p.Name, m.Fastgo, ref.Name, ref.Report.Manifest.Fastgo)
		}
		if m.Shard.Count != n {
			return nil, fmt.Errorf("robustness.MergeReports: %s is shard %s, %s shard %s: the parts split the samples differently", p.Name, m.Shard, ref.Name, ref.Report.Manifest.Shard)
		}
		if m.Shard.Index < 0 || m.Shard.Index >= n {
			return nil, fmt.Errorf("robustness.MergeReports: %s: shard %s out of range", p.Name, m.Shard)
		}
		if q := byIndex[m.Shard.Index]; q != nil {
			return nil, fmt.Errorf("robustness.MergeReports: %s and %s are both shard %s", q.Name, p.Name, m.Shard)
		}
		byIndex[m.Shard.Index] = p
		if lo, hi := m.Shard.Range(m.Samples); p.Report.Outcomes.First != lo || p.Report.Samples != hi-lo {
			return nil, fmt.Errorf("robustness.MergeReports: %s holds samples %d to %d, shard %s is %d to %d", p.Name, p.Report.Outcomes.First, p.Report.Outcomes.First+p.Report.Samples-1, m.Shard, lo, hi-1)
		}
		if (p.Report.Randomised != nil && p.Report.Randomised.Detected) != (ref.Report.Randomised != nil && ref.Report.Randomised.Detected) {
			return nil, fmt.Errorf("robustness.MergeReports: %s and %s disagree on whether the model is randomised", p.Name, ref.Name)
		}
		if err := sameShape(ref.Report, p.Report); err != nil {
			return nil, fmt.Errorf("robustness.MergeReports: %s and %s: %w", ref.Name, p.Name, err)
		}
	}
	var missing []string
	for i, p := range byIndex {
		if p == nil {
			missing = append(missing, Shard{Index: i, Count: n}.String())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("robustness.MergeReports: missing shard %s", strings.Join(missing, ", "))
	}
	return byIndex, nil
}

// mergeShards concatenates the shards' reports, in order, into the report
// of the whole run.
func mergeShards(byIndex []*Part) (*Report, error) {
	first := byIndex[0].Report
	out := &Report{Norm: first.Norm, Lo: first.Lo, Hi: first.Hi, Eps: slices.Clone(first.Eps), Classes: slices.Clone(first.Classes)}
	man := *first.Manifest
	man.Shard = nil
	oc := &Outcomes{Tolerance: first.Outcomes.Tolerance, Passes: first.Outcomes.Passes}
	var tiers []string
	for _, p := range byIndex {
		r := p.Report
		out.Samples += r.Samples
		out.Labels = append(out.Labels, r.Labels...)
		out.CleanPred = append(out.CleanPred, r.CleanPred...)
		out.Seconds += r.Seconds
		if !slices.Contains(tiers, r.Manifest.KernelTier) {
			tiers = append(tiers, r.Manifest.KernelTier)
		}
		if r.Randomised != nil {
			if out.Randomised == nil {
				rd := *r.Randomised
				out.Randomised = &rd
			}
			out.Randomised.MaxDifference = math.Max(out.Randomised.MaxDifference, r.Randomised.MaxDifference)
		}
		oc.Attacks = appendEntries(oc.Attacks, r.Outcomes.Attacks)
		oc.Cascade = appendEntries(oc.Cascade, r.Outcomes.Cascade)
		if u := r.Outcomes.Unbounded; u != nil {
			if oc.Unbounded == nil {
				oc.Unbounded = &EntryOutcomes{Name: u.Name, Kind: u.Kind, Eps: []EpsOutcomes{notAttacked(out.Samples - r.Samples)}}
			}
			appendEntry(oc.Unbounded, u)
		} else if oc.Unbounded != nil {
			oc.Unbounded.Eps[0] = appendRow(oc.Unbounded.Eps[0], notAttacked(r.Samples))
		}
		oc.Gradients += gradientsOr(r.Outcomes.Gradients, r.Samples)
	}
	if !strings.ContainsAny(oc.Gradients, ".zn") {
		oc.Gradients = ""
	}
	sort.Strings(tiers)
	man.KernelTier = strings.Join(tiers, ",")
	out.Manifest, out.Outcomes = &man, oc
	if out.Samples != man.Samples {
		return nil, fmt.Errorf("robustness.MergeReports: the parts hold %d samples, the evaluation %d", out.Samples, man.Samples)
	}
	if err := oc.check(out.Samples, out.Eps); err != nil {
		return nil, fmt.Errorf("robustness.MergeReports: %w", err)
	}
	assemble(out)
	return out, nil
}

// sameShape checks that two parts ran the same entries at the same eps.
func sameShape(a, b *Report) error {
	if !slices.Equal(a.Eps, b.Eps) {
		return fmt.Errorf("eps %v and %v", a.Eps, b.Eps)
	}
	for _, g := range [][2][]EntryOutcomes{{a.Outcomes.Attacks, b.Outcomes.Attacks}, {a.Outcomes.Cascade, b.Outcomes.Cascade}} {
		if len(g[0]) != len(g[1]) {
			return fmt.Errorf("%d and %d entries", len(g[0]), len(g[1]))
		}
		for k := range g[0] {
			x, y := g[0][k], g[1][k]
			if x.Name != y.Name || x.Skipped != y.Skipped || len(x.Eps) != len(y.Eps) {
				return fmt.Errorf("entry %d: %s and %s", k, x.Name, y.Name)
			}
			for j := range x.Eps {
				if x.Eps[j].Eps != y.Eps[j].Eps {
					return fmt.Errorf("%s at eps %g and %g", x.Name, x.Eps[j].Eps, y.Eps[j].Eps)
				}
			}
		}
	}
	return nil
}

// appendEntries appends each entry's rows of src to dst's (dst empty:
// copies of src's entries).
func appendEntries(dst, src []EntryOutcomes) []EntryOutcomes {
	if dst == nil {
		dst = make([]EntryOutcomes, len(src))
		for k, e := range src {
			dst[k] = EntryOutcomes{Name: e.Name, Kind: e.Kind, Targeted: e.Targeted, Skipped: e.Skipped, Eps: make([]EpsOutcomes, len(e.Eps))}
		}
	}
	for k := range src {
		appendEntry(&dst[k], &src[k])
	}
	return dst
}

func appendEntry(dst, src *EntryOutcomes) {
	dst.Seconds += src.Seconds
	for j := range src.Eps {
		dst.Eps[j] = appendRow(dst.Eps[j], src.Eps[j])
	}
}

// appendRow appends b's samples to a's.
func appendRow(a, b EpsOutcomes) EpsOutcomes {
	na, nb := len(a.States), len(b.States)
	a.Eps = b.Eps
	a.Seconds += b.Seconds
	a.States += b.States
	a.Norms = append(a.Norms, b.Norms...)
	if a.Queries != nil || b.Queries != nil {
		a.Queries = append(zerosIfNil(a.Queries, na), zerosIfNil(b.Queries, nb)...)
	}
	if a.PassRobust != nil || b.PassRobust != nil {
		a.PassRobust = append(sharesIfNil(a.PassRobust, a.States[:na]), sharesIfNil(b.PassRobust, b.States)...)
	}
	return a
}

func zerosIfNil(v []int, n int) []int {
	if v == nil {
		return make([]int, n)
	}
	return v
}

func sharesIfNil(v []float64, states string) []float64 {
	if v != nil {
		return v
	}
	out := make([]float64, len(states))
	for i := range out {
		if states[i] == StateRobust {
			out[i] = 1
		}
	}
	return out
}

func notAttacked(n int) EpsOutcomes {
	return EpsOutcomes{States: strings.Repeat(string(StateNotAttacked), n), Norms: make([]float64, n)}
}

func gradientsOr(g string, n int) string {
	if g == "" {
		return strings.Repeat("-", n)
	}
	return g
}

// SampleDiff is a sample whose outcome differs between two reports.
type SampleDiff struct {
	// Sample is the sample's index among all the evaluated samples.
	Sample int
	// What says what differs ("APGD-CE at eps 0.1: robust, then fooled").
	What string
}

// Comparison is CompareReports' result.
type Comparison struct {
	// Manifest lists what differs between the manifests' evaluations
	// (weights, inputs, labels, suite).
	Manifest []string
	// SameTier says whether both ran on the same kernel tier, where the
	// comparison is bit for bit (norms included); across tiers only the
	// states (robust, fooled) are compared.
	SameTier bool
	// Samples lists the samples whose outcomes differ, in order.
	Samples []SampleDiff
}

// OK reports whether nothing differs.
func (c *Comparison) OK() bool { return len(c.Manifest) == 0 && len(c.Samples) == 0 }

// SampleList returns the differing samples' indices, comma-separated.
func (c *Comparison) SampleList() string {
	var s []string
	for _, d := range c.Samples {
		if len(s) == 0 || s[len(s)-1] != fmt.Sprint(d.Sample) {
			s = append(s, fmt.Sprint(d.Sample))
		}
	}
	return strings.Join(s, ", ")
}

// CompareReports compares a re-run (got) with the report it re-runs
// (want), sample by sample: the clean predictions and every entry's
// per-sample outcome (state, norm, queries, share of robust passes; norms
// and shares only on the same kernel tier, where a re-run is bit for bit).
// Both must hold per-sample outcomes of the same samples.
func CompareReports(want, got *Report) (*Comparison, error) {
	if want.Outcomes == nil || got.Outcomes == nil || want.Manifest == nil || got.Manifest == nil {
		return nil, fmt.Errorf("robustness.CompareReports: both reports need a manifest and per-sample outcomes")
	}
	if want.Outcomes.First != got.Outcomes.First || want.Samples != got.Samples {
		return nil, fmt.Errorf("robustness.CompareReports: the reports hold samples %d-%d and %d-%d", want.Outcomes.First, want.Outcomes.First+want.Samples-1, got.Outcomes.First, got.Outcomes.First+got.Samples-1)
	}
	c := &Comparison{Manifest: want.Manifest.sameRun(got.Manifest), SameTier: want.Manifest.KernelTier == got.Manifest.KernelTier}
	off := want.Outcomes.First
	for i := range want.CleanPred {
		if want.CleanPred[i] != got.CleanPred[i] {
			c.Samples = append(c.Samples, SampleDiff{off + i, fmt.Sprintf("clean prediction %d, then %d", want.CleanPred[i], got.CleanPred[i])})
		}
	}
	cmpEntries := func(group string, a, b []EntryOutcomes) {
		if len(a) != len(b) {
			c.Manifest = append(c.Manifest, fmt.Sprintf("%s: %d entries, then %d", group, len(a), len(b)))
			return
		}
		for k := range a {
			if a[k].Name != b[k].Name || len(a[k].Eps) != len(b[k].Eps) {
				c.Manifest = append(c.Manifest, fmt.Sprintf("%s %d: %s, then %s", group, k, a[k].Name, b[k].Name))
				continue
			}
			for j := range a[k].Eps {
				c.cmpRows(off, a[k].Name, &a[k].Eps[j], &b[k].Eps[j])
			}
		}
	}
	cmpEntries("attacks", want.Outcomes.Attacks, got.Outcomes.Attacks)
	cmpEntries("cascade", want.Outcomes.Cascade, got.Outcomes.Cascade)
	if (want.Outcomes.Unbounded == nil) == (got.Outcomes.Unbounded == nil) && want.Outcomes.Unbounded != nil {
		c.cmpRows(off, "unbounded "+want.Outcomes.Unbounded.Name, &want.Outcomes.Unbounded.Eps[0], &got.Outcomes.Unbounded.Eps[0])
	}
	if g1, g2 := want.Outcomes.Gradients, got.Outcomes.Gradients; len(g1) == len(g2) {
		for i := 0; i < len(g1); i++ {
			if g1[i] != g2[i] {
				c.Samples = append(c.Samples, SampleDiff{off + i, fmt.Sprintf("gradient check %q, then %q", g1[i], g2[i])})
			}
		}
	}
	sort.SliceStable(c.Samples, func(a, b int) bool { return c.Samples[a].Sample < c.Samples[b].Sample })
	return c, nil
}

var stateNames = map[byte]string{StateNotAttacked: "not attacked", StateRobust: "robust", StateSucceeded: "fooled", StateMissed: "fooled off target"}

func (c *Comparison) cmpRows(off int, name string, a, b *EpsOutcomes) {
	if len(a.States) != len(b.States) {
		return
	}
	for i := 0; i < len(a.States); i++ {
		var what string
		switch {
		case a.States[i] != b.States[i]:
			what = fmt.Sprintf("%s, then %s", stateNames[a.States[i]], stateNames[b.States[i]])
		case !c.SameTier:
		case a.Norms[i] != b.Norms[i]:
			what = fmt.Sprintf("norm %v, then %v", a.Norms[i], b.Norms[i])
		case a.query(i) != b.query(i):
			what = fmt.Sprintf("%d queries, then %d", a.query(i), b.query(i))
		case a.passShare(i) != b.passShare(i):
			what = fmt.Sprintf("robust in %.4g of the passes, then %.4g", a.passShare(i), b.passShare(i))
		}
		if what != "" {
			c.Samples = append(c.Samples, SampleDiff{off + i, fmt.Sprintf("%s at eps %g: %s", name, a.Eps, what)})
		}
	}
}
