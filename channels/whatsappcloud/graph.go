package whatsappcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/28web/hub/channels/core"
)

// graphClient calls the Graph API with one session's access token. It never logs or returns the
// token: errors carry the Graph error, not the request.
type graphClient struct {
	base    string // GraphURL + "/" + APIVersion
	http    *http.Client
	maxBody int64
}

func newGraphClient(cfg Config, hc *http.Client) *graphClient {
	if hc == nil {
		hc = &http.Client{Timeout: cfg.RequestTimeout}
	}
	return &graphClient{base: strings.TrimRight(cfg.GraphURL, "/") + "/" + cfg.APIVersion, http: hc, maxBody: cfg.MaxMediaBytes + 1<<20}
}

// GraphError is an error answer of the Graph API.
type GraphError struct {
	HTTPStatus int
	Code       int    `json:"code"`
	Subcode    int    `json:"error_subcode"`
	Type       string `json:"type"`
	Message    string `json:"message"`
	Details    string `json:"-"`
	TraceID    string `json:"fbtrace_id"`
	ErrorData  struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

func (e *GraphError) Error() string {
	msg := fmt.Sprintf("graph api error %d: %s", e.Code, e.Message)
	if e.HTTPStatus != 0 {
		msg = fmt.Sprintf("graph api error %d (http %d): %s", e.Code, e.HTTPStatus, e.Message)
	}
	if e.ErrorData.Details != "" {
		msg += ": " + e.ErrorData.Details
	}
	return msg
}

// Unwrap classifies the error for the send queue: permanent (ErrInvalid, ErrNotFound) is not
// retried, ErrUnavailable is.
func (e *GraphError) Unwrap() error { return classify(e.HTTPStatus, e.Code) }

// Graph API error codes the channel tells apart
// (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
const (
	codeInvalidParameter = 100
	codeAccessToken      = 190
	codeThrottled        = 4
	codeAppRateLimit     = 80007
	codeThroughput       = 130429
	codePairRate         = 131056
	codeSpamRate         = 131048
	codeGeneric          = 131000
	codeServiceDown      = 131016
	codeReengagement     = 131047
	codeUndeliverable    = 131026
	codeTemplateParams   = 132000
	codeTemplateMissing  = 132001
)

// classify maps a Graph error to the core's sentinels: rate limits, throttling and server errors
// are transient; the rest (bad parameters, unknown recipients, a closed window, a refused token)
// would fail the same way again.
func classify(status, code int) error {
	switch code {
	case codeThrottled, codeAppRateLimit, codeThroughput, codePairRate, codeSpamRate, codeGeneric, codeServiceDown:
		return core.ErrUnavailable
	case codeAccessToken:
		return core.ErrNotConnected
	}
	if status == http.StatusTooManyRequests || status >= 500 {
		return core.ErrUnavailable
	}
	return core.ErrInvalid
}

// statusError is the error of a status notification's errors[0] (no HTTP status: it came by
// webhook).
func statusError(code int, title, details string) error {
	e := &GraphError{Code: code, Message: title}
	e.ErrorData.Details = details
	return e
}

func (g *graphClient) do(ctx context.Context, token, method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, body)
	if err != nil {
		return fmt.Errorf("graph %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := g.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("graph %s %s: %w: %w", method, path, core.ErrUnavailable, stripURLError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("graph %s %s: read answer: %w: %w", method, path, core.ErrUnavailable, err)
	}
	if resp.StatusCode/100 != 2 {
		var envelope struct {
			Error *GraphError `json:"error"`
		}
		if json.Unmarshal(raw, &envelope) != nil || envelope.Error == nil {
			return fmt.Errorf("graph %s %s: http %d: %w", method, path, resp.StatusCode, classify(resp.StatusCode, 0))
		}
		envelope.Error.HTTPStatus = resp.StatusCode
		return envelope.Error
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("graph %s %s: decode answer: %w: %w", method, path, core.ErrUnavailable, err)
	}
	return nil
}

// stripURLError keeps a transport error's cause without its URL (which holds no token, but keeps
// logs short).
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (g *graphClient) postJSON(ctx context.Context, token, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode graph request: %w", err)
	}
	return g.do(ctx, token, http.MethodPost, path, bytes.NewReader(b), "application/json", out)
}

// phoneNumber is what GET /{phone-number-id} says about a business number.
type phoneNumber struct {
	ID                 string `json:"id"`
	DisplayPhoneNumber string `json:"display_phone_number"`
	VerifiedName       string `json:"verified_name"`
}

func (g *graphClient) phoneNumber(ctx context.Context, token, id string) (phoneNumber, error) {
	var pn phoneNumber
	err := g.do(ctx, token, http.MethodGet, "/"+url.PathEscape(id)+"?fields=id,display_phone_number,verified_name", nil, "", &pn)
	return pn, err
}

// sendResponse is the answer to POST /{phone-number-id}/messages.
type sendResponse struct {
	Contacts []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts"`
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
}

func (g *graphClient) send(ctx context.Context, token, phoneNumberID string, payload map[string]any) (sendResponse, error) {
	var out sendResponse
	if err := g.postJSON(ctx, token, "/"+url.PathEscape(phoneNumberID)+"/messages", payload, &out); err != nil {
		return out, err
	}
	if len(out.Messages) == 0 || out.Messages[0].ID == "" {
		return out, fmt.Errorf("graph send: answer without a message id: %w", core.ErrUnavailable)
	}
	return out, nil
}

// markRead sends a read receipt for an incoming message, with the typing indicator if asked.
func (g *graphClient) markRead(ctx context.Context, token, phoneNumberID, wamid string, typing bool) error {
	body := map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
	if typing {
		body["typing_indicator"] = map[string]string{"type": "text"}
	}
	return g.postJSON(ctx, token, "/"+url.PathEscape(phoneNumberID)+"/messages", body, nil)
}

func (g *graphClient) uploadMedia(ctx context.Context, token, phoneNumberID, mimeType, fileName string, data []byte) (string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("messaging_product", "whatsapp")
	_ = w.WriteField("type", mimeType)
	if fileName == "" {
		fileName = "file"
	}
	part, err := w.CreateFormFile("file", fileName)
	if err != nil {
		return "", fmt.Errorf("encode media upload: %w", err)
	}
	if _, err := part.Write(data); err != nil {
		return "", fmt.Errorf("encode media upload: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("encode media upload: %w", err)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := g.do(ctx, token, http.MethodPost, "/"+url.PathEscape(phoneNumberID)+"/media", &buf, w.FormDataContentType(), &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// downloadMedia resolves a media id to its URL and fetches the bytes (both with the token).
func (g *graphClient) downloadMedia(ctx context.Context, token, mediaID string) (core.DownloadedMedia, error) {
	var meta struct {
		URL      string `json:"url"`
		MimeType string `json:"mime_type"`
	}
	if err := g.do(ctx, token, http.MethodGet, "/"+url.PathEscape(mediaID), nil, "", &meta); err != nil {
		return core.DownloadedMedia{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, meta.URL, nil)
	if err != nil {
		return core.DownloadedMedia{}, fmt.Errorf("media url: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := g.http.Do(req)
	if err != nil {
		return core.DownloadedMedia{}, fmt.Errorf("download media: %w: %w", core.ErrUnavailable, stripURLError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return core.DownloadedMedia{}, fmt.Errorf("download media: http %d: %w", resp.StatusCode, classify(resp.StatusCode, 0))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, g.maxBody))
	if err != nil {
		return core.DownloadedMedia{}, fmt.Errorf("download media: %w: %w", core.ErrUnavailable, err)
	}
	mt := meta.MimeType
	if mt == "" {
		mt = resp.Header.Get("Content-Type")
	}
	return core.DownloadedMedia{MimeType: mt, Data: data}, nil
}

// graphTemplate is a template as the Graph API spells it.
type graphTemplate struct {
	ID         string           `json:"id,omitempty"`
	Name       string           `json:"name"`
	Language   string           `json:"language"`
	Status     string           `json:"status,omitempty"`
	Category   string           `json:"category"`
	Components []graphComponent `json:"components"`
}

type graphComponent struct {
	Type    string        `json:"type"`
	Format  string        `json:"format,omitempty"`
	Text    string        `json:"text,omitempty"`
	Buttons []graphButton `json:"buttons,omitempty"`
}

type graphButton struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	URL         string `json:"url,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
}

func (g *graphClient) templates(ctx context.Context, token, wabaID string) ([]graphTemplate, error) {
	var all []graphTemplate
	path := "/" + url.PathEscape(wabaID) + "/message_templates?limit=100"
	for page := 0; page < 50; page++ {
		var out struct {
			Data   []graphTemplate `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := g.do(ctx, token, http.MethodGet, path, nil, "", &out); err != nil {
			return nil, err
		}
		all = append(all, out.Data...)
		if out.Paging.Next == "" || out.Paging.Cursors.After == "" {
			return all, nil
		}
		path = "/" + url.PathEscape(wabaID) + "/message_templates?limit=100&after=" + url.QueryEscape(out.Paging.Cursors.After)
	}
	return all, nil
}

type graphTemplateAnswer struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Category string `json:"category"`
}

func (g *graphClient) createTemplate(ctx context.Context, token, wabaID string, t graphTemplate) (graphTemplateAnswer, error) {
	var out graphTemplateAnswer
	err := g.postJSON(ctx, token, "/"+url.PathEscape(wabaID)+"/message_templates", t, &out)
	return out, err
}

func (g *graphClient) deleteTemplate(ctx context.Context, token, wabaID, name string) error {
	return g.do(ctx, token, http.MethodDelete, "/"+url.PathEscape(wabaID)+"/message_templates?name="+url.QueryEscape(name), nil, "", nil)
}
