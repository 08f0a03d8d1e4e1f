package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem found in a configuration document, located at the
// key or item that caused it. Zero Line (or Col) means the position is
// unknown, e.g. for a File built in code rather than parsed.
type Error struct {
	// File is the name the document was parsed under (usually its path).
	File string
	// Line and Col are 1-based.
	Line, Col int
	// Msg says what is wrong and, where it can, what to write instead.
	Msg string
}

// Error formats e as "file:line:col: msg", leaving out the parts that are
// zero or empty.
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Col))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one document. Parse and Load return it
// (as error) so that a user fixes all problems in one round.
type Errors []Error

// Error lists the problems one per line, in the order they appear.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each problem to errors.As and errors.Is.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sort orders es by file, line and column; problems at the same place keep
// the order they were found in.
func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

// err returns es as an error: nil when there is no problem, sorted
// otherwise.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	es.sort()
	return es
}
