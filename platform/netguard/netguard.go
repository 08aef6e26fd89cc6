// Package netguard is the gateway's one policy against server-side request forgery: every URL
// the gateway fetches or posts to on a client's behalf (media of outgoing messages, webhook
// deliveries) must reach the public internet, never this host, its private networks or any
// other special-purpose address. Names are checked when a URL is accepted (CheckURL) and the
// resolved address again at dial time (Control), so DNS answers and redirects cannot lead inside.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrForbidden: the target is not on the public internet. Errors of this package wrap it.
var ErrForbidden = errors.New("target address not allowed")

// specialPurpose are the IANA special-purpose address registries (IPv4 and IPv6) and the
// multicast and reserved blocks: none of them is a public unicast destination.
// https://www.iana.org/assignments/iana-ipv4-special-registry
// https://www.iana.org/assignments/iana-ipv6-special-registry
var specialPurpose = func() []netip.Prefix {
	blocks := []string{
		// IPv4
		"0.0.0.0/8",          // "this network"
		"10.0.0.0/8",         // private
		"100.64.0.0/10",      // shared address space (carrier-grade NAT)
		"127.0.0.0/8",        // loopback
		"169.254.0.0/16",     // link local
		"172.16.0.0/12",      // private
		"192.0.0.0/24",       // IETF protocol assignments
		"192.0.2.0/24",       // documentation (TEST-NET-1)
		"192.31.196.0/24",    // AS112-v4
		"192.52.193.0/24",    // AMT
		"192.88.99.0/24",     // deprecated 6to4 relay anycast
		"192.168.0.0/16",     // private
		"192.175.48.0/24",    // direct delegation AS112
		"198.18.0.0/15",      // benchmarking
		"198.51.100.0/24",    // documentation (TEST-NET-2)
		"203.0.113.0/24",     // documentation (TEST-NET-3)
		"224.0.0.0/4",        // multicast
		"240.0.0.0/4",        // reserved
		"255.255.255.255/32", // limited broadcast
		// IPv6
		"::/128",        // unspecified
		"::1/128",       // loopback
		"::ffff:0:0/96", // IPv4-mapped (checked unmapped as IPv4 too)
		"64:ff9b::/96",  // IPv4/IPv6 translation (NAT64): reaches any IPv4 address, private ones too
		"64:ff9b:1::/48",
		"100::/64",      // discard-only
		"2001::/23",     // IETF protocol assignments (Teredo, benchmarking, ORCHID...)
		"2001:db8::/32", // documentation
		"2002::/16",     // 6to4: embeds any IPv4 address
		"3fff::/20",     // documentation
		"5f00::/16",     // segment routing SIDs
		"fc00::/7",      // unique local
		"fe80::/10",     // link local
		"fec0::/10",     // deprecated site local
		"ff00::/8",      // multicast
	}
	out := make([]netip.Prefix, len(blocks))
	for i, b := range blocks {
		out[i] = netip.MustParsePrefix(b)
	}
	return out
}()

// Public reports whether addr is a public unicast address: outside every special-purpose block.
func Public(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.WithZone("")
	for _, a := range []netip.Addr{addr, addr.Unmap()} {
		for _, p := range specialPurpose {
			if p.Contains(a) {
				return false
			}
		}
	}
	return true
}

// Control is a net.Dialer Control function refusing connections to non-public addresses. It sees
// the address after DNS resolution, so it also catches names that resolve inside.
func Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbidden, address)
	}
	if !Public(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address", ErrForbidden, ap.Addr())
	}
	return nil
}

// Dialer returns a dialer that, unless allowPrivate, refuses non-public addresses.
func Dialer(base net.Dialer, allowPrivate bool) *net.Dialer {
	d := base
	if !allowPrivate {
		d.Control = Control
	}
	return &d
}

// CheckURL refuses, before anything is fetched, URLs that are not absolute http(s) or name a
// host that is loopback or special-purpose by its spelling: literal addresses in any of the forms
// resolvers accept (dotted, decimal, hex, octal, IPv6), and localhost names in any case with or
// without a trailing dot. Other names are checked at dial time by Control.
func CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("url does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("url scheme must be http or https")
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("url has no host")
	}
	if err := CheckHost(host); err != nil {
		return nil, err
	}
	return u, nil
}

// CheckHost applies CheckURL's host rules to a bare host name or address.
func CheckHost(host string) error {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "" || name == "localhost" || strings.HasSuffix(name, ".localhost") || name == "localhost.localdomain" {
		return fmt.Errorf("%w: %s is a loopback name", ErrForbidden, host)
	}
	if addr, ok := literalAddr(name); ok && !Public(addr) {
		return fmt.Errorf("%w: %s is not a public address", ErrForbidden, host)
	}
	return nil
}

// literalAddr reads host as an IP address in any form a resolver would take literally: IPv6,
// dotted IPv4, and the inet_aton forms (one to four parts, each decimal, 0x-hex or 0-octal), which
// "http://2130706433/" or "http://0x7f.1/" would otherwise smuggle past a dotted-quad check.
func literalAddr(host string) (netip.Addr, bool) {
	if addr, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return addr, true
	}
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := parseInetNumber(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	switch len(vals) {
	case 1:
		n = vals[0]
	case 2:
		n = vals[0]<<24 | vals[1]
	case 3:
		n = vals[0]<<24 | vals[1]<<16 | vals[2]
	case 4:
		n = vals[0]<<24 | vals[1]<<16 | vals[2]<<8 | vals[3]
	}
	last := len(vals) - 1
	for i, v := range vals {
		if (i < last && v > 0xff) || (i == last && v >= 1<<(8*(4-last))) {
			return netip.Addr{}, false
		}
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func parseInetNumber(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base, digits := uint64(10), s
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		base, digits = 16, s[2:]
		if digits == "" {
			return 0, true
		}
	case len(s) > 1 && s[0] == '0':
		base, digits = 8, s[1:]
	}
	var v uint64
	for _, c := range digits {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		v = v*base + d
		if v > 0xffffffff {
			return 0, false
		}
	}
	return v, true
}
