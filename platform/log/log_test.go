package log_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/platform/log"
)

func decode(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m), buf.String())
	buf.Reset()
	return m
}

func TestDocumentedShape(t *testing.T) {
	var buf bytes.Buffer
	l, err := log.New(&buf, log.Config{Level: "debug"})
	require.NoError(t, err)

	l.With(slog.String(log.SessionKey, "s1")).Info("connected", slog.Int("attempt", 2), slog.Group("peer", slog.String("jid", "x")))
	m := decode(t, &buf)
	require.Equal(t, "info", m["level"])
	require.Equal(t, "connected", m["message"])
	require.Equal(t, "s1", m["sessionId"])
	require.NotEmpty(t, m["timestamp"])
	require.Equal(t, map[string]any{"attempt": float64(2), "peer": map[string]any{"jid": "x"}}, m["metadata"])
	for _, k := range []string{"time", "msg"} {
		require.NotContains(t, m, k)
	}

	l.WithGroup("g").Debug("grouped", slog.String("a", "b"), slog.String(log.SessionKey, "nested"))
	m = decode(t, &buf)
	require.Equal(t, "debug", m["level"])
	require.NotContains(t, m, "sessionId", "a sessionId inside a group stays in metadata")
	require.Equal(t, map[string]any{"g": map[string]any{"a": "b", "sessionId": "nested"}}, m["metadata"])
}

func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	l, err := log.New(&buf, log.Config{Level: "warn"})
	require.NoError(t, err)
	l.Info("hidden")
	require.Zero(t, buf.Len())
	l.Error("shown", log.ErrorAttr(errors.New("boom")))
	m := decode(t, &buf)
	require.Equal(t, "error", m["level"])
	require.Equal(t, "boom", m["metadata"].(map[string]any)["error"])

	_, err = log.New(&buf, log.Config{Level: "loud"})
	require.Error(t, err)
}

func TestSecretNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	l, err := log.New(&buf, log.Config{})
	require.NoError(t, err)
	key := log.Secret("super-secret-key")
	l.Info("config", slog.Any("apiKey", key), slog.String("formatted", key.String()))
	require.NotContains(t, buf.String(), "super-secret-key")
	require.Contains(t, buf.String(), "[REDACTED]")
	require.Equal(t, "super-secret-key", key.Reveal())
}
