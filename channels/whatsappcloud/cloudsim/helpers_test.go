package cloudsim_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/whatsappcloud/cloudsim"
)

const (
	wabaID       = "102290129340398"
	phoneID      = "106540352242922"
	display      = "+1 555-0100"
	displayDigit = "15550100"
	token        = "EAAG-test-token"
	appSecret    = "test-app-secret"
	verifyToken  = "verify-me"
	custA        = "5511999990001"
	custB        = "5511999990002"
	waitFor      = 3 * time.Second
	pollEvery    = 5 * time.Millisecond
)

// fakeClock is the Config.Now of the tests; it only moves when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Webhook payload as a receiver decodes it.
type hookBody struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string    `json:"field"`
			Value hookValue `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type hookValue struct {
	MessagingProduct string `json:"messaging_product"`
	Metadata         struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WaID string `json:"wa_id"`
	} `json:"contacts"`
	Messages []hookMessage `json:"messages"`
	Statuses []hookStatus  `json:"statuses"`
}

type hookMessage struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Text      *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image *struct {
		ID       string `json:"id"`
		MimeType string `json:"mime_type"`
		SHA256   string `json:"sha256"`
		Caption  string `json:"caption"`
	} `json:"image"`
	Context *struct {
		From string `json:"from"`
		ID   string `json:"id"`
	} `json:"context"`
}

type hookStatus struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	Timestamp    string `json:"timestamp"`
	RecipientID  string `json:"recipient_id"`
	Conversation *struct {
		ID     string `json:"id"`
		Origin struct {
			Type string `json:"type"`
		} `json:"origin"`
	} `json:"conversation"`
	Pricing *struct {
		Billable     bool   `json:"billable"`
		PricingModel string `json:"pricing_model"`
		Category     string `json:"category"`
	} `json:"pricing"`
	Errors []struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"errors"`
}

// receiver is a webhook endpoint that verifies signatures like a real gateway would.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string

	mu        sync.Mutex
	failNext  int                 // answer 500 to this many POSTs first
	challenge func(string) string // how to answer hub.challenge; nil echoes it
	attempts  int
	values    []hookValue
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	r := &receiver{t: t, secret: secret}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (rc *receiver) setChallenge(f func(string) string) {
	rc.mu.Lock()
	rc.challenge = f
	rc.mu.Unlock()
}

func (rc *receiver) url() string { return rc.srv.URL + "/webhook" }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		if q.Get("hub.mode") != "subscribe" || q.Get("hub.verify_token") != verifyToken {
			http.Error(w, "bad verification", http.StatusForbidden)
			return
		}
		rc.mu.Lock()
		answer := rc.challenge
		rc.mu.Unlock()
		challenge := q.Get("hub.challenge")
		if answer != nil {
			challenge = answer(challenge)
		}
		_, _ = io.WriteString(w, challenge)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("read webhook: %v", err)
		return
	}
	mac := hmac.New(sha256.New, []byte(rc.secret))
	mac.Write(body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); r.Header.Get("X-Hub-Signature-256") != want {
		rc.t.Errorf("bad signature %q, want %q", r.Header.Get("X-Hub-Signature-256"), want)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		rc.t.Errorf("webhook Content-Type %q", ct)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	if rc.failNext > 0 {
		rc.failNext--
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	var hb hookBody
	if err := json.Unmarshal(body, &hb); err != nil {
		rc.t.Errorf("decode webhook: %v", err)
		return
	}
	if hb.Object != "whatsapp_business_account" || len(hb.Entry) != 1 || len(hb.Entry[0].Changes) != 1 ||
		hb.Entry[0].Changes[0].Field != "messages" || hb.Entry[0].ID != wabaID {
		rc.t.Errorf("unexpected webhook envelope: %s", body)
		return
	}
	rc.values = append(rc.values, hb.Entry[0].Changes[0].Value)
}

func (rc *receiver) snapshot() []hookValue {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hookValue(nil), rc.values...)
}

func (rc *receiver) messages() []hookMessage {
	var out []hookMessage
	for _, v := range rc.snapshot() {
		out = append(out, v.Messages...)
	}
	return out
}

// statusesOf lists the statuses of one wamid in arrival order.
func (rc *receiver) statusesOf(wamid string) []hookStatus {
	var out []hookStatus
	for _, v := range rc.snapshot() {
		for _, st := range v.Statuses {
			if st.ID == wamid {
				out = append(out, st)
			}
		}
	}
	return out
}

func (rc *receiver) waitStatuses(t *testing.T, wamid string, want ...string) []hookStatus {
	t.Helper()
	var got []hookStatus
	require.Eventually(t, func() bool {
		got = rc.statusesOf(wamid)
		return len(got) >= len(want)
	}, waitFor, pollEvery, "statuses of %s", wamid)
	names := make([]string, len(got))
	for i, st := range got {
		names[i] = st.Status
	}
	require.Equal(t, want, names)
	return got
}

func (rc *receiver) waitMessages(t *testing.T, n int) []hookMessage {
	t.Helper()
	var got []hookMessage
	require.Eventually(t, func() bool {
		got = rc.messages()
		return len(got) >= n
	}, waitFor, pollEvery)
	return got
}

type harness struct {
	base  string // Graph base URL
	sim   *cloudsim.Server
	hook  *receiver
	clock *fakeClock
}

// newHarness starts a simulator with one business subscribed to a receiver and customer A.
func newHarness(t *testing.T, mutate func(*cloudsim.Config)) *harness {
	t.Helper()
	hook := newReceiver(t, appSecret)
	clock := &fakeClock{t: time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)}
	cfg := cloudsim.DefaultConfig()
	cfg.Now = clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	if mutate != nil {
		mutate(&cfg)
	}
	sim := cloudsim.New(cfg)
	require.NoError(t, sim.Start("127.0.0.1:0"))
	t.Cleanup(func() { require.NoError(t, sim.Close()) })
	require.NoError(t, sim.AddBusiness(cloudsim.Business{
		WABAID: wabaID, PhoneNumberID: phoneID, DisplayPhoneNumber: display,
		VerifiedName: "Acme", AccessToken: token, AppSecret: appSecret,
	}))
	require.NoError(t, sim.Subscribe(phoneID, hook.url(), verifyToken))
	sim.AddCustomer(custA, "Ana")
	return &harness{base: sim.URL(), sim: sim, hook: hook, clock: clock}
}

// call performs a Graph request; body may be nil, []byte (sent as is) or a value to encode.
func (h *harness) call(t *testing.T, method, path, bearer string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, h.base+path, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &out), "body %s", raw)
	}
	return resp.StatusCode, out
}

func textBody(to, text string) map[string]any {
	return map[string]any{
		"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
		"type": "text", "text": map[string]any{"body": text},
	}
}

// send posts a message and, on 200, returns its wamid.
func (h *harness) send(t *testing.T, body map[string]any) (int, map[string]any, string) {
	t.Helper()
	status, resp := h.call(t, http.MethodPost, "/v21.0/"+phoneID+"/messages", token, body)
	if status != http.StatusOK {
		return status, resp, ""
	}
	msgs := resp["messages"].([]any)
	require.Len(t, msgs, 1)
	return status, resp, msgs[0].(map[string]any)["id"].(string)
}

func (h *harness) mustSend(t *testing.T, body map[string]any) string {
	t.Helper()
	status, resp, id := h.send(t, body)
	require.Equal(t, http.StatusOK, status, "response %v", resp)
	return id
}

// graphErr extracts code and subcode, checking the documented error envelope.
func graphErr(t *testing.T, resp map[string]any) (code, subcode int, details string) {
	t.Helper()
	e, ok := resp["error"].(map[string]any)
	require.True(t, ok, "no error object in %v", resp)
	require.Equal(t, "OAuthException", e["type"])
	require.NotEmpty(t, e["message"])
	require.NotEmpty(t, e["fbtrace_id"])
	data := e["error_data"].(map[string]any)
	require.Equal(t, "whatsapp", data["messaging_product"])
	if sc, ok := e["error_subcode"].(float64); ok {
		subcode = int(sc)
	}
	return int(e["code"].(float64)), subcode, data["details"].(string)
}

func requireGraphErr(t *testing.T, wantStatus, wantCode int, status int, resp map[string]any) string {
	t.Helper()
	require.Equal(t, wantStatus, status, "response %v", resp)
	code, _, details := graphErr(t, resp)
	require.Equal(t, wantCode, code, "response %v", resp)
	return details
}

func (h *harness) createTemplate(t *testing.T, name, lang, category, body string) (int, map[string]any) {
	t.Helper()
	return h.call(t, http.MethodPost, "/v21.0/"+wabaID+"/message_templates", token, map[string]any{
		"name": name, "language": lang, "category": category,
		"components": []map[string]any{{"type": "BODY", "text": body}},
	})
}

func templateMsg(to, name, lang string, params ...string) map[string]any {
	ps := make([]map[string]any, len(params))
	for i, p := range params {
		ps[i] = map[string]any{"type": "text", "text": p}
	}
	tpl := map[string]any{"name": name, "language": map[string]any{"code": lang}}
	if len(ps) > 0 {
		tpl["components"] = []map[string]any{{"type": "body", "parameters": ps}}
	}
	return map[string]any{"messaging_product": "whatsapp", "to": to, "type": "template", "template": tpl}
}
