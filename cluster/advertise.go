package cluster

import (
	"fmt"
	"net"

	sockaddr "github.com/hashicorp/go-sockaddr"
)

// privateIP finds the address others should dial when a listener binds
// every interface: the first private IP, as memberlist and Consul pick it.
func privateIP() (string, error) { return sockaddr.GetPrivateIP() }

// advertiseAddr returns adv when set; otherwise the bound address, with an
// unspecified host (":7947", "0.0.0.0:7947", "[::]:7947") replaced by
// this node's private IP (found by findIP), since other nodes can't dial
// "0.0.0.0". Raft refuses to start on an address it can't advertise, and a
// peer address of "[::]:7948" would make other nodes dial themselves.
func advertiseAddr(adv, bound string, findIP func() (string, error)) (string, error) {
	if adv != "" {
		return adv, nil
	}
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", bound, err)
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return bound, nil
	}
	ip, err := findIP()
	if err != nil || ip == "" {
		return "", fmt.Errorf("%s binds every interface and no private IP was found to advertise: set the advertise address", bound)
	}
	return net.JoinHostPort(ip, port), nil
}
