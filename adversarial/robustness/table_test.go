package robustness

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// tableReport is sampleReport with the rows that once broke the alignment:
// a black-box attack's queries beside white-box dashes, an attack that
// ran at one eps only, and a skipped one.
func tableReport(t *testing.T) *Report {
	rep := sampleReport(t, 40)
	squareOnlyAt(rep)
	rep.Attacks = append(rep.Attacks, AttackReport{Name: "HopSkipJump", Kind: BlackBoxKind, Skipped: "needs more classes"})
	return rep
}

func TestTableColumnsLineUp(t *testing.T) {
	rep := tableReport(t)
	header, rows := rep.rows()
	tab := rep.Table()
	var lines []string
	for _, l := range strings.Split(tab, "\n") {
		if strings.HasPrefix(l, "attack ") || len(lines) > 0 && l != "" {
			lines = append(lines, l)
		} else if len(lines) > 0 {
			break
		}
	}
	if len(lines) != 1+len(rows) {
		t.Fatalf("%d table lines for %d rows:\n%s", len(lines), len(rows), tab)
	}
	// Each cell sits in its column's span: cut every line at the same
	// offsets and get the cells back.
	w := columnWidths(header, nil)
	for _, row := range rows {
		for k := range row {
			if k != lastCell(row) {
				w[k] = max(w[k], len(row[k]))
			}
		}
	}
	for i, l := range lines {
		want := header
		if i > 0 {
			want = rows[i-1]
		}
		r := []rune(l + strings.Repeat(" ", 300))
		at := 0
		for k := range w {
			span := w[k]
			if k == lastCell(want) {
				span = max(span, len(want[k])) // a wide last cell runs on
			}
			got := strings.TrimSpace(string(r[at : at+span]))
			if got != want[k] {
				t.Errorf("line %d, column %q: %q at offset %d, want %q\n%s", i, header[k], got, at, want[k], tab)
			}
			if k > 0 && r[at-1] != ' ' {
				t.Errorf("line %d: column %q does not start after a space", i, header[k])
			}
			if span > w[k] {
				break // the rest of the row is blank
			}
			at += w[k] + 2
		}
		if strings.HasSuffix(l, " ") {
			t.Errorf("line %d ends with a space: %q", i, l)
		}
	}
	// The skipped attack's reason does not widen the robust accuracy
	// column beyond its header and numbers.
	if w[3] != len("robust acc") {
		t.Errorf("robust acc column %d wide", w[3])
	}
}

func TestMarkdownTableLinesUp(t *testing.T) {
	rep := tableReport(t)
	md := rep.Markdown()
	var lines []string
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "|") {
			lines = append(lines, l)
		}
	}
	_, rows := rep.rows()
	if len(lines) != 2+len(rows) {
		t.Fatalf("%d table lines for %d rows", len(lines), len(rows))
	}
	bars := func(l string) []int {
		var at []int
		for i, r := range []rune(l) {
			if r == '|' && (i == 0 || []rune(l)[i-1] != '\\') {
				at = append(at, i)
			}
		}
		return at
	}
	want := bars(lines[0])
	if len(want) != 10 {
		t.Fatalf("header with %d cells: %q", len(want)-1, lines[0])
	}
	for i, l := range lines {
		if got := bars(l); !slices.Equal(got, want) {
			t.Errorf("line %d: bars at %v, header's at %v\n%s", i, got, want, strings.Join(lines, "\n"))
		}
		if utf8.RuneCountInString(l) != utf8.RuneCountInString(lines[0]) {
			t.Errorf("line %d has %d characters, the header %d", i, utf8.RuneCountInString(l), utf8.RuneCountInString(lines[0]))
		}
	}
	if !strings.Contains(lines[1], "-: |") || !strings.HasPrefix(lines[1], "| ---") {
		t.Errorf("separator %q: want text columns left, numbers right (---:)", lines[1])
	}
	if !strings.Contains(md, "skipped: needs more classes") {
		t.Error("the skipped attack's reason is missing")
	}
}

func TestOneSampleIsSingular(t *testing.T) {
	rep := &Report{Norm: "Linf", Hi: 1, Samples: 1, Correct: 1, CleanAccuracy: 1, Labels: []int{0}, CleanPred: []int{0}}
	for name, text := range map[string]string{"table": rep.Table(), "Markdown": rep.Markdown()} {
		if strings.Contains(text, "1 samples") || !strings.Contains(text, "1 sample:") {
			t.Errorf("%s: %q", name, strings.SplitN(text, "\n", 4)[:3])
		}
	}
}
