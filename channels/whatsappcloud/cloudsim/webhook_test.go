package cloudsim_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/whatsappcloud/cloudsim"
)

func TestSubscribeHandshake(t *testing.T) {
	h := newHarness(t, nil)
	other := newReceiver(t, appSecret)

	other.setChallenge(func(c string) string { return c + "0" })
	err := h.sim.Subscribe(phoneID, other.url(), verifyToken)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "challenge")

	other.setChallenge(func(c string) string { return c + "\n" })
	require.Error(t, h.sim.Subscribe(phoneID, other.url(), verifyToken), "the body must be exactly the challenge")

	other.setChallenge(nil)
	require.Error(t, h.sim.Subscribe(phoneID, other.url(), "wrong-token"), "receiver answers 403")
	require.ErrorIs(t, h.sim.Subscribe(phoneID, "not a url", verifyToken), cloudsim.ErrInvalid)

	// Failed handshakes keep the old callback.
	_, err = h.sim.CustomerSendText(phoneID, custA, "still to the first receiver")
	require.NoError(t, err)
	h.hook.waitMessages(t, 1)

	require.NoError(t, h.sim.Subscribe(phoneID, other.url(), verifyToken))
	_, err = h.sim.CustomerSendText(phoneID, custA, "to the new receiver")
	require.NoError(t, err)
	assert.Equal(t, "to the new receiver", other.waitMessages(t, 1)[0].Text.Body)
	assert.Len(t, h.hook.messages(), 1)
}

func TestInboundNotifications(t *testing.T) {
	h := newHarness(t, nil)

	textID, err := h.sim.CustomerSendText(phoneID, custA, "Olá! Quero ajuda")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(textID, "wamid."))
	imgData := append([]byte("\xff\xd8\xff\xe0"), make([]byte, 64)...)
	imgID, err := h.sim.CustomerSendImage(phoneID, custA, imgData, "image/jpeg", "my receipt")
	require.NoError(t, err)
	out := h.mustSend(t, textBody(custA, "Which order?"))
	replyID, err := h.sim.CustomerReply(phoneID, custA, "This one", out)
	require.NoError(t, err)

	msgs := h.hook.waitMessages(t, 3)
	values := h.hook.snapshot()
	require.NotEmpty(t, values)
	v := values[0]
	assert.Equal(t, "whatsapp", v.MessagingProduct)
	assert.Equal(t, displayDigit, v.Metadata.DisplayPhoneNumber)
	assert.Equal(t, phoneID, v.Metadata.PhoneNumberID)
	require.Len(t, v.Contacts, 1)
	assert.Equal(t, "Ana", v.Contacts[0].Profile.Name)
	assert.Equal(t, custA, v.Contacts[0].WaID)

	text := msgs[0]
	assert.Equal(t, textID, text.ID)
	assert.Equal(t, custA, text.From)
	assert.Equal(t, "text", text.Type)
	assert.Equal(t, strconv.FormatInt(h.clock.Now().Unix(), 10), text.Timestamp)
	require.NotNil(t, text.Text)
	assert.Equal(t, "Olá! Quero ajuda", text.Text.Body)
	assert.Nil(t, text.Context)

	img := msgs[1]
	assert.Equal(t, imgID, img.ID)
	assert.Equal(t, "image", img.Type)
	require.NotNil(t, img.Image)
	sum := sha256.Sum256(imgData)
	assert.Equal(t, hex.EncodeToString(sum[:]), img.Image.SHA256)
	assert.Equal(t, "image/jpeg", img.Image.MimeType)
	assert.Equal(t, "my receipt", img.Image.Caption)

	// The business fetches the customer's image like any media.
	status, resp := h.call(t, http.MethodGet, "/v21.0/"+img.Image.ID, token, nil)
	require.Equal(t, http.StatusOK, status, "%v", resp)
	code, ctype, data := download(t, resp["url"].(string), token)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "image/jpeg", ctype)
	assert.Equal(t, imgData, data)

	reply := msgs[2]
	assert.Equal(t, replyID, reply.ID)
	require.NotNil(t, reply.Context)
	assert.Equal(t, displayDigit, reply.Context.From)
	assert.Equal(t, out, reply.Context.ID)
}

func TestWebhookRetryKeepsOrder(t *testing.T) {
	h := newHarness(t, nil)
	h.hook.mu.Lock()
	h.hook.failNext = 3
	h.hook.mu.Unlock()

	const n = 5
	for i := range n {
		_, err := h.sim.CustomerSendText(phoneID, custA, fmt.Sprintf("msg %d", i))
		require.NoError(t, err)
	}
	msgs := h.hook.waitMessages(t, n)
	require.Len(t, msgs, n, "nothing duplicated")
	for i, m := range msgs {
		assert.Equal(t, fmt.Sprintf("msg %d", i), m.Text.Body)
	}
	h.hook.mu.Lock()
	attempts := h.hook.attempts
	h.hook.mu.Unlock()
	assert.Equal(t, n+3, attempts)
	assert.Equal(t, n, h.sim.Deliveries())
}

func TestNotificationsWaitForSubscription(t *testing.T) {
	hook := newReceiver(t, appSecret)
	sim := cloudsim.New(cloudsim.DefaultConfig())
	t.Cleanup(func() { require.NoError(t, sim.Close()) })
	require.NoError(t, sim.AddBusiness(cloudsim.Business{
		WABAID: wabaID, PhoneNumberID: phoneID, DisplayPhoneNumber: display, AccessToken: token, AppSecret: appSecret,
	}))
	sim.AddCustomer(custA, "Ana")
	_, err := sim.CustomerSendText(phoneID, custA, "early bird")
	require.NoError(t, err)
	assert.Equal(t, 0, sim.Deliveries())

	require.NoError(t, sim.Subscribe(phoneID, hook.url(), verifyToken))
	assert.Equal(t, "early bird", hook.waitMessages(t, 1)[0].Text.Body)
}

func TestLifecycle(t *testing.T) {
	sim := cloudsim.New(cloudsim.Config{})
	require.NoError(t, sim.Start("127.0.0.1:0"))
	require.Error(t, sim.Start("127.0.0.1:0"), "already started")
	require.True(t, strings.HasPrefix(sim.URL(), "http://127.0.0.1:"), sim.URL())
	require.NoError(t, sim.Close())
	require.NoError(t, sim.Close(), "Close is idempotent")
	require.Error(t, sim.Start("127.0.0.1:0"))
	require.Error(t, sim.AddBusiness(cloudsim.Business{WABAID: "1", PhoneNumberID: "2", AccessToken: "t"}))
}
