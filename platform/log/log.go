// Package log builds the gateway's slog logger: one JSON object per line in the documented shape
//
//	{"timestamp": "...", "level": "info", "sessionId": "s1", "message": "...", "metadata": {...}}
//
// where sessionId is lifted out of the attributes (log with slog.String(log.SessionKey, id)) and
// every other attribute goes under metadata.
package log

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// SessionKey is the attribute key that is written at the top level as sessionId.
const SessionKey = "sessionId"

// Config selects the log level.
type Config struct {
	// Level is one of error, warn, info, debug. Optional, default info (env LOG_LEVEL).
	Level string `koanf:"level"`
}

// SetDefaults fills Level.
func (c *Config) SetDefaults() {
	if c.Level == "" {
		c.Level = "info"
	}
}

// Validate checks the level name.
func (c Config) Validate() error {
	if _, err := ParseLevel(c.Level); err != nil {
		return err
	}
	return nil
}

// ParseLevel maps error, warn, info, debug (any case) to a slog level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "error":
		return slog.LevelError, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	}
	return 0, fmt.Errorf("log.level %q: want one of error, warn, info, debug", s)
}

// New returns a logger writing the documented JSON shape to w.
func New(w io.Writer, cfg Config) (*slog.Logger, error) {
	level, err := ParseLevel(cfg.Level)
	if err != nil {
		return nil, err
	}
	return slog.New(NewHandler(w, level)), nil
}

// Handler writes records in the documented shape. It wraps slog's JSON handler, so the encoding
// rules (times, errors, LogValuer) are slog's.
type Handler struct {
	json    slog.Handler
	session *slog.Attr
	// attrs are the metadata attributes added with WithAttrs, already nested in their groups.
	attrs  []slog.Attr
	groups []string
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler writing to w at or above level.
func NewHandler(w io.Writer, level slog.Leveler) *Handler {
	return &Handler{json: slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				a.Key = "timestamp"
			case slog.MessageKey:
				a.Key = "message"
			case slog.LevelKey:
				a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
			}
			return a
		},
	})}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.json.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	session := h.session
	var own []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		if len(h.groups) == 0 && a.Key == SessionKey {
			session = &a
			return true
		}
		own = append(own, a)
		return true
	})
	meta := append([]slog.Attr(nil), h.attrs...)
	meta = append(meta, nest(h.groups, own)...)
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if session != nil {
		out.AddAttrs(*session)
	}
	if len(meta) > 0 {
		out.AddAttrs(slog.Attr{Key: "metadata", Value: slog.GroupValue(meta...)})
	}
	if err := h.json.Handle(ctx, out); err != nil {
		return fmt.Errorf("write log record: %w", err)
	}
	return nil
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	var own []slog.Attr
	for _, a := range as {
		if len(h.groups) == 0 && a.Key == SessionKey {
			c.session = &a
			continue
		}
		own = append(own, a)
	}
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), nest(h.groups, own)...)
	return &c
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.groups = append(append([]string(nil), h.groups...), name)
	return &c
}

// nest wraps attrs in the open groups, innermost last, as one attribute per outer group so
// that a record's attributes share one JSON object.
func nest(groups []string, attrs []slog.Attr) []slog.Attr {
	if len(attrs) == 0 || len(groups) == 0 {
		return attrs
	}
	for i := len(groups) - 1; i >= 0; i-- {
		attrs = []slog.Attr{{Key: groups[i], Value: slog.GroupValue(attrs...)}}
	}
	return attrs
}

// Secret is a string that never appears in logs or error messages: it formats and logs as
// "[REDACTED]" (or empty when unset). Use Reveal where the value itself is needed.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String redacts the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// LogValue redacts the value in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts the value in any text or JSON encoding of a config.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText keeps the value as given.
func (s *Secret) UnmarshalText(b []byte) error {
	*s = Secret(b)
	return nil
}

// ErrorAttr is the conventional attribute for an error.
func ErrorAttr(err error) slog.Attr {
	if err == nil {
		return slog.Attr{}
	}
	return slog.String("error", err.Error())
}

// Discard returns a logger that writes nothing, for tests and tools.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
