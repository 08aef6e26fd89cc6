package whatsappcloud_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/whatsappcloud"
	"github.com/28web/hub/channels/whatsappcloud/cloudsim"
)

// connectedSession creates a Cloud session on env's current provider and verifies its webhook.
func connectedSession(t *testing.T, env *cloudEnv, p *whatsappcloud.Provider, rec *channeltest.Recorder, name string) core.SessionID {
	t.Helper()
	id := core.SessionID(fmt.Sprintf("%s-%d", name, time.Now().UnixNano()%1_000_000))
	_, err := p.CreateSession(t.Context(), core.CreateSessionRequest{ID: id, Settings: env.SessionSettings(t, id)})
	require.NoError(t, err)
	env.Pair(t, p, id)
	rec.Wait(t, waitLimit, "connected", channeltest.Is(id, func(e *core.SessionStatusEvent) bool { return e.Status == core.StatusConnected }))
	return id
}

func started(t *testing.T, env *cloudEnv, opts ...whatsappcloud.Option) (*whatsappcloud.Provider, *channeltest.Recorder) {
	t.Helper()
	rec := channeltest.NewRecorder()
	p := env.build(t, rec, opts...)
	require.NoError(t, p.Start(t.Context()))
	return p, rec
}

// customerWrites makes waID write to the session and waits until its window is open.
func customerWrites(t *testing.T, env *cloudEnv, p *whatsappcloud.Provider, id core.SessionID, waID, text string) string {
	t.Helper()
	env.sim.AddCustomer(waID, "Customer "+waID)
	wamid, err := env.sim.CustomerSendText(env.business(t, id).PhoneNumberID, waID, text)
	require.NoError(t, err)
	channeltest.Eventually(t, waitLimit, "the window to open", func() bool {
		return p.CheckSend(t.Context(), id, core.OutgoingMessage{To: waID, Type: core.MessageText, Text: "x"}) == nil
	})
	return wamid
}

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// inboundText is a notification as Meta sends it for one customer text.
func inboundText(b business, waID, wamid, text string) []byte {
	n := map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": b.WABAID, "changes": []any{map[string]any{
		"field": "messages", "value": map[string]any{"messaging_product": "whatsapp",
			"metadata": map[string]string{"display_phone_number": b.DisplayPhoneNumber, "phone_number_id": b.PhoneNumberID},
			"contacts": []any{map[string]any{"profile": map[string]string{"name": "Ana"}, "wa_id": waID}},
			"messages": []any{map[string]any{"from": waID, "id": wamid, "timestamp": fmt.Sprint(time.Now().Unix()), "type": "text",
				"text": map[string]string{"body": text}}}}}}}}}
	raw, _ := json.Marshal(n)
	return raw
}

func post(t *testing.T, env *cloudEnv, id core.SessionID, signature string, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, env.callbackURL(id), bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func countMessages(rec *channeltest.Recorder, id core.SessionID, kind core.EventType, msg core.MessageID) int {
	n := 0
	for _, e := range rec.Events() {
		if m, ok := e.Data.(*core.MessageEvent); ok && e.SessionID == id && m.Kind == kind && m.ID == msg {
			n++
		}
	}
	return n
}

func TestWebhookVerificationAndSignatures(t *testing.T) {
	env := newCloudEnv(t, cloudsim.DefaultConfig())
	p, rec := started(t, env)
	id := core.SessionID("sig-1")
	_, err := p.CreateSession(t.Context(), core.CreateSessionRequest{ID: id, Settings: env.SessionSettings(t, id)})
	require.NoError(t, err)
	b := env.business(t, id)

	verify := func(mode, token, challenge string) (int, string) {
		q := url.Values{"hub.mode": {mode}, "hub.verify_token": {token}, "hub.challenge": {challenge}}
		resp, err := http.Get(env.callbackURL(id) + "?" + q.Encode())
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.String()
	}
	code, _ := verify("subscribe", "wrong-token", "123")
	require.Equal(t, http.StatusForbidden, code)
	code, _ = verify("unsubscribe", b.VerifyToken, "123")
	require.Equal(t, http.StatusForbidden, code)
	s, err := p.Session(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, core.StatusConnecting, s.Status, "a refused handshake connects nothing")
	code, body := verify("subscribe", b.VerifyToken, "1158201444")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "1158201444", body)
	rec.Wait(t, waitLimit, "connected", channeltest.Is(id, func(e *core.SessionStatusEvent) bool { return e.Status == core.StatusConnected }))

	good := inboundText(b, "5511988880001", "wamid.SIGNED", "signed hello")
	require.Equal(t, http.StatusUnauthorized, post(t, env, id, "", good), "no signature")
	require.Equal(t, http.StatusUnauthorized, post(t, env, id, sign("another-secret", good), good), "wrong secret")
	require.Equal(t, http.StatusUnauthorized, post(t, env, id, "sha256=zz", good), "not hex")
	tampered := bytes.Replace(good, []byte("signed hello"), []byte("forged hello"), 1)
	require.Equal(t, http.StatusUnauthorized, post(t, env, id, sign(b.AppSecret, good), tampered), "body changed after signing")
	require.Equal(t, http.StatusOK, post(t, env, id, sign(b.AppSecret, good), good))
	rec.Wait(t, waitLimit, "the signed message", channeltest.Is(id, func(e *core.MessageEvent) bool {
		return e.Kind == core.EventMessage && e.Body == "signed hello" && e.PushName == "Ana"
	}))
	for _, e := range rec.Events() {
		if m, ok := e.Data.(*core.MessageEvent); ok {
			require.NotEqual(t, "forged hello", m.Body, "a badly signed notification produced an event")
		}
	}
	require.Equal(t, http.StatusNotFound, post(t, env, "nobody", sign(b.AppSecret, good), good))
}

// TestCrashAfterStoringLosesAndDuplicatesNothing: a notification stored by a gateway that died
// before processing it (or before answering, so that Meta sends it again) yields its events once,
// after the restart.
func TestCrashAfterStoringLosesAndDuplicatesNothing(t *testing.T) {
	env := newCloudEnv(t, cloudsim.DefaultConfig())
	p1, rec1 := started(t, env)
	id := connectedSession(t, env, p1, rec1, "crash")
	b := env.business(t, id)
	require.NoError(t, p1.Stop(t.Context())) // its processing stops: what it stores now waits

	body := inboundText(b, "5511988880002", "wamid.STORED", "stored before dying")
	require.NoError(t, p1.ReceiveWebhook(t.Context(), id, sign(b.AppSecret, body), body), "stored, then the process dies")

	p2, rec2 := started(t, env)
	rec2.Wait(t, waitLimit, "the stored message after the restart", channeltest.Is(id, func(e *core.MessageEvent) bool {
		return e.Kind == core.EventMessageCreate && e.ID == "wamid.STORED"
	}))
	// Meta never got its 200, so it sends the same notification again; and a replay arrives too.
	require.Equal(t, http.StatusOK, post(t, env, id, sign(b.AppSecret, body), body))
	require.Equal(t, http.StatusOK, post(t, env, id, sign(b.AppSecret, body), body))
	// A marker behind them: once it is processed, a duplicate would have been too.
	marker := inboundText(b, "5511988880002", "wamid.MARKER", "marker")
	require.Equal(t, http.StatusOK, post(t, env, id, sign(b.AppSecret, marker), marker))
	rec2.Wait(t, waitLimit, "the marker", channeltest.Is(id, func(e *core.MessageEvent) bool { return e.ID == "wamid.MARKER" }))
	assert.Equal(t, 1, countMessages(rec2, id, core.EventMessage, "wamid.STORED"))
	assert.Equal(t, 1, countMessages(rec2, id, core.EventMessageCreate, "wamid.STORED"))
	_ = p2
}

func TestConversationWindowAndTemplates(t *testing.T) {
	env := newCloudEnv(t, cloudsim.DefaultConfig())
	var mu sync.Mutex
	offset := time.Duration(0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Add(offset)
	}
	p, rec := started(t, env, whatsappcloud.WithClock(clock))
	id := connectedSession(t, env, p, rec, "window")
	ctx := t.Context()
	const waID = "5511988880003"
	text := core.OutgoingMessage{To: "+" + waID, Type: core.MessageText, Text: "hello"}

	err := p.CheckSend(ctx, id, text)
	require.ErrorIs(t, err, core.ErrInvalid, "never wrote: only a template may start the conversation")
	require.Contains(t, err.Error(), "template")

	_, err = p.CreateTemplate(ctx, id, core.Template{Name: "order_update", Language: "pt_BR", Category: "UTILITY",
		Components: []core.TemplateComponent{{Type: "body", Text: "Olá {{1}}, seu pedido {{2}} saiu."}}})
	require.NoError(t, err)
	_, err = p.CreateTemplate(ctx, id, core.Template{Name: "order_update", Language: "pt_BR", Category: "UTILITY",
		Components: []core.TemplateComponent{{Type: "body", Text: "again"}}})
	require.ErrorIs(t, err, core.ErrConflict)
	tmpl := func(params ...string) core.OutgoingMessage {
		ps := make([]core.TemplateParameter, len(params))
		for i, v := range params {
			ps[i] = core.TemplateParameter{Type: "text", Text: v}
		}
		return core.OutgoingMessage{To: "+" + waID, Type: core.MessageTemplate,
			Template: &core.TemplateMessage{Name: "order_update", Language: "pt_BR", Components: []core.TemplateComponentParams{{Type: "body", Parameters: ps}}}}
	}
	require.NoError(t, p.CheckSend(ctx, id, tmpl("Ana", "42")))
	require.ErrorIs(t, p.CheckSend(ctx, id, tmpl("Ana")), core.ErrInvalid, "a missing parameter")
	unknown := tmpl("Ana", "42")
	unknown.Template.Name = "no_such_template"
	require.ErrorIs(t, p.CheckSend(ctx, id, unknown), core.ErrInvalid)
	env.sim.AddCustomer(waID, "Ana")
	res, err := p.SendMessage(ctx, id, tmpl("Ana", "42"))
	require.NoError(t, err, "a template starts the conversation")
	rec.Wait(t, waitLimit, "the template delivered", channeltest.Is(id, func(e *core.MessageAckEvent) bool {
		return e.ID == res.ID && e.Ack == core.AckReceived
	}))

	_, err = p.CreateTemplate(ctx, id, core.Template{Name: "pending_one", Language: "en_US", Category: "MARKETING",
		Components: []core.TemplateComponent{{Type: "body", Text: "Hi"}}})
	require.NoError(t, err)
	require.NoError(t, env.sim.SetTemplateStatus(env.business(t, id).WABAID, "pending_one", "PENDING"))
	pending := core.OutgoingMessage{To: waID, Type: core.MessageTemplate, Template: &core.TemplateMessage{Name: "pending_one", Language: "en_US"}}
	err = p.CheckSend(ctx, id, pending)
	require.ErrorIs(t, err, core.ErrInvalid)
	require.Contains(t, err.Error(), "PENDING")

	customerWrites(t, env, p, id, waID, "oi")
	require.NoError(t, p.CheckSend(ctx, id, text), "inside the window")
	mu.Lock()
	offset = 25 * time.Hour
	mu.Unlock()
	err = p.CheckSend(ctx, id, text)
	require.ErrorIs(t, err, core.ErrInvalid, "the window closed")
	require.Contains(t, err.Error(), "window closed")
	_, err = p.SendMessage(ctx, id, text)
	require.ErrorIs(t, err, core.ErrInvalid, "checked again at send time: the queue may have held it past the window")
	require.NoError(t, p.CheckSend(ctx, id, tmpl("Ana", "43")), "a template is still fine")

	list, err := p.Templates(ctx, id)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.NoError(t, p.DeleteTemplate(ctx, id, "pending_one"))
	require.ErrorIs(t, p.DeleteTemplate(ctx, id, "pending_one"), core.ErrNotFound)
}

func TestGraphErrorsAreClassified(t *testing.T) {
	env := newCloudEnv(t, cloudsim.DefaultConfig())
	p, rec := started(t, env)
	id := connectedSession(t, env, p, rec, "errors")
	const waID = "5511988880004"
	customerWrites(t, env, p, id, waID, "hi")
	phone := env.business(t, id).PhoneNumberID
	msg := core.OutgoingMessage{To: waID, Type: core.MessageText, Text: "hello"}

	env.sim.Inject(phone, 1, http.StatusTooManyRequests, 130429)
	_, err := p.SendMessage(t.Context(), id, msg)
	require.ErrorIs(t, err, core.ErrUnavailable, "throughput: retried")
	env.sim.Inject(phone, 1, http.StatusInternalServerError, 1)
	_, err = p.SendMessage(t.Context(), id, msg)
	require.ErrorIs(t, err, core.ErrUnavailable, "server error: retried")
	env.sim.Inject(phone, 1, http.StatusBadRequest, 131026)
	_, err = p.SendMessage(t.Context(), id, msg)
	require.ErrorIs(t, err, core.ErrInvalid, "undeliverable: permanent")
	require.Contains(t, err.Error(), "131026")
	_, err = p.SendMessage(t.Context(), id, msg)
	require.NoError(t, err, "faults consumed")

	env.sim.Inject(phone, 1, http.StatusUnauthorized, 190)
	_, err = p.SendMessage(t.Context(), id, msg)
	require.ErrorIs(t, err, core.ErrNotConnected)
	rec.Wait(t, waitLimit, "session failed", channeltest.Is(id, func(e *core.SessionStatusEvent) bool { return e.Status == core.StatusFailed }))
}

func TestTemplateToAnUnknownNumberFailsLater(t *testing.T) {
	env := newCloudEnv(t, cloudsim.DefaultConfig())
	p, rec := started(t, env)
	id := connectedSession(t, env, p, rec, "undeliverable")
	_, err := p.CreateTemplate(t.Context(), id, core.Template{Name: "hello", Language: "en_US", Category: "UTILITY",
		Components: []core.TemplateComponent{{Type: "body", Text: "Hello"}}})
	require.NoError(t, err)
	res, err := p.SendMessage(t.Context(), id, core.OutgoingMessage{ID: "MSG-UNDELIVERABLE", To: env.UnknownRecipient(), Type: core.MessageTemplate,
		Template: &core.TemplateMessage{Name: "hello", Language: "en_US"}})
	require.NoError(t, err, "the Graph API takes it and reports the failure by webhook")
	require.Equal(t, core.MessageID("MSG-UNDELIVERABLE"), res.ID, "the core's id, not the wamid")
	failed := rec.Wait(t, waitLimit, "message_failed", channeltest.Is(id, func(e *core.MessageFailedEvent) bool { return e.ID == res.ID }))
	f := failed.Data.(*core.MessageFailedEvent)
	require.Contains(t, f.Error, "131026")
	require.Equal(t, core.ProblemInvalid, f.ErrorType)
}

func TestEveryMessageTypeReachesTheGraphAPI(t *testing.T) {
	env := newCloudEnv(t, cloudsim.DefaultConfig())
	p, rec := started(t, env)
	id := connectedSession(t, env, p, rec, "types")
	const waID = "5511988880005"
	inbound := customerWrites(t, env, p, id, waID, "hi")
	ctx := t.Context()
	_, err := p.CreateTemplate(ctx, id, core.Template{Name: "greeting", Language: "en_US", Category: "UTILITY",
		Components: []core.TemplateComponent{{Type: "body", Text: "Hello {{1}}"}}})
	require.NoError(t, err)
	first, err := p.SendMessage(ctx, id, core.OutgoingMessage{ID: "T-TEXT", To: waID, Type: core.MessageText, Text: "plain", LinkPreview: true})
	require.NoError(t, err)
	msgs := []core.OutgoingMessage{
		{ID: "T-REPLY", To: waID, Type: core.MessageText, Text: "a reply", QuotedMessageID: core.MessageID(inbound)},
		{ID: "T-IMAGE", To: waID, Type: core.MessageImage, Text: "a caption", Media: &core.Media{Data: []byte("\x89PNG fake"), MimeType: "image/png"}},
		{ID: "T-DOC", To: waID, Type: core.MessageDocument, Media: &core.Media{Data: []byte("%PDF-1.4"), MimeType: "application/pdf", FileName: "a.pdf"}},
		{ID: "T-AUDIO", To: waID, Type: core.MessageAudio, Media: &core.Media{Data: []byte("OggS"), MimeType: "audio/ogg"}},
		{ID: "T-LOC", To: waID, Type: core.MessageLocation, Location: &core.Location{Latitude: -23.5, Longitude: -46.6, Name: "Office"}},
		{ID: "T-CONTACT", To: waID, Type: core.MessageContact, Contact: &core.VCard{DisplayName: "Support",
			VCard: "BEGIN:VCARD\nVERSION:3.0\nFN:Support\nTEL;type=CELL;waid=5511999990001:+55 11 99999-0001\nEND:VCARD"}},
		{ID: "T-REACT", To: waID, Type: core.MessageReaction, Reaction: &core.Reaction{MessageID: first.ID, Emoji: "👍"}},
		{ID: "T-TMPL", To: waID, Type: core.MessageTemplate, Template: &core.TemplateMessage{Name: "greeting", Language: "en_US",
			Components: []core.TemplateComponentParams{{Type: "body", Parameters: []core.TemplateParameter{{Type: "text", Text: "Ana"}}}}}},
		{ID: "T-BUTTONS", To: waID, Type: core.MessageInteractive, Interactive: &core.Interactive{Type: "button", Body: "Pick one",
			Buttons: []core.InteractiveButton{{ID: "yes", Title: "Yes"}, {ID: "no", Title: "No"}}}},
		{ID: "T-LIST", To: waID, Type: core.MessageInteractive, Interactive: &core.Interactive{Type: "list", Body: "Choose", ListButton: "Options",
			Sections: []core.InteractiveSection{{Title: "A", Rows: []core.InteractiveRow{{ID: "r1", Title: "Row 1", Description: "first"}}}}}},
	}
	for _, m := range msgs {
		_, err := p.SendMessage(ctx, id, m)
		require.NoError(t, err, m.ID)
	}
	var got []cloudsim.Received
	channeltest.Eventually(t, waitLimit, "every message received", func() bool {
		got = env.sim.Received(waID)
		return len(got) == len(msgs)+1 // and the first text
	})
	types := map[string]map[string]any{}
	for _, r := range got {
		types[r.Type] = r.Body
	}
	for _, want := range []string{"text", "image", "document", "audio", "location", "contacts", "reaction", "template", "interactive"} {
		require.Contains(t, types, want)
	}
	reaction := types["reaction"]["reaction"].(map[string]any)
	sent, err := json.Marshal(got[0])
	require.NoError(t, err)
	require.Contains(t, string(sent), "plain")
	require.NotEqual(t, "T-TEXT", reaction["message_id"], "the reaction names the message by its wamid")
	require.True(t, strings.HasPrefix(reaction["message_id"].(string), "wamid."))
	var reply map[string]any
	for _, r := range got {
		if text, ok := r.Body["text"].(map[string]any); ok && text["body"] == "a reply" {
			reply = r.Body
		}
	}
	require.NotNil(t, reply)
	require.Equal(t, inbound, reply["context"].(map[string]any)["message_id"])

	// Statuses come back as acks of the core's ids.
	rec.Wait(t, waitLimit, "delivered ack", channeltest.Is(id, func(e *core.MessageAckEvent) bool { return e.ID == "T-LIST" && e.Ack == core.AckReceived }))
	require.NoError(t, env.sim.CustomerRead(waID, got[0].ID))
	rec.Wait(t, waitLimit, "read ack", channeltest.Is(id, func(e *core.MessageAckEvent) bool { return e.ID == "T-TEXT" && e.Ack == core.AckRead }))
}

func TestInboundMediaIsDownloadable(t *testing.T) {
	env := newCloudEnv(t, cloudsim.DefaultConfig())
	p, rec := started(t, env)
	id := connectedSession(t, env, p, rec, "media")
	const waID = "5511988880006"
	env.sim.AddCustomer(waID, "Bia")
	wamid, err := env.sim.CustomerSendImage(env.business(t, id).PhoneNumberID, waID, []byte("JPEG bytes"), "image/jpeg", "look")
	require.NoError(t, err)
	ev := rec.Wait(t, waitLimit, "image", channeltest.Is(id, func(e *core.MessageEvent) bool { return e.Kind == core.EventMessage && string(e.ID) == wamid }))
	m := ev.Data.(*core.MessageEvent)
	require.Equal(t, core.MessageImage, m.Type)
	require.True(t, m.HasMedia)
	require.Equal(t, "look", m.Body)
	got, err := p.DownloadMedia(t.Context(), id, m.ID)
	require.NoError(t, err)
	require.Equal(t, []byte("JPEG bytes"), got.Data)
	require.Equal(t, "image/jpeg", got.MimeType)
	require.NoError(t, p.SendPresence(t.Context(), id, core.ChatID(waID+"@s.whatsapp.net"), core.PresenceTyping))
	require.ErrorIs(t, p.SendPresence(t.Context(), id, core.ChatID(waID+"@s.whatsapp.net"), core.PresenceRecording), core.ErrInvalid)
	require.NoError(t, p.MarkRead(t.Context(), id, "", []core.MessageID{m.ID}))
}

func TestPairRateLimit(t *testing.T) {
	env := newCloudEnv(t, cloudsim.DefaultConfig())
	env.cfg.PairBurst, env.cfg.PairInterval = 2, time.Hour
	p, rec := started(t, env)
	id := connectedSession(t, env, p, rec, "pair")
	const waID = "5511988880007"
	customerWrites(t, env, p, id, waID, "hi")
	msg := core.OutgoingMessage{To: waID, Type: core.MessageText, Text: "x"}
	for range 2 {
		_, err := p.SendMessage(t.Context(), id, msg)
		require.NoError(t, err)
	}
	_, err := p.SendMessage(t.Context(), id, msg)
	require.ErrorIs(t, err, core.ErrUnavailable, "the third message to one customer waits (the queue retries it)")
	require.Contains(t, err.Error(), "pair rate")
}

// TestSecretsStayOutOfLogsAndStorage: the access token and app secret appear neither in any log
// line of a run that creates, fails and restores sessions, nor in the database in clear.
func TestSecretsStayOutOfLogsAndStorage(t *testing.T) {
	env := newCloudEnv(t, cloudsim.DefaultConfig())
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := channeltest.NewRecorder()
	p, err := whatsappcloud.New(env.cfg, env.db.Bun(), rec, logger)
	require.NoError(t, err)
	env.mu.Lock()
	env.provider = p
	env.mu.Unlock()
	require.NoError(t, p.Start(t.Context()))
	id := connectedSession(t, env, p, rec, "secret")
	b := env.business(t, id)
	body := inboundText(b, "5511988880008", "wamid.X", "x")
	require.Equal(t, http.StatusUnauthorized, post(t, env, id, sign("nope", body), body))
	env.sim.Inject(b.PhoneNumberID, 1, http.StatusUnauthorized, 190)
	_, _ = p.SendMessage(t.Context(), id, core.OutgoingMessage{To: "5511988880008", Type: core.MessageTemplate, Template: &core.TemplateMessage{Name: "x", Language: "en"}})
	_, err = p.CreateSession(t.Context(), core.CreateSessionRequest{ID: "secret-bad", Settings: map[string]string{
		whatsappcloud.SettingPhoneNumberID: b.PhoneNumberID, whatsappcloud.SettingWABAID: b.WABAID, whatsappcloud.SettingAccessToken: "EAAG-wrong-token-value",
		whatsappcloud.SettingAppSecret: "s", whatsappcloud.SettingVerifyToken: "v"}})
	require.ErrorIs(t, err, core.ErrInvalid)
	require.NotContains(t, err.Error(), "EAAG-wrong-token-value")
	require.NoError(t, p.Stop(t.Context()))

	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	require.NotEmpty(t, out)
	for _, secret := range []string{b.AccessToken, b.AppSecret, b.VerifyToken} {
		require.NotContains(t, out, secret)
	}
	var stored []string
	require.NoError(t, env.db.Bun().NewRaw("SELECT access_token || app_secret || verify_token FROM whatsappcloud_sessions").Scan(context.Background(), &stored))
	require.NotEmpty(t, stored)
	for _, row := range stored {
		for _, secret := range []string{b.AccessToken, b.AppSecret, b.VerifyToken} {
			require.NotContains(t, row, secret)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
