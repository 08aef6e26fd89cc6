package main

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/whatsappcloud"
	"github.com/28web/hub/channels/whatsappcloud/cloudsim"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/openapi/client"
	"github.com/28web/hub/platform/log"
)

// TestBothChannelsInOneGateway runs a WhatsApp session (whatsmeow on the simulator) and a
// WhatsApp Business Cloud API session (on cloudsim) side by side in one gateway process, through
// the generated client behind the spec-validating transport.
func TestBothChannelsInOneGateway(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			environ, adjust := d.env(t)
			sim := newSim(t)
			cs := cloudsim.New(cloudsim.Config{Logger: log.Discard(), AutoDeliver: true, AutoApproveTemplates: true})
			require.NoError(t, cs.Start("127.0.0.1:0"))
			t.Cleanup(func() { _ = cs.Close() })
			key := make([]byte, 32)
			_, _ = rand.Read(key)
			g := startE2E(t, sim, environ, func(c *config.Config) {
				adjust(c)
				c.WhatsAppCloud.GraphURL = cs.URL()
				c.WhatsAppCloud.EncryptionKey = base64.StdEncoding.EncodeToString(key)
			})
			ctx := t.Context()

			channels, err := g.api.ListChannelsWithResponse(ctx)
			require.NoError(t, err)
			require.NotNil(t, channels.JSON200, string(channels.Body))
			byName := map[string]client.Channel{}
			for _, c := range *channels.JSON200.Channels {
				byName[c.Channel] = c
			}
			require.Contains(t, byName, "whatsapp")
			require.Contains(t, byName, "whatsapp-cloud")
			require.NotContains(t, *byName["whatsapp"].MessageTypes, "template")
			require.Contains(t, *byName["whatsapp-cloud"].MessageTypes, "template")
			require.Contains(t, *byName["whatsapp-cloud"].Capabilities, client.ChannelCapabilities("templates"))
			require.NotContains(t, *byName["whatsapp-cloud"].Capabilities, client.ChannelCapabilities("qr_login"))

			// The WhatsApp session: paired by QR.
			agent, err := sim.NewPhone(e2eNumber())
			require.NoError(t, err)
			customer, err := sim.NewPhone(e2eNumber())
			require.NoError(t, err)
			g.pair(t, "wa", agent)

			// The Cloud session: created with its credentials, connected once Meta verified its webhook.
			biz := cloudsim.Business{WABAID: "4100001", PhoneNumberID: "5100001", DisplayPhoneNumber: "+55 21 3000-0001",
				VerifiedName: "28web Store", AccessToken: "EAAGe2eSecretTokenValue123", AppSecret: "e2e-app-secret"}
			require.NoError(t, cs.AddBusiness(biz))
			cloud := "whatsapp-cloud"
			created, err := g.api.CreateSessionWithResponse(ctx, client.CreateSessionRequest{Id: "cloud", Channel: &cloud, Settings: &map[string]string{
				whatsappcloud.SettingPhoneNumberID: biz.PhoneNumberID, whatsappcloud.SettingWABAID: biz.WABAID,
				whatsappcloud.SettingAccessToken: biz.AccessToken, whatsappcloud.SettingAppSecret: biz.AppSecret,
				whatsappcloud.SettingVerifyToken: "e2e-verify"}})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
			require.NotContains(t, string(created.Body), biz.AccessToken, "the token is never shown")
			require.NotContains(t, string(created.Body), biz.AppSecret)
			require.NoError(t, cs.Subscribe(biz.PhoneNumberID, g.base+whatsappcloud.WebhookPath+"/cloud", "e2e-verify"))
			channeltest.Eventually(t, 15*time.Second, "cloud session connected", func() bool {
				res, err := g.api.GetSessionWithResponse(ctx, "cloud")
				require.NoError(t, err)
				return res.JSON200 != nil && res.JSON200.Status == client.SessionStatusConnected
			})
			badCreate, err := g.api.CreateSessionWithResponse(ctx, client.CreateSessionRequest{Id: "cloud-bad", Channel: &cloud,
				Settings: &map[string]string{whatsappcloud.SettingPhoneNumberID: biz.PhoneNumberID}})
			require.NoError(t, err)
			require.Equal(t, http.StatusUnprocessableEntity, badCreate.StatusCode(), string(badCreate.Body))

			// A type the channel lacks is refused at accept, naming the channel.
			tmpl := client.SendMessageRequest{To: "+" + customer.Number(), Type: client.SendMessageRequestTypeTemplate,
				Template: &client.TemplateInput{Name: "order_update", Language: "pt_BR", Components: &[]client.TemplateComponentInput{{
					Type: client.TemplateComponentInputTypeBody, Parameters: &[]client.TemplateParameterInput{{Type: client.TemplateParameterInputTypeText, Text: ptr("Ana")}}}}}}
			refused, err := g.api.SendMessageWithResponse(ctx, "wa", nil, tmpl)
			require.NoError(t, err)
			require.Equal(t, http.StatusUnprocessableEntity, refused.StatusCode())
			require.Contains(t, string(refused.Body), "channel whatsapp cannot send template")

			// WhatsApp both ways.
			waOut := g.send(t, "wa", client.SendMessageRequest{To: "+" + customer.Number(), Type: client.SendMessageRequestTypeText, Text: ptr("hi from whatsapp")})
			g.waitStatus(t, "wa", waOut, client.MessageStatusDelivered)
			waIn, err := customer.SendText(ctx, agent.JID(), "hello whatsapp")
			require.NoError(t, err)
			g.waitMessage(t, "wa", waIn)

			// Cloud: outside the window only a template; its parameters are checked at accept.
			const waID = "5521988880001"
			cs.AddCustomer(waID, "Bia")
			freeForm := client.SendMessageRequest{To: "+" + waID, Type: client.SendMessageRequestTypeText, Text: ptr("hi from the cloud")}
			closed, err := g.api.SendMessageWithResponse(ctx, "cloud", nil, freeForm)
			require.NoError(t, err)
			require.Equal(t, http.StatusUnprocessableEntity, closed.StatusCode(), string(closed.Body))
			require.Contains(t, string(closed.Body), "template")

			createdTmpl, err := g.api.CreateTemplateWithResponse(ctx, "cloud", client.CreateTemplateRequest{Name: "order_update", Language: "pt_BR",
				Category: client.CreateTemplateRequestCategoryUTILITY, Components: &[]client.TemplateComponent{{
					Type: client.TemplateComponentTypeBody, Text: ptr("Olá {{1}}, seu pedido saiu.")}}})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, createdTmpl.StatusCode(), string(createdTmpl.Body))
			listed, err := g.api.ListTemplatesWithResponse(ctx, "cloud")
			require.NoError(t, err)
			require.NotNil(t, listed.JSON200, string(listed.Body))
			require.Len(t, *listed.JSON200.Templates, 1)
			noTemplates, err := g.api.ListTemplatesWithResponse(ctx, "wa")
			require.NoError(t, err)
			require.Equal(t, http.StatusNotImplemented, noTemplates.StatusCode())

			wrongParams := tmpl
			wrongParams.To = "+" + waID
			wrongParams.Template = &client.TemplateInput{Name: "order_update", Language: "pt_BR"}
			bad, err := g.api.SendMessageWithResponse(ctx, "cloud", nil, wrongParams)
			require.NoError(t, err)
			require.Equal(t, http.StatusUnprocessableEntity, bad.StatusCode(), string(bad.Body))
			tmpl.To = "+" + waID
			tmplID := g.send(t, "cloud", tmpl)
			g.waitStatus(t, "cloud", tmplID, client.MessageStatusDelivered)

			// The customer answers: the window opens, free-form goes, receipts come back.
			inWamid, err := cs.CustomerSendText(biz.PhoneNumberID, waID, "quero saber do pedido")
			require.NoError(t, err)
			in := g.waitMessage(t, "cloud", inWamid)
			require.Equal(t, client.MessageDirectionIn, in.Direction)
			require.Equal(t, "5521988880001@s.whatsapp.net", in.ChatId)
			textID := g.send(t, "cloud", freeForm)
			g.waitStatus(t, "cloud", textID, client.MessageStatusDelivered)
			buttons := client.SendMessageRequest{To: "+" + waID, Type: client.SendMessageRequestTypeInteractive, Interactive: &client.InteractiveInput{
				Type: client.InteractiveInputTypeButton, Body: "Posso ajudar?", Buttons: &[]client.InteractiveButtonInput{{Id: "yes", Title: "Sim"}, {Id: "no", Title: "Não"}}}}
			buttonsID := g.send(t, "cloud", buttons)
			g.waitStatus(t, "cloud", buttonsID, client.MessageStatusDelivered)
			received := cs.Received(waID)
			require.NotEmpty(t, received)
			require.NoError(t, cs.CustomerRead(waID, received[len(received)-1].ID))
			g.waitStatus(t, "cloud", buttonsID, client.MessageStatusRead)

			// A permanent Graph error fails the message with its code.
			cs.Inject(biz.PhoneNumberID, 1, http.StatusBadRequest, 131026)
			failedID := g.send(t, "cloud", client.SendMessageRequest{To: "+" + waID, Type: client.SendMessageRequestTypeText, Text: ptr("undeliverable")})
			failed := g.waitStatus(t, "cloud", failedID, client.MessageStatusFailed)
			require.NotNil(t, failed.Error)
			require.Contains(t, *failed.Error, "131026")

			// Both sessions listed with their channel; the token appears nowhere in the API.
			sessions, err := g.api.ListSessionsWithResponse(ctx)
			require.NoError(t, err)
			require.NotNil(t, sessions.JSON200, string(sessions.Body))
			channelsOf := map[string]string{}
			for _, s := range *sessions.JSON200.Sessions {
				channelsOf[s.Id] = s.Channel
			}
			require.Equal(t, map[string]string{"wa": "whatsapp", "cloud": "whatsapp-cloud"}, channelsOf)
			for _, body := range [][]byte{sessions.Body, listed.Body, in.raw} {
				require.NotContains(t, string(body), biz.AccessToken)
			}
			require.True(t, slices.ContainsFunc(*sessions.JSON200.Sessions, func(s client.Session) bool {
				return s.Id == "cloud" && s.Account != nil && strings.HasPrefix(*s.Account, "552130000001")
			}), "the cloud session's account is its business number")
		})
	}
}

// waitMessage polls until the session stores message id (both directions).
func (g *e2eGateway) waitMessage(t testing.TB, session, id string) storedMessage {
	t.Helper()
	var out storedMessage
	channeltest.Eventually(t, 20*time.Second, "message "+id+" stored", func() bool {
		res, err := g.api.GetMessageWithResponse(t.Context(), session, id)
		require.NoError(t, err)
		if backOff(t, res.HTTPResponse) || res.JSON200 == nil {
			return false
		}
		out = storedMessage{Message: *res.JSON200, raw: res.Body}
		return true
	})
	return out
}

type storedMessage struct {
	client.Message
	raw []byte
}
