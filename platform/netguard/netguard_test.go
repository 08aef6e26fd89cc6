package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/platform/netguard"
)

func TestPublic(t *testing.T) {
	private := []string{
		"0.0.0.0", "0.1.2.3", "10.1.2.3", "100.64.0.1", "100.127.255.254", "127.0.0.1", "127.255.0.1",
		"169.254.169.254", "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1", "192.88.99.1", "192.168.1.1",
		"198.18.0.1", "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
		"::", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::1",
		"100::1", "2001::1", "2001:db8::1", "2002:7f00:1::", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0",
		"fec0::1", "ff02::1",
	}
	for _, s := range private {
		assert.Falsef(t, netguard.Public(netip.MustParseAddr(s)), "%s is not public", s)
	}
	public := []string{"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1", "172.32.0.1", "192.169.0.1",
		"2606:4700:4700::1111", "2a00:1450:4001::1"}
	for _, s := range public {
		assert.Truef(t, netguard.Public(netip.MustParseAddr(s)), "%s is public", s)
	}
	assert.False(t, netguard.Public(netip.Addr{}))
}

func TestCheckURL(t *testing.T) {
	refused := []string{
		"http://localhost/x", "http://LOCALHOST./x", "https://api.localhost/", "http://localhost.localdomain/",
		"http://127.0.0.1:8080/", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/",
		"http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://0x7f000001/", "http://127.1/",
		"http://100.64.1.1/", "http://[64:ff9b::a00:1]/", "http://255.255.255.255/", "http://169.254.169.254/latest",
		"ftp://example.com/", "http:///nohost", "mailto:a@b.c",
	}
	for _, u := range refused {
		_, err := netguard.CheckURL(u)
		assert.Errorf(t, err, "%s is refused", u)
	}
	for _, u := range []string{"https://example.com/a.pdf", "http://8.8.8.8/", "https://cdn.example.org:8443/x?y=1", "http://1e100.net/"} {
		_, err := netguard.CheckURL(u)
		assert.NoErrorf(t, err, "%s is allowed", u)
	}
	_, err := netguard.CheckURL("http://10.0.0.1/")
	assert.True(t, errors.Is(err, netguard.ErrForbidden))
}

// The dial-time check catches what a name resolves to: a name allowed at creation cannot lead to
// loopback.
func TestDialerRefusesPrivateAddressesAfterResolution(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	t.Cleanup(srv.Close)
	guarded := &http.Client{Transport: &http.Transport{DialContext: netguard.Dialer(net.Dialer{Timeout: 5 * time.Second}, false).DialContext}}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	_, err = guarded.Do(req)
	require.ErrorIs(t, err, netguard.ErrForbidden)

	open := &http.Client{Transport: &http.Transport{DialContext: netguard.Dialer(net.Dialer{Timeout: 5 * time.Second}, true).DialContext}}
	resp, err := open.Do(req)
	require.NoError(t, err)
	require.Equal(t, 204, resp.StatusCode)
	_ = resp.Body.Close()
}
