package core_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
)

func TestEventJSONRoundTripsEveryType(t *testing.T) {
	ts := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	samples := map[core.EventType]core.EventData{
		core.EventMessage:               &core.MessageEvent{Kind: core.EventMessage, ID: "A1", ChatID: "1@s", From: "1@s", To: "2@s", Type: core.MessageText, Body: "hi", Timestamp: ts},
		core.EventMessageCreate:         &core.MessageEvent{Kind: core.EventMessageCreate, ID: "A2", FromMe: true, Type: core.MessageImage, HasMedia: true, Media: &core.MediaInfo{MimeType: "image/png"}},
		core.EventSessionStatus:         &core.SessionStatusEvent{Status: core.StatusConnected, PreviousStatus: core.StatusQRCode},
		core.EventQRCode:                &core.QRCodeEvent{QR: "ref,a,b,c", ExpiresAt: ts},
		core.EventConnectionStatus:      &core.ConnectionStatusEvent{Status: core.ConnectionOpen},
		core.EventDisconnected:          &core.DisconnectedEvent{Reason: "replaced", IsReconnectable: false},
		core.EventMessageAck:            &core.MessageAckEvent{ID: "A1", Ack: core.AckRead},
		core.EventMessageEdit:           &core.MessageEditEvent{ID: "A1", Body: "new", PreviousBody: "old"},
		core.EventMessageRevokeEveryone: &core.MessageRevokeEvent{ID: "A1", PreviousBody: "old"},
		core.EventChangeBattery:         &core.BatteryEvent{Battery: 50, Plugged: true},
		core.EventMessageFailed:         &core.MessageFailedEvent{ID: "A1", Error: "boom", Attempts: 3},
		core.EventWebhookDisabled:       &core.WebhookDisabledEvent{EndpointID: "ep_1", URL: "https://x.example", Reason: "410 Gone"},
	}
	require.Len(t, samples, len(core.EventTypes), "a sample per event type")
	for typ, data := range samples {
		t.Run(string(typ), func(t *testing.T) {
			ev := core.NewEvent("s1", data)
			require.Equal(t, typ, ev.Type)
			b, err := json.Marshal(ev)
			require.NoError(t, err)

			var envelope map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(b, &envelope))
			for _, k := range []string{"id", "sessionId", "event", "timestamp", "data"} {
				require.Contains(t, envelope, k)
			}

			var back core.Event
			require.NoError(t, json.Unmarshal(b, &back))
			require.Equal(t, ev.ID, back.ID)
			require.Equal(t, typ, back.Type)
			require.Equal(t, data, back.Data)
		})
	}
}

func TestUnknownEventTypeIsInvalid(t *testing.T) {
	var ev core.Event
	err := json.Unmarshal([]byte(`{"id":"x","sessionId":"s","event":"nope","timestamp":"2026-11-28T12:00:00Z","data":{}}`), &ev)
	require.ErrorIs(t, err, core.ErrInvalid)
}

func TestSessionIDValidation(t *testing.T) {
	for _, ok := range []core.SessionID{"a", "Session_1-x", core.SessionID(strings.Repeat("a", 64))} {
		require.NoError(t, ok.Validate(), ok)
	}
	for _, bad := range []core.SessionID{"", "a b", "a/b", "ção", core.SessionID(strings.Repeat("a", 65))} {
		require.ErrorIs(t, bad.Validate(), core.ErrInvalid, bad)
	}
}

func TestCountSessions(t *testing.T) {
	st := core.CountSessions([]core.Session{
		{Status: core.StatusConnected}, {Status: core.StatusQRCode}, {Status: core.StatusDisconnected},
		{Status: core.StatusConnecting}, {Status: core.StatusLoggedOut}, {Status: core.StatusBanned},
	})
	require.Equal(t, core.SessionStats{Total: 6, Active: 5, Connected: 1, QRPending: 1, Disconnected: 2}, st)
}
