package config

import (
	"errors"
	"testing"
)

func TestError_Error(t *testing.T) {
	tests := []struct {
		name string
		e    Error
		want string
	}{
		{"all parts", Error{File: "a.yaml", Line: 3, Col: 7, Msg: "bad"}, "a.yaml:3:7: bad"},
		{"no column", Error{File: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad"},
		{"no line", Error{File: "a.yaml", Col: 7, Msg: "bad"}, "a.yaml: bad"},
		{"no file", Error{Line: 3, Col: 7, Msg: "bad"}, "3:7: bad"},
		{"message only", Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrors_SortedOneLineEach(t *testing.T) {
	es := Errors{
		{File: "a", Line: 9, Col: 1, Msg: "third"},
		{File: "a", Line: 2, Col: 5, Msg: "second"},
		{File: "a", Line: 2, Col: 1, Msg: "first"},
	}
	err := es.err()
	want := "a:2:1: first\na:2:5: second\na:9:1: third"
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err, want)
	}
	var one Error
	if !errors.As(err, &one) || one.Msg != "first" {
		t.Errorf("errors.As(Error) = %v, want the first problem", one)
	}
	if (Errors{}).err() != nil {
		t.Error("empty Errors.err() is not nil")
	}
}
