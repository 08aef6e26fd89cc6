package cloudsim_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/whatsappcloud/cloudsim"
)

func TestTemplates(t *testing.T) {
	h := newHarness(t, nil)
	path := "/v21.0/" + wabaID + "/message_templates"

	status, resp := h.createTemplate(t, "welcome", "en_US", "marketing", "Welcome {{1}}! Your code is {{2}}. Bye {{1}}")
	require.Equal(t, http.StatusOK, status, "%v", resp)
	assert.Equal(t, "APPROVED", resp["status"])
	assert.Equal(t, "MARKETING", resp["category"])
	require.NotEmpty(t, resp["id"])

	status, resp = h.createTemplate(t, "welcome", "pt_BR", "MARKETING", "Bem-vindo {{1}}")
	require.Equal(t, http.StatusOK, status, "%v", resp)

	t.Run("duplicate", func(t *testing.T) {
		status, resp := h.createTemplate(t, "welcome", "en_US", "MARKETING", "Again {{1}}")
		require.Equal(t, http.StatusBadRequest, status)
		code, subcode, details := graphErr(t, resp)
		assert.Equal(t, 100, code)
		assert.Equal(t, 2388024, subcode)
		assert.Equal(t, "Content in this language already exists", details)
	})

	t.Run("invalid create", func(t *testing.T) {
		for name, body := range map[string]map[string]any{
			"upper-case name": {"name": "Welcome", "language": "en_US", "category": "UTILITY",
				"components": []any{map[string]any{"type": "BODY", "text": "x"}}},
			"bad category": {"name": "a", "language": "en_US", "category": "SPAM",
				"components": []any{map[string]any{"type": "BODY", "text": "x"}}},
			"no body": {"name": "a", "language": "en_US", "category": "UTILITY",
				"components": []any{map[string]any{"type": "FOOTER", "text": "x"}}},
			"no language": {"name": "a", "category": "UTILITY",
				"components": []any{map[string]any{"type": "BODY", "text": "x"}}},
		} {
			t.Run(name, func(t *testing.T) {
				status, resp := h.call(t, http.MethodPost, path, token, body)
				requireGraphErr(t, http.StatusBadRequest, 100, status, resp)
			})
		}
	})

	t.Run("list", func(t *testing.T) {
		status, resp := h.call(t, http.MethodGet, path, token, nil)
		require.Equal(t, http.StatusOK, status)
		data := resp["data"].([]any)
		require.Len(t, data, 2)
		first := data[0].(map[string]any)
		assert.Equal(t, "welcome", first["name"])
		assert.Equal(t, "en_US", first["language"])
		assert.Equal(t, "APPROVED", first["status"])
		assert.Equal(t, "MARKETING", first["category"])
		assert.Equal(t, []any{map[string]any{"type": "BODY", "text": "Welcome {{1}}! Your code is {{2}}. Bye {{1}}"}}, first["components"])
		assert.Contains(t, resp["paging"].(map[string]any), "cursors")

		status, resp = h.call(t, http.MethodGet, path+"?name=welcome&language=pt_BR", token, nil)
		require.Equal(t, http.StatusOK, status)
		require.Len(t, resp["data"], 1)
		status, resp = h.call(t, http.MethodGet, path+"?name=nothing", token, nil)
		require.Equal(t, http.StatusOK, status)
		assert.Empty(t, resp["data"])

		// Paging: one per page, following the after cursor.
		status, resp = h.call(t, http.MethodGet, path+"?limit=1", token, nil)
		require.Equal(t, http.StatusOK, status)
		require.Len(t, resp["data"], 1)
		paging := resp["paging"].(map[string]any)
		require.NotEmpty(t, paging["next"])
		after := paging["cursors"].(map[string]any)["after"].(string)
		status, resp = h.call(t, http.MethodGet, path+"?limit=1&after="+url.QueryEscape(after), token, nil)
		require.Equal(t, http.StatusOK, status)
		require.Len(t, resp["data"], 1)
		assert.Equal(t, "pt_BR", resp["data"].([]any)[0].(map[string]any)["language"])
		assert.NotContains(t, resp["paging"].(map[string]any), "next")
	})

	t.Run("send", func(t *testing.T) {
		// Distinct placeholders count: {{1}} twice and {{2}} once need two parameters.
		status, resp, _ := h.send(t, templateMsg(custA, "welcome", "en_US", "Ana"))
		details := requireGraphErr(t, http.StatusBadRequest, 132000, status, resp)
		assert.Contains(t, details, "expected number of params (2)")
		assert.Equal(t, "(#132000) Number of parameters does not match the expected number of params", resp["error"].(map[string]any)["message"])

		status, resp, _ = h.send(t, templateMsg(custA, "welcome", "es_ES", "Ana", "1"))
		requireGraphErr(t, http.StatusBadRequest, 132001, status, resp)
		status, resp, _ = h.send(t, templateMsg(custA, "nope", "en_US"))
		requireGraphErr(t, http.StatusBadRequest, 132001, status, resp)

		wamid := h.mustSend(t, templateMsg(custA, "welcome", "en_US", "Ana", "1234"))
		h.hook.waitStatuses(t, wamid, "sent", "delivered")
	})

	t.Run("delete", func(t *testing.T) {
		status, resp := h.call(t, http.MethodDelete, path+"?name=welcome", token, nil)
		require.Equal(t, http.StatusOK, status, "%v", resp)
		assert.Equal(t, map[string]any{"success": true}, resp)
		assert.Empty(t, h.sim.Templates(wabaID), "every language goes")
		status, resp = h.call(t, http.MethodDelete, path+"?name=welcome", token, nil)
		requireGraphErr(t, http.StatusBadRequest, 100, status, resp)
	})
}

func TestTemplateApproval(t *testing.T) {
	h := newHarness(t, func(c *cloudsim.Config) { c.AutoApproveTemplates = false })
	status, resp := h.createTemplate(t, "reminder", "en", "UTILITY", "Your appointment is tomorrow")
	require.Equal(t, http.StatusOK, status, "%v", resp)
	assert.Equal(t, "PENDING", resp["status"])

	status, resp, _ = h.send(t, templateMsg(custA, "reminder", "en"))
	requireGraphErr(t, http.StatusBadRequest, 132001, status, resp)

	require.NoError(t, h.sim.SetTemplateStatus(wabaID, "reminder", "APPROVED"))
	tpls := h.sim.Templates(wabaID)
	require.Len(t, tpls, 1)
	assert.Equal(t, "APPROVED", tpls[0].Status)
	assert.Equal(t, "UTILITY", tpls[0].Category)
	h.mustSend(t, templateMsg(custA, "reminder", "en"))

	require.NoError(t, h.sim.SetTemplateStatus(wabaID, "reminder", "PAUSED"))
	status, resp, _ = h.send(t, templateMsg(custA, "reminder", "en"))
	requireGraphErr(t, http.StatusBadRequest, 132001, status, resp)

	assert.ErrorIs(t, h.sim.SetTemplateStatus(wabaID, "missing", "APPROVED"), cloudsim.ErrNotFound)
	assert.ErrorIs(t, h.sim.SetTemplateStatus("404", "reminder", "APPROVED"), cloudsim.ErrNotFound)
	assert.ErrorIs(t, h.sim.SetTemplateStatus(wabaID, "reminder", "MAYBE"), cloudsim.ErrInvalid)
}
