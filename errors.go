package fastgo

import (
	"errors"
	"fmt"
)

// The classes of failure a caller may branch on with errors.Is; the errors
// fastgo returns wrap them with the file, field or shape at fault.
var (
	// ErrFormat: a file or stream is not in the format it claims (a bad
	// header, a file cut short, corrupt data, a wrong dtype).
	ErrFormat = errors.New("fastgo: bad format")
	// ErrShape: user data of the wrong shape (images of different sizes, a
	// label count that does not match the images, a model's input).
	ErrShape = errors.New("fastgo: shape mismatch")
	// ErrNonFinite: a loss, parameter or statistic became NaN or infinite.
	ErrNonFinite = errors.New("fastgo: not finite")
	// ErrBudget: a black-box attack ran out of queries.
	ErrBudget = errors.New("fastgo: query budget exhausted")
	// ErrNotFound: a data set or weights file is in none of the places
	// looked in.
	ErrNotFound = errors.New("fastgo: not found")
)

// Error is the value of the panics that report programmer errors inside
// fastgo (gonum's rule): shapes that cannot work together, an axis out of
// range, an option given to a call it does not apply to. Its message names
// the operation and the shapes.
type Error struct {
	msg string
}

// Error returns the message.
func (e Error) Error() string { return e.msg }

// Errorf returns an Error with a formatted message, for fastgo's packages to
// panic with.
func Errorf(format string, args ...any) Error { return Error{fmt.Sprintf(format, args...)} }

// Maybe runs fn and returns the Error it panics with, if any, as gonum's
// mat.Maybe: a way to turn fastgo's programmer-error panics into errors at
// a boundary (a server handling requests, say). Any other panic propagates.
func Maybe(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(Error)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	fn()
	return nil
}
