package robustness

import (
	"strings"
	"unicode/utf8"
)

// numericColumn says whether column k of the report's table holds numbers
// (right-aligned); the attack's name and kind are text.
func numericColumn(k int) bool { return k >= 2 }

// columnWidths returns the widest cell of each column, in runes.
func columnWidths(header []string, rows [][]string) []int {
	w := make([]int, len(header))
	for _, row := range append([][]string{header}, rows...) {
		for k, c := range row {
			if k < len(w) {
				w[k] = max(w[k], utf8.RuneCountInString(c))
			}
		}
	}
	return w
}

// pad pads c with spaces to width runes, on the left when right is set.
func pad(c string, width int, right bool) string {
	n := width - utf8.RuneCountInString(c)
	if n <= 0 {
		return c
	}
	if right {
		return strings.Repeat(" ", n) + c
	}
	return c + strings.Repeat(" ", n)
}

// lastCell returns the index of row's last non-empty cell (-1 if none).
func lastCell(row []string) int {
	for k := len(row) - 1; k >= 0; k-- {
		if row[k] != "" {
			return k
		}
	}
	return -1
}

// alignedTable lays header and rows out in columns two spaces apart, the
// numeric ones right-aligned, every line trimmed on the right. A row's
// missing or empty cells stay blank without shifting the ones after them;
// a row's last cell, when wider than its column (a skipped attack's
// reason), runs on from the column's start without widening it.
func alignedTable(header []string, rows [][]string) string {
	w := columnWidths(header, nil)
	for _, row := range rows {
		for k, c := range row {
			if k < len(w) && k != lastCell(row) {
				w[k] = max(w[k], utf8.RuneCountInString(c))
			}
		}
	}
	var b strings.Builder
	for _, row := range append([][]string{header}, rows...) {
		var line strings.Builder
		for k := range w {
			c := ""
			if k < len(row) {
				c = row[k]
			}
			if k > 0 {
				line.WriteString("  ")
			}
			line.WriteString(pad(c, w[k], numericColumn(k) && utf8.RuneCountInString(c) <= w[k]))
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	return b.String()
}

// markdownTable returns header and rows as a Markdown table whose columns
// line up in the source too, the numeric ones right-aligned ("---:").
func markdownTable(header []string, rows [][]string) string {
	esc := make([][]string, len(rows))
	for i, row := range rows {
		esc[i] = make([]string, len(header))
		for k := range header {
			if k < len(row) {
				esc[i][k] = strings.ReplaceAll(row[k], "|", "\\|")
			}
		}
	}
	w := columnWidths(header, esc)
	for k := range w {
		w[k] = max(w[k], 4)
	}
	var b strings.Builder
	line := func(cells []string, right bool) {
		b.WriteString("|")
		for k, c := range cells {
			b.WriteString(" " + pad(c, w[k], right && numericColumn(k)) + " |")
		}
		b.WriteString("\n")
	}
	line(header, false)
	b.WriteString("|")
	for k := range w {
		if numericColumn(k) {
			b.WriteString(" " + strings.Repeat("-", w[k]-1) + ": |")
		} else {
			b.WriteString(" " + strings.Repeat("-", w[k]) + " |")
		}
	}
	b.WriteString("\n")
	for _, row := range esc {
		line(row, true)
	}
	return b.String()
}
