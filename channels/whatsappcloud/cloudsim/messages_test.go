package cloudsim_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/whatsappcloud/cloudsim"
)

func TestSendTextDelivered(t *testing.T) {
	h := newHarness(t, nil)
	_, err := h.sim.CustomerSendText(phoneID, custA, "hi there")
	require.NoError(t, err)

	status, resp, wamid := h.send(t, textBody("+"+custA, "Hello Ana"))
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "whatsapp", resp["messaging_product"])
	assert.Equal(t, []any{map[string]any{"input": "+" + custA, "wa_id": custA}}, resp["contacts"])
	assert.True(t, strings.HasPrefix(wamid, "wamid."), wamid)
	assert.NotContains(t, resp["messages"].([]any)[0], "message_status")

	sts := h.hook.waitStatuses(t, wamid, "sent", "delivered")
	for _, st := range sts {
		assert.Equal(t, custA, st.RecipientID)
		assert.Equal(t, strconv.FormatInt(h.clock.Now().Unix(), 10), st.Timestamp)
		require.NotNil(t, st.Conversation)
		assert.Equal(t, "service", st.Conversation.Origin.Type)
		require.NotNil(t, st.Pricing)
		assert.Equal(t, "CBP", st.Pricing.PricingModel)
		assert.True(t, st.Pricing.Billable)
		assert.Empty(t, st.Errors)
	}
	assert.Equal(t, sts[0].Conversation.ID, sts[1].Conversation.ID)

	got := h.sim.Received(custA)
	require.Len(t, got, 1)
	assert.Equal(t, wamid, got[0].ID)
	assert.Equal(t, phoneID, got[0].PhoneNumberID)
	assert.Equal(t, "text", got[0].Type)
	assert.Equal(t, "Hello Ana", got[0].Body["text"].(map[string]any)["body"])

	// The customer reads it; the read status follows sent and delivered.
	require.NoError(t, h.sim.CustomerRead(custA, wamid))
	read := h.hook.waitStatuses(t, wamid, "sent", "delivered", "read")[2]
	assert.Nil(t, read.Conversation)
	assert.Nil(t, read.Pricing)
	require.ErrorIs(t, h.sim.CustomerRead(custB, wamid), cloudsim.ErrNotFound)

	// Sent + delivered + read plus the inbound message; every one answered 2xx.
	require.Eventually(t, func() bool { return h.sim.Deliveries() == 4 }, waitFor, pollEvery)
}

func TestAutoDeliverOff(t *testing.T) {
	h := newHarness(t, func(c *cloudsim.Config) { c.AutoDeliver = false })
	_, err := h.sim.CustomerSendText(phoneID, custA, "hi")
	require.NoError(t, err)
	first := h.mustSend(t, textBody(custA, "one"))
	second := h.mustSend(t, textBody(custA, "two"))
	h.hook.waitStatuses(t, second, "sent")
	assert.Len(t, h.hook.statusesOf(first), 1, "no delivered status without AutoDeliver")
}

func TestCustomerServiceWindow(t *testing.T) {
	h := newHarness(t, nil)

	// Never wrote: free-form fails.
	cold := h.mustSend(t, textBody(custA, "cold"))
	failed := h.hook.waitStatuses(t, cold, "failed")[0]
	require.Len(t, failed.Errors, 1)
	assert.Equal(t, 131047, failed.Errors[0].Code)

	_, err := h.sim.CustomerSendText(phoneID, custA, "I need help")
	require.NoError(t, err)
	h.clock.Advance(23 * time.Hour)
	warm := h.mustSend(t, textBody(custA, "within 24h"))
	h.hook.waitStatuses(t, warm, "sent", "delivered")

	h.clock.Advance(2 * time.Hour) // 25h after the customer wrote
	late := h.mustSend(t, textBody(custA, "too late"))
	failed = h.hook.waitStatuses(t, late, "failed")[0]
	require.Len(t, failed.Errors, 1)
	assert.Equal(t, 131047, failed.Errors[0].Code)
	assert.Equal(t, "Re-engagement message", failed.Errors[0].Title)
	assert.Equal(t, "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
		failed.Errors[0].ErrorData.Details)
	assert.Nil(t, failed.Conversation)
	assert.Nil(t, failed.Pricing)

	// A reaction is free-form too.
	react := h.mustSend(t, map[string]any{"messaging_product": "whatsapp", "to": custA, "type": "reaction",
		"reaction": map[string]any{"message_id": warm, "emoji": "👍"}})
	h.hook.waitStatuses(t, react, "failed")

	// Templates are allowed outside the window.
	status, resp := h.createTemplate(t, "order_update", "en_US", "UTILITY", "Hi {{1}}, order {{2}} shipped")
	require.Equal(t, http.StatusOK, status, "%v", resp)
	status, resp, tplID := h.send(t, templateMsg(custA, "order_update", "en_US", "Ana", "#42"))
	require.Equal(t, http.StatusOK, status, "%v", resp)
	assert.Equal(t, "accepted", resp["messages"].([]any)[0].(map[string]any)["message_status"])
	sent := h.hook.waitStatuses(t, tplID, "sent", "delivered")[0]
	assert.Equal(t, "utility", sent.Conversation.Origin.Type)
	assert.Equal(t, "utility", sent.Pricing.Category)

	got := h.sim.Received(custA)
	require.Len(t, got, 2, "failed messages are not received")
	assert.Equal(t, warm, got[0].ID)
	assert.Equal(t, tplID, got[1].ID)
	assert.Equal(t, "template", got[1].Type)
}

func TestUnknownRecipient(t *testing.T) {
	h := newHarness(t, nil)
	const stranger = "5511000000000"
	status, resp, wamid := h.send(t, textBody(stranger, "hello?"))
	require.Equal(t, http.StatusOK, status, "the API accepts; delivery fails later")
	assert.Equal(t, stranger, resp["contacts"].([]any)[0].(map[string]any)["wa_id"])
	failed := h.hook.waitStatuses(t, wamid, "failed")[0]
	require.Len(t, failed.Errors, 1)
	assert.Equal(t, 131026, failed.Errors[0].Code)
	assert.Equal(t, "Message undeliverable", failed.Errors[0].Title)
	assert.Equal(t, stranger, failed.RecipientID)
	assert.Empty(t, h.sim.Received(stranger))
}

func TestThroughput(t *testing.T) {
	h := newHarness(t, func(c *cloudsim.Config) { c.Throughput = 2 })
	_, err := h.sim.CustomerSendText(phoneID, custA, "hi")
	require.NoError(t, err)
	h.mustSend(t, textBody(custA, "1"))
	h.mustSend(t, textBody(custA, "2"))
	status, resp, _ := h.send(t, textBody(custA, "3"))
	details := requireGraphErr(t, http.StatusTooManyRequests, 130429, status, resp)
	assert.Equal(t, "Cloud API message throughput has been reached.", details)
	assert.Equal(t, "(#130429) Rate limit hit", resp["error"].(map[string]any)["message"])

	h.clock.Advance(500 * time.Millisecond) // refills one token
	h.mustSend(t, textBody(custA, "4"))
	status, _, _ = h.send(t, textBody(custA, "5"))
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Len(t, h.sim.Received(custA), 3)
}

func TestPairRate(t *testing.T) {
	h := newHarness(t, func(c *cloudsim.Config) {
		c.PairRateBurst = 2
		c.PairRateWindow = time.Minute
	})
	h.sim.AddCustomer(custB, "Bia")
	for _, c := range []string{custA, custB} {
		_, err := h.sim.CustomerSendText(phoneID, c, "hi")
		require.NoError(t, err)
	}
	h.mustSend(t, textBody(custA, "1"))
	h.mustSend(t, textBody(custA, "2"))
	status, resp, _ := h.send(t, textBody(custA, "3"))
	requireGraphErr(t, http.StatusBadRequest, 131056, status, resp)
	assert.Equal(t, "(#131056) (Business Account, Consumer Account) pair rate limit hit", resp["error"].(map[string]any)["message"])

	h.mustSend(t, textBody(custB, "other recipient is fine"))
	h.clock.Advance(61 * time.Second)
	h.mustSend(t, textBody(custA, "window passed"))
}

func TestInject(t *testing.T) {
	h := newHarness(t, func(c *cloudsim.Config) { c.Throughput = 100 })
	_, err := h.sim.CustomerSendText(phoneID, custA, "hi")
	require.NoError(t, err)

	h.sim.Inject(phoneID, 2, http.StatusInternalServerError, 131000)
	h.sim.Inject(phoneID, 1, http.StatusTooManyRequests, 130429)
	h.sim.Inject(phoneID, 1, http.StatusUnauthorized, 190)
	h.sim.Inject(phoneID, 1, http.StatusBadRequest, 131026)
	for _, want := range []struct{ status, code int }{{500, 131000}, {500, 131000}, {429, 130429}, {401, 190}, {400, 131026}} {
		// Faults come before validation: even an empty body gets the injected answer.
		status, resp, _ := h.send(t, map[string]any{})
		requireGraphErr(t, want.status, want.code, status, resp)
	}
	wamid := h.mustSend(t, textBody(custA, "after the storm"))
	h.hook.waitStatuses(t, wamid, "sent", "delivered")
	assert.Len(t, h.sim.Received(custA), 1)
}

func TestMarkRead(t *testing.T) {
	h := newHarness(t, nil)
	in, err := h.sim.CustomerSendText(phoneID, custA, "hi")
	require.NoError(t, err)
	out := h.mustSend(t, textBody(custA, "hello"))
	path := "/v21.0/" + phoneID + "/messages"

	for _, body := range []map[string]any{
		{"messaging_product": "whatsapp", "status": "read", "message_id": in},
		{"messaging_product": "whatsapp", "status": "read", "message_id": in, "typing_indicator": map[string]any{"type": "text"}},
	} {
		status, resp := h.call(t, http.MethodPost, path, token, body)
		require.Equal(t, http.StatusOK, status, "%v", resp)
		assert.Equal(t, map[string]any{"success": true}, resp)
	}
	assert.Equal(t, 2, h.sim.MarkRequests(custA))

	for _, id := range []string{"wamid.unknown", out} {
		status, resp := h.call(t, http.MethodPost, path, token,
			map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": id})
		requireGraphErr(t, http.StatusBadRequest, 100, status, resp)
	}
	assert.Equal(t, 2, h.sim.MarkRequests(custA))
}

func TestCustomerErrors(t *testing.T) {
	h := newHarness(t, nil)
	_, err := h.sim.CustomerSendText(phoneID, custB, "who am I")
	assert.True(t, errors.Is(err, cloudsim.ErrNotFound), "unknown customer: %v", err)
	_, err = h.sim.CustomerSendText("404", custA, "hi")
	assert.ErrorIs(t, err, cloudsim.ErrNotFound)
	_, err = h.sim.CustomerReply(phoneID, custA, "re", "wamid.nope")
	assert.ErrorIs(t, err, cloudsim.ErrNotFound)
	assert.ErrorIs(t, h.sim.Subscribe("404", h.hook.url(), verifyToken), cloudsim.ErrNotFound)
	assert.ErrorIs(t, h.sim.AddBusiness(cloudsim.Business{WABAID: wabaID, PhoneNumberID: phoneID, AccessToken: token}), cloudsim.ErrExists)
	assert.ErrorIs(t, h.sim.AddBusiness(cloudsim.Business{WABAID: "1"}), cloudsim.ErrInvalid)
}
