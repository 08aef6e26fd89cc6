package webhook

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/netguard"
)

// validateURL checks an endpoint URL: absolute http(s), a host, no credentials, and (unless
// allowPrivate) nothing netguard refuses by its spelling (loopback names, special-purpose
// addresses in any notation). The resolved address is checked again at dial time.
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
		if err := netguard.CheckHost(u.Hostname()); err != nil {
			return nil, fmt.Errorf("%w: %w (allow_private_targets is off)", core.ErrInvalid, err)
		}
	}
	return u, nil
}

// newHTTPClient returns the client deliveries use: no proxy (the check must see the real
// target), no redirects (a redirect could point anywhere), and a dialer that refuses non-public
// addresses after DNS resolution unless allowPrivate.
func newHTTPClient(allowPrivate bool, maxConnsPerHost int) *http.Client {
	dialer := netguard.Dialer(net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}, allowPrivate)
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
