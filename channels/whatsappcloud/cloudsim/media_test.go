package cloudsim_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 300)...)

func (h *harness) upload(t *testing.T, fields map[string]string, data []byte) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	fw, err := mw.CreateFormFile("file", "photo.png")
	require.NoError(t, err)
	_, err = fw.Write(data)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.base+"/v21.0/"+phoneID+"/media", &buf)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	h.decode(t, resp, &out)
	return resp.StatusCode, out
}

func (h *harness) decode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, v), "body %s", raw)
}

// download fetches a media URL the way a client does: GET with the bearer token.
func download(t *testing.T, url, bearer string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), data
}

func TestMedia(t *testing.T) {
	h := newHarness(t, nil)
	_, err := h.sim.CustomerSendText(phoneID, custA, "send me the picture")
	require.NoError(t, err)

	status, resp := h.upload(t, map[string]string{"messaging_product": "whatsapp", "type": "image/png"}, pngBytes)
	require.Equal(t, http.StatusOK, status, "%v", resp)
	id, _ := resp["id"].(string)
	require.NotEmpty(t, id)
	assert.True(t, isNumeric(id), id)

	status, resp = h.call(t, http.MethodGet, "/v21.0/"+id, token, nil)
	require.Equal(t, http.StatusOK, status, "%v", resp)
	sum := sha256.Sum256(pngBytes)
	assert.Equal(t, "whatsapp", resp["messaging_product"])
	assert.Equal(t, "image/png", resp["mime_type"])
	assert.Equal(t, hex.EncodeToString(sum[:]), resp["sha256"])
	assert.Equal(t, float64(len(pngBytes)), resp["file_size"])
	assert.Equal(t, id, resp["id"])
	mediaURL := resp["url"].(string)
	assert.Contains(t, mediaURL, h.base+"/_media/"+id+"?token=")

	code, ctype, data := download(t, mediaURL, token)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "image/png", ctype)
	assert.Equal(t, pngBytes, data)
	code, _, _ = download(t, mediaURL, "")
	assert.Equal(t, http.StatusUnauthorized, code)

	wamid := h.mustSend(t, map[string]any{"messaging_product": "whatsapp", "to": custA, "type": "image",
		"image": map[string]any{"id": id, "caption": "here"}})
	h.hook.waitStatuses(t, wamid, "sent", "delivered")

	status, resp = h.call(t, http.MethodDelete, "/v21.0/"+id, token, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"success": true}, resp)
	status, resp = h.call(t, http.MethodGet, "/v21.0/"+id, token, nil)
	requireGraphErr(t, http.StatusBadRequest, 100, status, resp)
	status, resp, _ = h.send(t, map[string]any{"messaging_product": "whatsapp", "to": custA, "type": "image",
		"image": map[string]any{"id": id}})
	requireGraphErr(t, http.StatusBadRequest, 100, status, resp)
	code, _, _ = download(t, mediaURL, token)
	assert.Equal(t, http.StatusNotFound, code)

	t.Run("upload errors", func(t *testing.T) {
		status, resp := h.upload(t, map[string]string{"type": "image/png"}, pngBytes)
		requireGraphErr(t, http.StatusBadRequest, 100, status, resp)
		status, resp = h.call(t, http.MethodPost, "/v21.0/"+phoneID+"/media", token, map[string]any{"file": "x"})
		requireGraphErr(t, http.StatusBadRequest, 100, status, resp)
	})
}

func isNumeric(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
