package tensor

import (
	"fmt"
	"strconv"
	"strings"
)

// Printing follows torch and NumPy: tensors with more than summarizeOver
// elements show only edgeItems entries at each end of every dimension.
const (
	summarizeOver = 1000
	edgeItems     = 3
)

// String returns a readable, NumPy-like rendering of t with its shape, such
// as
//
//	tensor([[1, 2, 3],
//	        [4, 5, 6]], shape=[2 3])
//
// Elements are printed with up to 6 significant digits. Large tensors show
// only the first and last 3 entries of each dimension, with "..." between.
func (t *Dense[T]) String() string { return t.render('g', 6) }

// Format implements fmt.Formatter: %v and %s print String; %e, %E, %f, %g and
// %G print the elements with that verb and the given precision (%.3f).
func (t *Dense[T]) Format(f fmt.State, verb rune) {
	switch verb {
	case 'e', 'E', 'f', 'F', 'g', 'G':
		prec, ok := f.Precision()
		if !ok {
			prec = -1
			if verb != 'g' && verb != 'G' {
				prec = 6
			}
		}
		if verb == 'F' {
			verb = 'f'
		}
		fmt.Fprint(f, t.render(byte(verb), prec))
	case 'v', 's':
		fmt.Fprint(f, t.render('g', 6))
	default:
		fmt.Fprintf(f, "%%!%c(tensor.Dense=%s)", verb, t.render('g', 6))
	}
}

// render formats t with strconv's verb and precision.
func (t *Dense[T]) render(verb byte, prec int) string {
	bits := 64
	if _, ok := any(t.data).([]float32); ok {
		bits = 32
	}
	num := func(v T) string { return strconv.FormatFloat(float64(v), verb, prec, bits) }
	if len(t.shape) == 0 {
		return "tensor(" + num(t.data[0]) + ")"
	}
	p := printer[T]{t: t, num: num, summarize: len(t.data) > summarizeOver}
	p.measure(0, 0)
	var b strings.Builder
	b.WriteString("tensor(")
	p.b = &b
	p.write(0, 0, len("tensor("))
	fmt.Fprintf(&b, ", shape=%v)", t.shape)
	return b.String()
}

// printer holds the state of one render.
type printer[T Float] struct {
	t         *Dense[T]
	num       func(T) string
	summarize bool
	width     int
	b         *strings.Builder
}

// shown returns the indices of dimension d that are printed, with -1 where
// "..." stands for the elided ones.
func (p *printer[T]) shown(d int) []int {
	n := p.t.shape[d]
	var idx []int
	if p.summarize && n > 2*edgeItems {
		for i := range edgeItems {
			idx = append(idx, i)
		}
		idx = append(idx, -1)
		for i := n - edgeItems; i < n; i++ {
			idx = append(idx, i)
		}
		return idx
	}
	for i := range n {
		idx = append(idx, i)
	}
	return idx
}

// stride returns the number of elements in one index of dimension d.
func (p *printer[T]) stride(d int) int {
	s := 1
	for _, v := range p.t.shape[d+1:] {
		s *= v
	}
	return s
}

// measure finds the widest printed element.
func (p *printer[T]) measure(d, off int) {
	st := p.stride(d)
	for _, i := range p.shown(d) {
		switch {
		case i < 0:
		case d == len(p.t.shape)-1:
			p.width = max(p.width, len(p.num(p.t.data[off+i])))
		default:
			p.measure(d+1, off+i*st)
		}
	}
}

// write prints dimension d starting at element off; indent is the column at
// which this dimension's "[" stands.
func (p *printer[T]) write(d, off, indent int) {
	b := p.b
	last := d == len(p.t.shape)-1
	st := p.stride(d)
	b.WriteByte('[')
	for k, i := range p.shown(d) {
		if k > 0 {
			if last {
				b.WriteString(", ")
			} else {
				b.WriteString(",")
				b.WriteString(strings.Repeat("\n", len(p.t.shape)-d-1))
				b.WriteString(strings.Repeat(" ", indent+1))
			}
		}
		switch {
		case i < 0:
			b.WriteString("...")
		case last:
			s := p.num(p.t.data[off+i])
			b.WriteString(strings.Repeat(" ", p.width-len(s)))
			b.WriteString(s)
		default:
			p.write(d+1, off+i*st, indent+1)
		}
	}
	b.WriteByte(']')
}
