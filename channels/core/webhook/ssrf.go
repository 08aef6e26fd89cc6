package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/28web/hub/channels/core"
)

// errForbiddenTarget: the endpoint resolves to an address outside the public internet.
var errForbiddenTarget = errors.New("target address not allowed")

// validateURL checks an endpoint URL: absolute http(s), a host, no credentials, and (unless
// allowPrivate) no literal non-public IP. Names are checked again at dial time, since DNS may
// answer differently then.
func validateURL(raw string, allowPrivate bool) (*url.URL, error) {
	if len(raw) > 2048 {
		return nil, fmt.Errorf("%w: url longer than 2048 characters", core.ErrInvalid)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: url does not parse", core.ErrInvalid)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: url scheme must be http or https", core.ErrInvalid)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: url has no host", core.ErrInvalid)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: url must not carry credentials; use headers", core.ErrInvalid)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%w: url must not have a fragment", core.ErrInvalid)
	}
	if !allowPrivate {
		host := strings.ToLower(u.Hostname())
		if host == "localhost" || strings.HasSuffix(host, ".localhost") {
			return nil, fmt.Errorf("%w: %s is a loopback name (allow_private_targets is off)", core.ErrInvalid, host)
		}
		if addr, err := netip.ParseAddr(host); err == nil && !publicAddr(addr) {
			return nil, fmt.Errorf("%w: %s is not a public address (allow_private_targets is off)", core.ErrInvalid, host)
		}
	}
	return u, nil
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598), not reachable publicly.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicAddr reports whether addr is a globally routable unicast address.
func publicAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	return addr.IsGlobalUnicast() && !addr.IsPrivate() && !cgnat.Contains(addr) &&
		!addr.IsLoopback() && !addr.IsLinkLocalUnicast() && !addr.IsUnspecified()
}

// newHTTPClient returns the client deliveries use: no proxy (the check must see the real
// target), no redirects (a redirect could point anywhere), and a dialer that refuses non-public
// addresses after DNS resolution unless allowPrivate.
func newHTTPClient(allowPrivate bool, maxConnsPerHost int) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", errForbiddenTarget, address)
			}
			if !publicAddr(ap.Addr()) {
				return fmt.Errorf("%w: %s is not public", errForbiddenTarget, ap.Addr())
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   maxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
