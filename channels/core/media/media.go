// Package media fetches the attachments of outgoing messages given by URL. The API fetches them
// when it accepts a message, so that a bad URL is a 422 at once rather than a failure minutes
// later, and a slow one never holds a session's send queue; channels fetch with it too when
// called directly. Every fetch goes through the SSRF policy (platform/netguard).
package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/netguard"
)

// Config bounds media fetched from URLs (key "media").
type Config struct {
	// MaxBytes is the largest attachment accepted, by URL or inline. Optional, default 64 MiB;
	// a channel's own limit (ChannelInfo.MaxMediaBytes) applies when smaller.
	MaxBytes int64 `koanf:"max_bytes"`
	// FetchTimeout bounds one fetch. Optional, default 30s.
	FetchTimeout time.Duration `koanf:"fetch_timeout"`
	// AllowPrivateNetworks lets media URLs point at loopback, private and other special-purpose
	// addresses (development and tests only). Optional, default false.
	AllowPrivateNetworks bool `koanf:"allow_private_networks"`
}

// SetDefaults fills the optional fields left at zero.
func (c *Config) SetDefaults() {
	if c.MaxBytes == 0 {
		c.MaxBytes = 64 << 20
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = 30 * time.Second
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBytes < 1 {
		errs = append(errs, fmt.Errorf("media.max_bytes must be at least 1, got %d", c.MaxBytes))
	}
	if c.FetchTimeout <= 0 {
		errs = append(errs, fmt.Errorf("media.fetch_timeout must be positive, got %s", c.FetchTimeout))
	}
	return errors.Join(errs...)
}

// Fetched is an attachment downloaded from its URL.
type Fetched struct {
	Data     []byte
	MimeType string
	// FileName is the last element of the URL's path, for documents sent without a name.
	FileName string
}

// Fetcher downloads media URLs. Safe for concurrent use.
type Fetcher struct {
	cfg    Config
	client *http.Client
}

// NewFetcher returns a fetcher; cfg is defaulted here.
func NewFetcher(cfg Config) *Fetcher {
	cfg.SetDefaults()
	dialer := netguard.Dialer(net.Dialer{Timeout: 10 * time.Second}, cfg.AllowPrivateNetworks)
	tr := &http.Transport{
		Proxy: nil, DialContext: dialer.DialContext, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: 20 * time.Second,
		MaxIdleConns: 16, IdleConnTimeout: 30 * time.Second,
	}
	return &Fetcher{cfg: cfg, client: &http.Client{Transport: tr, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		return nil // each hop is dialled through the policy again
	}}}
}

// MaxBytes is the configured limit.
func (f *Fetcher) MaxBytes() int64 { return f.cfg.MaxBytes }

// Fetch downloads raw, up to limit bytes (the configured limit when limit is 0 or larger). Every
// failure wraps core.ErrInvalid with a reason fit for the client: a URL the policy refuses, one
// that does not answer, answers other than 200, or a body over the limit.
func (f *Fetcher) Fetch(ctx context.Context, raw string, limit int64) (Fetched, error) {
	if limit <= 0 || limit > f.cfg.MaxBytes {
		limit = f.cfg.MaxBytes
	}
	u, err := netguard.CheckURL(raw)
	if err != nil && !(f.cfg.AllowPrivateNetworks && errors.Is(err, netguard.ErrForbidden)) {
		return Fetched{}, fmt.Errorf("%w: media url: %w", core.ErrInvalid, err)
	}
	if u == nil {
		// Refused by spelling, but private targets are allowed: parse it plainly.
		req, perr := http.NewRequest(http.MethodGet, raw, nil)
		if perr != nil {
			return Fetched{}, fmt.Errorf("%w: media url does not parse", core.ErrInvalid)
		}
		u = req.URL
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Fetched{}, fmt.Errorf("%w: media url: %w", core.ErrInvalid, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, netguard.ErrForbidden):
			return Fetched{}, fmt.Errorf("%w: media url %s: %w", core.ErrInvalid, u.Host, netguard.ErrForbidden)
		case errors.Is(err, context.DeadlineExceeded):
			return Fetched{}, fmt.Errorf("%w: media url %s did not answer within %s", core.ErrInvalid, u.Host, f.cfg.FetchTimeout)
		}
		return Fetched{}, fmt.Errorf("%w: media url %s is unreachable: %s", core.ErrInvalid, u.Host, shortError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Fetched{}, fmt.Errorf("%w: media url answered %s", core.ErrInvalid, resp.Status)
	}
	if resp.ContentLength > limit {
		return Fetched{}, fmt.Errorf("%w: media is %d bytes, over the %d-byte limit", core.ErrInvalid, resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return Fetched{}, fmt.Errorf("%w: media url %s: reading the body: %s", core.ErrInvalid, u.Host, shortError(err))
	}
	if int64(len(data)) > limit {
		return Fetched{}, fmt.Errorf("%w: media is over the %d-byte limit", core.ErrInvalid, limit)
	}
	return Fetched{Data: data, MimeType: contentType(resp.Header.Get("Content-Type"), data), FileName: fileName(u.Path)}, nil
}

// contentType keeps the parameters of audio types (codecs matter for voice notes), drops the
// others', and sniffs what the server did not say.
func contentType(header string, data []byte) string {
	mt, params, err := mime.ParseMediaType(header)
	if err != nil || mt == "" || mt == "application/octet-stream" {
		return http.DetectContentType(data)
	}
	if strings.HasPrefix(mt, "audio/") && len(params) > 0 {
		return mime.FormatMediaType(mt, params)
	}
	return mt
}

func fileName(p string) string {
	name := path.Base(p)
	if name == "." || name == "/" {
		return ""
	}
	return name
}

// shortError drops the method and URL a url.Error repeats.
func shortError(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap().Error()
	}
	return err.Error()
}
