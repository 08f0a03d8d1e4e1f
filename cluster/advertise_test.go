package cluster

import (
	"errors"
	"testing"
)

func TestAdvertiseAddr(t *testing.T) {
	found := func() (string, error) { return "10.1.2.3", nil }
	none := func() (string, error) { return "", nil }
	failing := func() (string, error) { return "", errors.New("no interfaces") }
	tests := []struct {
		name, adv, bound string
		find             func() (string, error)
		want             string
		wantErr          bool
	}{
		{"explicit advertise wins", "node1:7947", ":7947", found, "node1:7947", false},
		{"specific host kept", "", "127.0.0.1:7947", failing, "127.0.0.1:7947", false},
		{"empty host", "", ":7947", found, "10.1.2.3:7947", false},
		{"ipv4 any", "", "0.0.0.0:7947", found, "10.1.2.3:7947", false},
		{"ipv6 any", "", "[::]:7948", found, "10.1.2.3:7948", false},
		{"hostname kept", "", "gw.internal:7947", failing, "gw.internal:7947", false},
		{"no private ip", "", ":7947", none, "", true},
		{"lookup fails", "", ":7947", failing, "", true},
		{"bad address", "", "nonsense", found, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := advertiseAddr(tt.adv, tt.bound, tt.find)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("advertiseAddr(%q, %q) = %q, %v; want %q (error %v)", tt.adv, tt.bound, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
