package pth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// The pickle is checked opcode by opcode before the unpickler sees it:
// scanPickle walks the opcodes as the unpickler will, validates every length
// and count against the bytes present, simulates the stack (depth, marks,
// which entries are strings), refuses every global outside the allowed set,
// refuses the opcodes a state dict never uses, and adds up an upper bound on
// the memory the unpickler will allocate. Only a pickle that passes is given
// to the unpickler, so the unpickler never sees a length it would allocate
// blindly, an opcode it would mishandle or a global that is not allowed.

// errNeedMore reports that the pickle goes on past the bytes given.
var errNeedMore = errors.New("pickle goes on past the end of the input")

// globalError reports a global outside the allowed set.
type globalError struct{ module, name string }

func (e *globalError) Error() string {
	return fmt.Sprintf("global %q is not allowed", e.module+"."+e.name)
}

// maxStack is the most entries the simulated stack may hold: a pickler
// writes dict items in batches of 1000 (2000 stack entries).
const maxStack = 1 << 16

// Estimated bytes that the unpickler allocates for each kind of value;
// upper bounds measured on gopickle v0.2.0 (see TestPickleMemoryEstimate).
const (
	costScalar  = 16  // an int, float, bool or None in an interface
	costString  = 48  // a string header and allocation, plus its bytes
	costMark    = 320 // a new stack level of 16 entries
	costTuple   = 48  // a tuple header, plus 16 a member
	costList    = 112 // an empty list with room for 4
	costDict    = 160 // an empty dict with room for 4
	costElem    = 96  // one list element or dict item added (growth included)
	costMemo    = 64  // one memo entry
	costReduce  = 640 // the result of a call: an OrderedDict, a tensor (MaxRank dimensions) or a storage
	costGlobal  = 64  // a class or function value
	maxNumDigit = 32  // longest decimal integer or memo index in text form
)

// slot is one simulated stack entry.
type slot struct {
	mark bool   // a MARK
	str  bool   // a Go string, as the unpickler will push
	s    string // the string, when str
}

// scanner walks one pickle.
type scanner struct {
	p     []byte
	pos   int
	stack []slot
	marks int
	memo  map[int]slot
	cost  int64
	// dictItems counts the dict items added so far: no dict has more.
	dictItems int64
}

// scanPickle validates the pickle at the start of p and returns its length
// (through its STOP opcode). It returns errNeedMore when p ends before the
// pickle does, a *globalError for a global outside the allowed set, and
// another error for anything else it refuses.
func scanPickle(p []byte) (int, error) {
	n, _, err := scanCost(p)
	return n, err
}

// scanCost is scanPickle, also returning the estimated bytes that
// unpickling will allocate.
func scanCost(p []byte) (int, int64, error) {
	s := &scanner{p: p, memo: map[int]slot{}}
	for {
		if s.pos >= len(p) {
			return 0, 0, errNeedMore
		}
		at := s.pos
		op := p[s.pos]
		s.pos++
		done, err := s.step(op)
		if err == errNeedMore {
			return 0, 0, err
		}
		if err != nil {
			return 0, 0, fmt.Errorf("opcode 0x%02x at byte %d: %w", op, at, err)
		}
		if done {
			return s.pos, s.cost, nil
		}
		switch {
		case len(s.stack) > maxStack:
			return 0, 0, fmt.Errorf("opcode 0x%02x at byte %d: stack deeper than %d entries", op, at, maxStack)
		case s.cost > MaxPickleMemory:
			return 0, 0, fmt.Errorf("opcode 0x%02x at byte %d: unpickling would take more than %d MiB", op, at, MaxPickleMemory>>20)
		}
	}
}

// take returns the next n bytes.
func (s *scanner) take(n uint64) ([]byte, error) {
	if n > uint64(len(s.p)-s.pos) {
		return nil, errNeedMore
	}
	b := s.p[s.pos : s.pos+int(n)]
	s.pos += int(n)
	return b, nil
}

// line returns the next line without its '\n'.
func (s *scanner) line() ([]byte, error) {
	i := bytes.IndexByte(s.p[s.pos:], '\n')
	if i < 0 {
		return nil, errNeedMore
	}
	b := s.p[s.pos : s.pos+i]
	s.pos += i + 1
	return b, nil
}

// counted returns a length-prefixed argument whose length takes size bytes
// (1, 4 or 8, little-endian; signed when size is 4 and signed is set).
func (s *scanner) counted(size int, signed bool) ([]byte, error) {
	b, err := s.take(uint64(size))
	if err != nil {
		return nil, err
	}
	var n uint64
	switch size {
	case 1:
		n = uint64(b[0])
	case 4:
		n = uint64(binary.LittleEndian.Uint32(b))
		if signed && int32(n) < 0 {
			return nil, fmt.Errorf("negative length %d", int32(n))
		}
	default:
		n = binary.LittleEndian.Uint64(b)
	}
	return s.take(n)
}

// push pushes v and charges cost.
func (s *scanner) push(v slot, cost int64) {
	s.stack = append(s.stack, v)
	s.cost += cost
}

// pop pops n entries, none of which may be a mark.
func (s *scanner) pop(n int) ([]slot, error) {
	if len(s.stack) < n {
		return nil, errors.New("stack underflow")
	}
	top := s.stack[len(s.stack)-n:]
	for _, v := range top {
		if v.mark {
			return nil, errors.New("stack underflow (a mark in the way)")
		}
	}
	s.stack = s.stack[:len(s.stack)-n]
	return top, nil
}

// top returns the top entry, which must not be a mark.
func (s *scanner) top() (slot, error) {
	if len(s.stack) == 0 || s.stack[len(s.stack)-1].mark {
		return slot{}, errors.New("stack underflow")
	}
	return s.stack[len(s.stack)-1], nil
}

// popMark pops the entries above the topmost mark and the mark, and returns
// how many entries there were.
func (s *scanner) popMark() (int, error) {
	for i := len(s.stack) - 1; i >= 0; i-- {
		if s.stack[i].mark {
			n := len(s.stack) - 1 - i
			s.stack = s.stack[:i]
			s.marks--
			return n, nil
		}
	}
	return 0, errors.New("no mark on the stack")
}

// memoPut records the top entry under index i.
func (s *scanner) memoPut(i int) error {
	v, err := s.top()
	if err != nil {
		return err
	}
	s.memo[i] = v
	s.cost += costMemo
	return nil
}

// memoGet pushes the entry recorded under index i (the unpickler pushes
// None for an index never recorded).
func (s *scanner) memoGet(i int) {
	s.push(s.memo[i], costScalar)
}

// decimal parses a text-form integer argument as the unpickler does.
func (s *scanner) decimal() (int, error) {
	b, err := s.line()
	if err != nil {
		return 0, err
	}
	if len(b) > maxNumDigit {
		return 0, fmt.Errorf("number of %d characters", len(b))
	}
	return strconv.Atoi(string(b))
}

// number checks a text-form integer or float argument.
func (s *scanner) number() error {
	b, err := s.line()
	if err != nil {
		return err
	}
	if len(b) > maxNumDigit {
		return fmt.Errorf("number of %d characters", len(b))
	}
	return nil
}

// step runs one opcode; done reports STOP.
func (s *scanner) step(op byte) (done bool, err error) {
	switch op {
	case '(': // MARK
		s.marks++
		if s.marks > MaxNesting {
			return false, fmt.Errorf("marks nested deeper than %d", MaxNesting)
		}
		s.push(slot{mark: true}, costMark)
	case '.': // STOP
		_, err = s.pop(1)
		return err == nil, err
	case '0': // POP: an entry, or the mark if it is on top
		if len(s.stack) > 0 && s.stack[len(s.stack)-1].mark {
			_, err = s.popMark()
		} else {
			_, err = s.pop(1)
		}
	case '1': // POP_MARK
		_, err = s.popMark()
	case '2': // DUP
		var v slot
		if v, err = s.top(); err == nil {
			s.push(v, costScalar)
		}
	case 'Q': // BINPERSID
		if _, err = s.pop(1); err == nil {
			s.push(slot{}, costReduce)
		}
	case 'R': // REDUCE
		if _, err = s.pop(2); err == nil {
			s.push(slot{}, costReduce)
		}
	case 'b': // BUILD: pops the state, keeps the object
		// The unpickler copies the state dict's items into the object's
		// attributes: charge the most items a dict can have.
		if _, err = s.pop(1); err == nil {
			_, err = s.top()
			s.cost += s.dictItems * costElem
		}
	case 'a': // APPEND
		if _, err = s.pop(2); err == nil {
			s.push(slot{}, costElem)
		}
	case 's': // SETITEM
		if _, err = s.pop(2); err == nil {
			_, err = s.top()
			s.cost += costElem
			s.dictItems++
		}
	case 'e', 'u': // APPENDS, SETITEMS
		var n int
		if n, err = s.popMark(); err == nil {
			if _, err = s.pop(1); err == nil {
				s.push(slot{}, int64(n)*costElem)
			}
		}
		if op == 'u' && err == nil {
			if n%2 != 0 {
				return false, fmt.Errorf("SETITEMS of %d entries, not key-value pairs", n)
			}
			s.dictItems += int64(n / 2)
		}
	case 't', 'l', 'd': // TUPLE, LIST, DICT
		var n int
		if n, err = s.popMark(); err == nil {
			s.push(slot{}, costDict+int64(n)*costElem)
		}
		if op == 'd' && err == nil {
			if n%2 != 0 {
				return false, fmt.Errorf("DICT of %d entries, not key-value pairs", n)
			}
			s.dictItems += int64(n / 2)
		}
	case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
		n := int(op - 0x84)
		if _, err = s.pop(n); err == nil {
			s.push(slot{}, costTuple+16*int64(n))
		}
	default:
		return false, s.other(op)
	}
	return false, err
}

// other runs the opcodes that push a literal, the memo and global
// opcodes, PROTO and FRAME, and refuses every other byte.
func (s *scanner) other(op byte) (err error) {
	switch op {
	case 'F', 'I', 'L': // FLOAT, INT, LONG in text form
		if err = s.number(); err == nil {
			s.push(slot{}, costScalar)
		}
	case 'J', 'K', 'M', 'G': // BININT, BININT1, BININT2, BINFLOAT
		size := uint64(1)
		switch op {
		case 'J':
			size = 4
		case 'M':
			size = 2
		case 'G':
			size = 8
		}
		if _, err = s.take(size); err == nil {
			s.push(slot{}, costScalar)
		}
	case 0x8a, 0x8b: // LONG1, LONG4
		var b []byte
		if op == 0x8a {
			b, err = s.counted(1, false)
		} else {
			b, err = s.counted(4, true)
		}
		switch {
		case err != nil:
		case len(b) == 0 || len(b) > 16:
			err = fmt.Errorf("integer of %d bytes", len(b))
		default:
			s.push(slot{}, costString+int64(len(b)))
		}
	case 'N', 0x88, 0x89: // NONE, NEWTRUE, NEWFALSE
		s.push(slot{}, costScalar)
	case ')': // EMPTY_TUPLE
		s.push(slot{}, costTuple)
	case ']': // EMPTY_LIST
		s.push(slot{}, costList)
	case '}': // EMPTY_DICT
		s.push(slot{}, costDict)
	case 'S', 'V', 'T', 'U', 'X', 0x8c, 0x8d: // the str opcodes
		var b []byte
		if b, err = s.str(op); err == nil {
			s.push(slot{str: true, s: string(b)}, costString+int64(len(b)))
		}
	case 'c', 0x93: // GLOBAL, STACK_GLOBAL
		err = s.global(op)
	case 'g', 'p', 'h', 'q', 'j', 'r', 0x94: // the memo opcodes
		err = s.memoOp(op)
	case 0x80: // PROTO
		var b []byte
		if b, err = s.take(1); err == nil && b[0] > 5 {
			err = fmt.Errorf("protocol %d", b[0])
		}
	case 0x95: // FRAME: the frame must be present; its opcodes follow as usual
		var b []byte
		if b, err = s.take(8); err == nil {
			if n := binary.LittleEndian.Uint64(b); n > uint64(len(s.p)-s.pos) {
				err = errNeedMore
			}
		}
	default:
		// PERSID, INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT1/2/4, the bytes, set and
		// buffer opcodes, and bytes that are not opcodes: a state dict has
		// none of them.
		return errors.New("opcode not used by state dicts")
	}
	return err
}

// str reads the argument of a str opcode and returns the string the
// unpickler will push.
func (s *scanner) str(op byte) ([]byte, error) {
	switch op {
	case 'S', 'V': // STRING, UNICODE in text form
		b, err := s.line()
		if err != nil || op == 'V' {
			return b, err
		}
		if len(b) < 2 || b[0] != b[len(b)-1] || (b[0] != '\'' && b[0] != '"') {
			return nil, errors.New("STRING argument is not quoted")
		}
		return b[1 : len(b)-1], nil
	case 'T': // BINSTRING
		return s.counted(4, true)
	case 'X': // BINUNICODE
		return s.counted(4, false)
	case 0x8d: // BINUNICODE8
		return s.counted(8, false)
	}
	return s.counted(1, false) // SHORT_BINSTRING, SHORT_BINUNICODE
}

// global checks the global of GLOBAL (named inline) or STACK_GLOBAL (named
// by the two strings on top of the stack) and pushes it.
func (s *scanner) global(op byte) error {
	var module, name string
	if op == 'c' {
		m, err := s.line()
		if err != nil {
			return err
		}
		n, err := s.line()
		if err != nil {
			return err
		}
		module, name = string(m), string(n)
	} else {
		v, err := s.pop(2)
		if err != nil {
			return err
		}
		if !v[0].str || !v[1].str {
			return errors.New("STACK_GLOBAL of values that are not strings")
		}
		module, name = v[0].s, v[1].s
	}
	if !allowedGlobal(module, name) {
		return &globalError{module, name}
	}
	s.push(slot{}, costGlobal)
	return nil
}

// memoOp runs GET, PUT, BINGET, BINPUT, LONG_BINGET, LONG_BINPUT and
// MEMOIZE.
func (s *scanner) memoOp(op byte) error {
	var i int
	switch op {
	case 0x94: // MEMOIZE
		return s.memoPut(len(s.memo))
	case 'g', 'p':
		var err error
		if i, err = s.decimal(); err != nil {
			return err
		}
		if op == 'p' && i < 0 {
			return errors.New("negative memo index")
		}
	case 'h', 'q':
		b, err := s.take(1)
		if err != nil {
			return err
		}
		i = int(b[0])
	default: // 'j', 'r'
		b, err := s.take(4)
		if err != nil {
			return err
		}
		i = int(binary.LittleEndian.Uint32(b))
	}
	if op == 'g' || op == 'h' || op == 'j' {
		s.memoGet(i)
		return nil
	}
	return s.memoPut(i)
}
