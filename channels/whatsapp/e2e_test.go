package whatsapp_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/channeltest"
	"github.com/28web/hub/channels/core/media"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/channels/whatsapp/wasim"
	"github.com/28web/hub/platform/netguard"
)

// harness is one connected session on the simulator, paired with its own phone.
type harness struct {
	env    *simEnv
	p      *whatsapp.Provider
	rec    *channeltest.Recorder
	id     core.SessionID
	phone  *wasim.Phone
	device types.JID
}

var sessionSeq int

func connected(t *testing.T, env *simEnv) *harness {
	t.Helper()
	rec := channeltest.NewRecorder()
	p := env.build(t, rec)
	require.NoError(t, p.Start(t.Context()))
	sessionSeq++
	id := core.SessionID(fmt.Sprintf("s%d", sessionSeq))
	_, err := p.CreateSession(t.Context(), core.CreateSessionRequest{ID: id})
	require.NoError(t, err)
	phone := env.newPhone(t)
	dev := env.pairPhone(t, p, id, phone)
	waitStatus(t, rec, id, core.StatusConnected)
	return &harness{env: env, p: p, rec: rec, id: id, phone: phone, device: dev}
}

func waitStatus(t *testing.T, rec *channeltest.Recorder, id core.SessionID, st core.SessionStatus) *core.SessionStatusEvent {
	t.Helper()
	e := rec.Wait(t, waitLimit, "session.status "+string(st), channeltest.Is(id, func(e *core.SessionStatusEvent) bool { return e.Status == st }))
	return e.Data.(*core.SessionStatusEvent)
}

// countEvents is how many events were recorded so far, a start mark for waitAfter.
func countEvents(rec *channeltest.Recorder) int { return len(rec.Events()) }

func waitAfter[T core.EventData](t *testing.T, rec *channeltest.Recorder, n int, id core.SessionID, what string, pred func(T) bool) T {
	t.Helper()
	var out T
	channeltest.Eventually(t, waitLimit, what, func() bool {
		evs := rec.Events()
		for _, e := range evs[min(n, len(evs)):] {
			if e.SessionID != id {
				continue
			}
			if d, ok := e.Data.(T); ok && (pred == nil || pred(d)) {
				out = d
				return true
			}
		}
		return false
	})
	return out
}

func TestInboundEventsCarryPNAndLID(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	ctx := t.Context()
	peer := env.newPhone(t)
	peer.SetPushName("Peer One")
	sess, err := h.p.Session(ctx, h.id)
	require.NoError(t, err)
	require.NotEmpty(t, sess.AccountLID, "the session knows its LID")

	// Text from the peer: message + message_create, with both address forms.
	msgID, err := peer.SendText(ctx, h.phone.JID(), "hi there")
	require.NoError(t, err)
	in := h.rec.Wait(t, waitLimit, "message", channeltest.Is(h.id, func(e *core.MessageEvent) bool {
		return e.Kind == core.EventMessage && e.ID == core.MessageID(msgID)
	})).Data.(*core.MessageEvent)
	require.Equal(t, "hi there", in.Body)
	require.Equal(t, core.ChatID(peer.JID().String()), in.From)
	require.Equal(t, core.ChatID(peer.LID().String()), in.FromLID)
	require.Equal(t, core.ChatID(peer.JID().String()), in.ChatID)
	require.Equal(t, sess.Account, in.To)
	require.Equal(t, "Peer One", in.PushName)
	require.False(t, in.FromMe)

	// The same account writing to the session over LID addressing still yields the PN form.
	lidID, err := peer.SendText(ctx, h.phone.LID(), "via lid")
	require.NoError(t, err)
	viaLID := h.rec.Wait(t, waitLimit, "message via LID", channeltest.Is(h.id, func(e *core.MessageEvent) bool {
		return e.Kind == core.EventMessage && e.ID == core.MessageID(lidID)
	})).Data.(*core.MessageEvent)
	require.Equal(t, core.ChatID(peer.JID().String()), viaLID.From)
	require.Equal(t, core.ChatID(peer.LID().String()), viaLID.FromLID)

	// Edit and revoke carry the previous body.
	_, err = peer.Edit(ctx, h.phone.JID(), msgID, "hi there (edited)")
	require.NoError(t, err)
	edit := h.rec.Wait(t, waitLimit, "message_edit", channeltest.Is(h.id, func(e *core.MessageEditEvent) bool { return e.ID == core.MessageID(msgID) })).Data.(*core.MessageEditEvent)
	require.Equal(t, "hi there (edited)", edit.Body)
	require.Equal(t, "hi there", edit.PreviousBody)
	require.False(t, edit.FromMe)
	_, err = peer.Revoke(ctx, h.phone.JID(), msgID)
	require.NoError(t, err)
	rev := h.rec.Wait(t, waitLimit, "message_revoke_everyone", channeltest.Is(h.id, func(e *core.MessageRevokeEvent) bool { return e.ID == core.MessageID(msgID) })).Data.(*core.MessageRevokeEvent)
	require.Equal(t, "hi there (edited)", rev.PreviousBody)
	require.False(t, rev.FromMe)

	// A reaction is a message of type reaction.
	_, err = peer.React(ctx, h.phone.JID(), h.phone.JID(), lidID, "👍")
	require.NoError(t, err)
	h.rec.Wait(t, waitLimit, "reaction", channeltest.Is(h.id, func(e *core.MessageEvent) bool {
		return e.Kind == core.EventMessage && e.Type == core.MessageReaction && e.Reaction != nil && e.Reaction.Emoji == "👍"
	}))

	// Media: the event describes it and the bytes are downloadable through the provider.
	img := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 300)
	imgID, err := peer.SendImage(ctx, h.phone.JID(), img, "image/png", "a caption")
	require.NoError(t, err)
	media := h.rec.Wait(t, waitLimit, "image message", channeltest.Is(h.id, func(e *core.MessageEvent) bool {
		return e.Kind == core.EventMessage && e.ID == core.MessageID(imgID)
	})).Data.(*core.MessageEvent)
	require.Equal(t, core.MessageImage, media.Type)
	require.True(t, media.HasMedia)
	require.Equal(t, "image/png", media.Media.MimeType)
	require.Equal(t, "a caption", media.Body)
	dl, err := h.p.DownloadMedia(ctx, h.id, media.ID)
	require.NoError(t, err)
	require.Equal(t, img, dl.Data)
	require.Equal(t, "image/png", dl.MimeType)
	_, err = h.p.DownloadMedia(ctx, h.id, "nope")
	require.ErrorIs(t, err, core.ErrNotFound)

	// A message written on the account's own phone: message_create only, fromMe.
	ownID, err := h.phone.SendText(ctx, peer.JID(), "from my phone")
	require.NoError(t, err)
	own := h.rec.Wait(t, waitLimit, "message_create from phone", channeltest.Is(h.id, func(e *core.MessageEvent) bool {
		return e.ID == core.MessageID(ownID)
	})).Data.(*core.MessageEvent)
	require.True(t, own.FromMe)
	require.Equal(t, core.EventMessageCreate, own.Kind)
	require.Equal(t, core.ChatID(peer.JID().String()), own.To)
	require.Equal(t, "from my phone", own.Body)
	for _, e := range h.rec.Events() {
		if d, ok := e.Data.(*core.MessageEvent); ok && d.ID == core.MessageID(ownID) {
			require.Equal(t, core.EventMessageCreate, e.Type, "a message from the own phone is not an incoming message")
		}
	}
}

func TestAcks(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	ctx := t.Context()
	peer := env.newPhone(t)
	res, err := h.p.SendMessage(ctx, h.id, core.OutgoingMessage{To: "+" + peer.Number(), Type: core.MessageText, Text: "ack me"})
	require.NoError(t, err)
	h.rec.Wait(t, waitLimit, "ack received", channeltest.Is(h.id, func(e *core.MessageAckEvent) bool {
		return e.ID == res.ID && e.Ack == core.AckReceived
	}))
	require.NoError(t, peer.SendReceipt(ctx, h.phone.JID(), []string{string(res.ID)}, types.ReceiptTypeRead))
	ack := h.rec.Wait(t, waitLimit, "ack read", channeltest.Is(h.id, func(e *core.MessageAckEvent) bool {
		return e.ID == res.ID && e.Ack == core.AckRead
	})).Data.(*core.MessageAckEvent)
	require.Equal(t, res.ChatID, ack.ChatID)
	require.NoError(t, peer.SendReceipt(ctx, h.phone.JID(), []string{string(res.ID)}, types.ReceiptTypePlayed))
	h.rec.Wait(t, waitLimit, "ack played", channeltest.Is(h.id, func(e *core.MessageAckEvent) bool {
		return e.ID == res.ID && e.Ack == core.AckPlayed
	}))
}

func TestSendEveryType(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	ctx := t.Context()
	peer := env.newPhone(t)
	to := "+" + peer.Number()

	payload := bytes.Repeat([]byte("media-bytes-"), 200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/video.mp4":
			w.Header().Set("Content-Type", "video/mp4")
			_, _ = w.Write(payload)
		case "/big":
			_, _ = w.Write(bytes.Repeat([]byte("x"), 4096))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)

	send := func(m core.OutgoingMessage) core.SendResult {
		t.Helper()
		m.To = to
		res, err := h.p.SendMessage(ctx, h.id, m)
		require.NoError(t, err, "send %s", m.Type)
		return res
	}
	receive := func(id core.MessageID) wasim.Message {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, waitLimit)
		defer cancel()
		m, err := peer.WaitMessage(wctx, func(m wasim.Message) bool { return m.ID == string(id) })
		require.NoError(t, err, "peer receives %s", id)
		return m
	}

	text := send(core.OutgoingMessage{Type: core.MessageText, Text: "see https://example.com @" + h.phone.Number(),
		Mentions: []core.ChatID{core.ChatID(h.phone.JID().String())}, LinkPreview: true})
	got := receive(text.ID)
	ext := got.Message.GetExtendedTextMessage()
	require.Equal(t, "https://example.com", ext.GetMatchedText())
	require.Equal(t, []string{h.phone.JID().String()}, ext.GetContextInfo().GetMentionedJID())

	reply := send(core.OutgoingMessage{Type: core.MessageText, Text: "a reply", QuotedMessageID: text.ID})
	ci := receive(reply.ID).Message.GetExtendedTextMessage().GetContextInfo()
	require.Equal(t, string(text.ID), ci.GetStanzaID())

	img := send(core.OutgoingMessage{Type: core.MessageImage, Text: "img caption", Media: &core.Media{Data: payload, MimeType: "image/jpeg"}})
	im := receive(img.ID).Message.GetImageMessage()
	require.Equal(t, "img caption", im.GetCaption())
	data, err := env.sim.DownloadMedia(im, whatsmeow.MediaImage)
	require.NoError(t, err)
	require.Equal(t, payload, data)

	vid := send(core.OutgoingMessage{Type: core.MessageVideo, Media: &core.Media{URL: srv.URL + "/video.mp4"}})
	vm := receive(vid.ID).Message.GetVideoMessage()
	require.Equal(t, "video/mp4", vm.GetMimetype())
	data, err = env.sim.DownloadMedia(vm, whatsmeow.MediaVideo)
	require.NoError(t, err)
	require.Equal(t, payload, data)

	voice := send(core.OutgoingMessage{Type: core.MessageAudio, Media: &core.Media{Data: payload, VoiceNote: true}})
	am := receive(voice.ID).Message.GetAudioMessage()
	require.True(t, am.GetPTT())
	require.Equal(t, "audio/ogg; codecs=opus", am.GetMimetype())

	doc := send(core.OutgoingMessage{Type: core.MessageDocument, Text: "the doc", Media: &core.Media{Data: payload, FileName: "report.pdf", MimeType: "application/pdf"}})
	dm := receive(doc.ID).Message.GetDocumentMessage()
	require.Equal(t, "report.pdf", dm.GetFileName())
	require.Equal(t, "application/pdf", dm.GetMimetype())

	st := send(core.OutgoingMessage{Type: core.MessageSticker, Media: &core.Media{Data: payload}})
	require.Equal(t, "image/webp", receive(st.ID).Message.GetStickerMessage().GetMimetype())

	loc := send(core.OutgoingMessage{Type: core.MessageLocation, Location: &core.Location{Latitude: -23.5, Longitude: -46.6, Name: "SP"}})
	lm := receive(loc.ID).Message.GetLocationMessage()
	require.InDelta(t, -23.5, lm.GetDegreesLatitude(), 1e-9)
	require.Equal(t, "SP", lm.GetName())

	vcard := "BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nTEL;type=CELL;waid=5511999990009:+55 11 99999-0009\nEND:VCARD"
	card := send(core.OutgoingMessage{Type: core.MessageContact, Contact: &core.VCard{DisplayName: "Ana", VCard: vcard}})
	require.Equal(t, vcard, receive(card.ID).Message.GetContactMessage().GetVcard())

	react := send(core.OutgoingMessage{Type: core.MessageReaction, Reaction: &core.Reaction{MessageID: text.ID, Emoji: "❤️"}})
	rm := receive(react.ID).Message.GetReactionMessage()
	require.Equal(t, "❤️", rm.GetText())
	require.Equal(t, string(text.ID), rm.GetKey().GetID())
	require.True(t, rm.GetKey().GetFromMe(), "reacting to our own message")

	// Every send also produced message_create.
	for _, id := range []core.MessageID{text.ID, img.ID, vid.ID, voice.ID, doc.ID, st.ID, loc.ID, card.ID} {
		h.rec.Wait(t, waitLimit, "message_create "+string(id), channeltest.Is(h.id, func(e *core.MessageEvent) bool {
			return e.ID == id && e.FromMe && e.Kind == core.EventMessageCreate
		}))
	}

	// Edit, revoke, mark read, presence.
	require.NoError(t, h.p.EditMessage(ctx, h.id, text.ChatID, text.ID, "edited text"))
	_, err = peer.WaitMessage(ctx, func(m wasim.Message) bool { return m.Edit != "" && m.Text == "edited text" })
	require.NoError(t, err)
	require.NoError(t, h.p.RevokeMessage(ctx, h.id, text.ChatID, reply.ID))
	_, err = peer.WaitMessage(ctx, func(m wasim.Message) bool {
		pm := m.Message.GetProtocolMessage()
		return pm != nil && pm.GetKey().GetID() == string(reply.ID)
	})
	require.NoError(t, err)
	inID, err := peer.SendText(ctx, h.phone.JID(), "read me")
	require.NoError(t, err)
	h.rec.Wait(t, waitLimit, "incoming", channeltest.Is(h.id, func(e *core.MessageEvent) bool { return e.ID == core.MessageID(inID) }))
	require.NoError(t, h.p.MarkRead(ctx, h.id, text.ChatID, []core.MessageID{core.MessageID(inID)}))
	_, err = peer.WaitReceipt(ctx, func(r wasim.Receipt) bool { return r.Type == "read" && slices.Contains(r.IDs, inID) })
	require.NoError(t, err)
	// Availability needs the push name WhatsApp syncs from the phone's app state: refused
	// without it, accepted once the sync set it (done by hand here, whatever the simulator syncs).
	h.p.ClientOf(h.id).Store.PushName = ""
	require.ErrorIs(t, h.p.SendPresence(ctx, h.id, "", core.PresenceAvailable), core.ErrConflict)
	h.p.ClientOf(h.id).Store.PushName = "Session Account"
	for _, pr := range []core.Presence{core.PresenceTyping, core.PresenceRecording, core.PresencePaused, core.PresenceAvailable, core.PresenceOffline} {
		require.NoError(t, h.p.SendPresence(ctx, h.id, text.ChatID, pr), pr)
	}
	require.ErrorIs(t, h.p.SendPresence(ctx, h.id, text.ChatID, "dancing"), core.ErrInvalid)

	// Bad input is ErrInvalid, before anything reaches WhatsApp.
	for name, m := range map[string]core.OutgoingMessage{
		"empty text":     {Type: core.MessageText},
		"image no media": {Type: core.MessageImage},
		"media 404":      {Type: core.MessageImage, Media: &core.Media{URL: srv.URL + "/missing"}},
		"bad scheme":     {Type: core.MessageImage, Media: &core.Media{URL: "file:///etc/passwd"}},
		"no location":    {Type: core.MessageLocation},
		"no vcard":       {Type: core.MessageContact, Contact: &core.VCard{}},
		"no reaction":    {Type: core.MessageReaction},
		"unknown type":   {Type: "hologram", Text: "x"},
		"bad number":     {Type: core.MessageText, Text: "x"},
	} {
		m.To = to
		if name == "bad number" {
			m.To = "12ab"
		}
		_, err := h.p.SendMessage(ctx, h.id, m)
		require.ErrorIs(t, err, core.ErrInvalid, name)
	}
}

func TestMediaURLLimits(t *testing.T) {
	env := newSimEnv(t)
	env.cfg.MaxMediaBytes = 1024
	env.opts = []whatsapp.Option{whatsapp.WithMediaFetcher(media.NewFetcher(media.Config{}))}
	h := connected(t, env)
	peer := env.newPhone(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("x"), 4096))
	}))
	t.Cleanup(srv.Close)
	_, err := h.p.SendMessage(t.Context(), h.id, core.OutgoingMessage{To: "+" + peer.Number(), Type: core.MessageImage, Media: &core.Media{URL: srv.URL}})
	require.ErrorIs(t, err, core.ErrInvalid)
	require.ErrorIs(t, err, netguard.ErrForbidden)
	_, err = h.p.SendMessage(t.Context(), h.id, core.OutgoingMessage{To: "+" + peer.Number(), Type: core.MessageImage, Media: &core.Media{Data: bytes.Repeat([]byte("x"), 2048)}})
	require.ErrorIs(t, err, core.ErrInvalid)
	require.ErrorContains(t, err, "limit")
}

func TestBrazilianNinthDigit(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	// Registered before the ninth digit: 55 11 8888-7777 (12 digits).
	old, err := env.sim.NewPhone("551188887777")
	require.NoError(t, err)
	res, err := h.p.SendMessage(t.Context(), h.id, core.OutgoingMessage{To: "+55 (11) 98888-7777", Type: core.MessageText, Text: "oi"})
	require.NoError(t, err)
	require.Equal(t, core.ChatID("551188887777@s.whatsapp.net"), res.ChatID)
	wctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	_, err = old.WaitMessage(wctx, func(m wasim.Message) bool { return m.Text == "oi" })
	require.NoError(t, err)
}

func TestContacts(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	ctx := t.Context()
	peer := env.newPhone(t)
	peer.SetPushName("Contact Person")
	id, err := peer.SendText(ctx, h.phone.JID(), "hello")
	require.NoError(t, err)
	h.rec.Wait(t, waitLimit, "message", channeltest.Is(h.id, func(e *core.MessageEvent) bool { return e.ID == core.MessageID(id) }))
	want := core.ChatID(peer.JID().String())
	var contacts []core.Contact
	channeltest.Eventually(t, waitLimit, "contact with push name", func() bool {
		contacts, err = h.p.Contacts(ctx, h.id)
		require.NoError(t, err)
		return slices.ContainsFunc(contacts, func(c core.Contact) bool { return c.ID == want && c.PushName == "Contact Person" })
	})
	synced, err := h.p.SyncContacts(ctx, h.id)
	require.NoError(t, err)
	i := slices.IndexFunc(synced, func(c core.Contact) bool { return c.ID == want })
	require.GreaterOrEqual(t, i, 0)
	require.True(t, synced[i].OnWhatsApp)
	require.Equal(t, peer.Number(), synced[i].Phone)
	require.Equal(t, core.ChatID(peer.LID().String()), synced[i].LID)
}

func TestLogoutFromPhone(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	require.NoError(t, env.sim.Faults.DeviceRemoved(h.device))
	st := waitStatus(t, h.rec, h.id, core.StatusLoggedOut)
	require.NotEmpty(t, st.Reason)
	h.rec.Wait(t, waitLimit, "disconnected terminal", channeltest.Is(h.id, func(e *core.DisconnectedEvent) bool { return !e.IsReconnectable }))
	sess, err := h.p.Session(t.Context(), h.id)
	require.NoError(t, err)
	require.Equal(t, core.StatusLoggedOut, sess.Status)
	_, err = h.p.SendMessage(t.Context(), h.id, core.OutgoingMessage{To: "+" + h.phone.Number(), Type: core.MessageText, Text: "x"})
	require.ErrorIs(t, err, core.ErrNotConnected)

	// After a restart it stays logged out (no reconnect loop), and can be deleted.
	require.NoError(t, h.p.Stop(t.Context()))
	p2 := env.build(t, channeltest.NewRecorder())
	require.NoError(t, p2.Start(t.Context()))
	sess, err = p2.Session(t.Context(), h.id)
	require.NoError(t, err)
	require.Equal(t, core.StatusLoggedOut, sess.Status)
	require.NoError(t, p2.DeleteSession(t.Context(), h.id))
}

func TestReplaced(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	require.NoError(t, env.sim.Faults.Replace(h.device))
	st := waitStatus(t, h.rec, h.id, core.StatusFailed)
	require.Contains(t, st.Reason, "replaced")
	d := h.rec.Wait(t, waitLimit, "disconnected", channeltest.Is(h.id, func(e *core.DisconnectedEvent) bool { return true })).Data.(*core.DisconnectedEvent)
	require.False(t, d.IsReconnectable)
	require.Contains(t, d.Reason, "replaced")

	// Its credentials are still valid: the next start brings it back (it used to stay failed
	// for good, until paired again).
	require.NoError(t, h.p.Stop(t.Context()))
	rec := channeltest.NewRecorder()
	p2 := env.build(t, rec)
	require.NoError(t, p2.Start(t.Context()))
	waitStatus(t, rec, h.id, core.StatusConnected)
}

func TestTemporaryBanThenBack(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	n := countEvents(h.rec)
	require.NoError(t, env.sim.Faults.Ban(h.device, 101, 2*time.Second))
	st := waitStatus(t, h.rec, h.id, core.StatusBanned)
	require.NotNil(t, st.BannedUntil)
	require.WithinDuration(t, time.Now().Add(2*time.Second), *st.BannedUntil, 2*time.Second)
	waitAfter(t, h.rec, n, h.id, "refused", func(e *core.ConnectionStatusEvent) bool { return e.Status == core.ConnectionRefused })
	sess, err := h.p.Session(t.Context(), h.id)
	require.NoError(t, err)
	require.Equal(t, core.StatusBanned, sess.Status)
	require.NotNil(t, sess.BannedUntil)
	// Once the ban is over the session comes back by itself.
	waitAfter(t, h.rec, n, h.id, "connected after ban", func(e *core.SessionStatusEvent) bool {
		return e.Status == core.StatusConnected && e.PreviousStatus != ""
	})
}

func TestReconnectAfterDropLosesNothing(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	ctx := t.Context()
	peer := env.newPhone(t)
	n := countEvents(h.rec)
	require.NoError(t, env.sim.Faults.DropConnection(h.device))
	d := waitAfter(t, h.rec, n, h.id, "disconnected", func(e *core.DisconnectedEvent) bool { return true })
	require.True(t, d.IsReconnectable)
	// Sent while the session may still be offline: the server queues it.
	var ids []string
	for i := range 5 {
		id, err := peer.SendText(ctx, h.phone.JID(), fmt.Sprintf("during outage %d", i))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	waitAfter(t, h.rec, n, h.id, "connected again", func(e *core.SessionStatusEvent) bool { return e.Status == core.StatusConnected })
	for _, id := range ids {
		h.rec.Wait(t, waitLimit, "queued message "+id, channeltest.Is(h.id, func(e *core.MessageEvent) bool {
			return e.Kind == core.EventMessage && e.ID == core.MessageID(id)
		}))
	}
	res, err := h.p.SendMessage(ctx, h.id, core.OutgoingMessage{To: "+" + peer.Number(), Type: core.MessageText, Text: "back"})
	require.NoError(t, err)
	require.NotEmpty(t, res.ID)
}

func TestHealthCatchesDeadSocket(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	rep := h.p.CheckHealth(t.Context())
	require.Equal(t, whatsapp.HealthReport{Sessions: 1, Connected: 1}, rep)
	require.NoError(t, h.p.HealthCheck(t.Context()))
	n := countEvents(h.rec)
	// Disconnect emits no event: the session still claims to be connected.
	h.p.ClientOf(h.id).Disconnect()
	sess, err := h.p.Session(t.Context(), h.id)
	require.NoError(t, err)
	require.Equal(t, core.StatusConnected, sess.Status)
	require.ErrorIs(t, h.p.HealthCheck(t.Context()), core.ErrUnavailable, "a dead socket degrades health")
	rep = h.p.CheckHealth(t.Context())
	require.Zero(t, rep.Connected, "already marked disconnected by the failed check")
	waitAfter(t, h.rec, n, h.id, "disconnected", func(e *core.SessionStatusEvent) bool { return e.Status == core.StatusDisconnected })
	waitAfter(t, h.rec, n, h.id, "reconnected", func(e *core.SessionStatusEvent) bool { return e.Status == core.StatusConnected })
}

func TestQRRotationAndUnpairedExpiry(t *testing.T) {
	env := newSimEnv(t)
	env.cfg.QRFirstTimeout = 150 * time.Millisecond
	env.cfg.QRTimeout = 50 * time.Millisecond
	env.cfg.UnpairedTTL = 1500 * time.Millisecond
	rec := channeltest.NewRecorder()
	p := env.build(t, rec)
	require.NoError(t, p.Start(t.Context()))
	id := core.SessionID("rotating")
	_, err := p.CreateSession(t.Context(), core.CreateSessionRequest{ID: id})
	require.NoError(t, err)
	// More codes than one batch holds: the session fetched a fresh batch by reconnecting.
	channeltest.Eventually(t, waitLimit, "QR rotations", func() bool {
		codes := map[string]bool{}
		for _, e := range rec.Events() {
			if q, ok := e.Data.(*core.QRCodeEvent); ok {
				require.True(t, strings.HasPrefix(q.Image, "data:image/png;base64,"))
				codes[q.QR] = true
			}
		}
		return len(codes) >= 8
	})
	st := waitStatus(t, rec, id, core.StatusFailed)
	require.Contains(t, st.Reason, "pairing timed out")
	_, err = p.Session(t.Context(), id)
	require.ErrorIs(t, err, core.ErrNotFound)
	require.NoError(t, p.Stop(t.Context()))
	p2 := env.build(t, channeltest.NewRecorder())
	require.NoError(t, p2.Start(t.Context()))
	_, err = p2.Session(t.Context(), id)
	require.ErrorIs(t, err, core.ErrNotFound, "an expired session is cleaned, not restored")
}

func TestDeleteConnectedUnlinksDevice(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	require.NoError(t, h.p.DeleteSession(t.Context(), h.id))
	dev, ok := env.sim.Device(h.device)
	require.True(t, ok)
	require.Equal(t, wasim.DeviceRemoved, dev.State, "delete logs the device out on WhatsApp")
	require.ErrorIs(t, h.p.DeleteSession(t.Context(), h.id), core.ErrNotFound)
	// The store holds no credentials for it any more.
	d, err := env.container.GetDevice(t.Context(), h.device)
	require.NoError(t, err)
	require.Nil(t, d)
}

func TestLoginQRStates(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	_, err := h.p.LoginQR(t.Context(), h.id)
	require.ErrorIs(t, err, core.ErrConflict, "a paired session has no QR")
	_, err = h.p.LoginQR(t.Context(), "missing")
	require.ErrorIs(t, err, core.ErrNotFound)
	_, err = h.p.RequestPairingCode(t.Context(), h.id, "+5511999990001")
	require.ErrorIs(t, err, core.ErrConflict)
}

func TestPairingCode(t *testing.T) {
	env := newSimEnv(t)
	rec := channeltest.NewRecorder()
	p := env.build(t, rec)
	require.NoError(t, p.Start(t.Context()))
	id := core.SessionID("by-code")
	_, err := p.CreateSession(t.Context(), core.CreateSessionRequest{ID: id})
	require.NoError(t, err)
	rec.Wait(t, waitLimit, "qr_code", channeltest.Is(id, func(*core.QRCodeEvent) bool { return true }))
	phone := env.newPhone(t)
	_, err = p.RequestPairingCode(t.Context(), id, "not a number")
	require.ErrorIs(t, err, core.ErrInvalid)
	code, err := p.RequestPairingCode(t.Context(), id, "+"+phone.Number())
	require.NoError(t, err)
	require.Len(t, strings.ReplaceAll(code, "-", ""), 8)
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	jid, err := phone.PairWithCode(ctx, code)
	require.NoError(t, err)
	waitStatus(t, rec, id, core.StatusConnected)
	sess, err := p.Session(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, core.ChatID(jid.ToNonAD().String()), sess.Account)
}

func TestDeleteWhileConnectingLeavesNoClient(t *testing.T) {
	env := newSimEnv(t)
	rec := channeltest.NewRecorder()
	p := env.build(t, rec)
	require.NoError(t, p.Start(t.Context()))
	for i := range 5 {
		id := core.SessionID(fmt.Sprintf("zombie-%d", i))
		_, err := p.CreateSession(t.Context(), core.CreateSessionRequest{ID: id})
		require.NoError(t, err)
		require.NoError(t, p.DeleteSession(t.Context(), id))
	}
	// And one whose socket is certainly open (it shows a QR).
	_, err := p.CreateSession(t.Context(), core.CreateSessionRequest{ID: "zombie-qr"})
	require.NoError(t, err)
	rec.Wait(t, waitLimit, "qr_code", channeltest.Is(core.SessionID("zombie-qr"), func(*core.QRCodeEvent) bool { return true }))
	require.Positive(t, env.sim.Stats().Connections)
	require.NoError(t, p.DeleteSession(t.Context(), "zombie-qr"))
	// Connects that were in flight are undone: no socket stays open on the network.
	channeltest.Eventually(t, waitLimit, "no open connections", func() bool { return env.sim.Stats().Connections == 0 })
	all, err := p.Sessions(t.Context())
	require.NoError(t, err)
	require.Empty(t, all)
}

// holdingSink records events but blocks the publish of one incoming text until ctx ends,
// standing in for a bus that has not made the event durable yet when the process dies.
type holdingSink struct {
	*channeltest.Recorder
	text    string
	holding chan struct{}
	first   atomic.Pointer[core.EventID]
}

func (h *holdingSink) Publish(ctx context.Context, e core.Event) error {
	if m, ok := e.Data.(*core.MessageEvent); ok && m.Body == h.text {
		h.first.CompareAndSwap(nil, &e.ID)
		select {
		case h.holding <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}
	return h.Recorder.Publish(ctx, e)
}

func TestCrashBeforePublishLosesNothing(t *testing.T) {
	env := newSimEnv(t)
	sink := &holdingSink{Recorder: channeltest.NewRecorder(), text: "precious", holding: make(chan struct{}, 1)}
	p := env.build(t, sink)
	require.NoError(t, p.Start(t.Context()))
	id := core.SessionID("durable")
	_, err := p.CreateSession(t.Context(), core.CreateSessionRequest{ID: id})
	require.NoError(t, err)
	own := env.newPhone(t)
	env.pairPhone(t, p, id, own)
	waitStatus(t, sink.Recorder, id, core.StatusConnected)

	peer := env.newPhone(t)
	msgID, err := peer.SendText(t.Context(), own.JID(), "precious")
	require.NoError(t, err)
	select {
	case <-sink.holding:
	case <-time.After(waitLimit):
		t.Fatal("the message never reached the sink")
	}
	// The process "dies" while the event is not durable: WhatsApp got no ack for it.
	require.NoError(t, p.Stop(t.Context()))

	rec := channeltest.NewRecorder()
	p2 := env.build(t, rec)
	require.NoError(t, p2.Start(t.Context()))
	ev := rec.Wait(t, waitLimit, "the message, redelivered after restart", channeltest.Is(id, func(e *core.MessageEvent) bool {
		return e.Kind == core.EventMessage && e.ID == core.MessageID(msgID) && e.Body == "precious"
	}))
	// The redelivered event has the id the first attempt had, so consumers deduplicate it.
	first := sink.first.Load()
	require.NotNil(t, first)
	require.Equal(t, *first, ev.ID)
}

func TestUnpairedSessionSurvivesRestartWithFreshQR(t *testing.T) {
	env := newSimEnv(t)
	rec := channeltest.NewRecorder()
	p := env.build(t, rec)
	require.NoError(t, p.Start(t.Context()))
	id := core.SessionID("waiting")
	_, err := p.CreateSession(t.Context(), core.CreateSessionRequest{ID: id})
	require.NoError(t, err)
	first := rec.Wait(t, waitLimit, "qr_code", channeltest.Is(id, func(*core.QRCodeEvent) bool { return true })).Data.(*core.QRCodeEvent)
	require.NoError(t, p.Stop(t.Context()))

	rec2 := channeltest.NewRecorder()
	p2 := env.build(t, rec2)
	require.NoError(t, p2.Start(t.Context()))
	again := rec2.Wait(t, waitLimit, "qr_code after restart", channeltest.Is(id, func(*core.QRCodeEvent) bool { return true })).Data.(*core.QRCodeEvent)
	require.NotEqual(t, first.QR, again.QR, "a new connection shows new codes")
	env.Pair(t, p2, id)
	waitStatus(t, rec2, id, core.StatusConnected)
}

func TestSendToLIDAddress(t *testing.T) {
	env := newSimEnv(t)
	h := connected(t, env)
	peer := env.newPhone(t)
	// The peer wrote first, so the session learnt its LID <-> number mapping.
	hello, err := peer.SendText(t.Context(), h.phone.JID(), "hello")
	require.NoError(t, err)
	h.rec.Wait(t, waitLimit, "hello", channeltest.Is(h.id, func(e *core.MessageEvent) bool { return e.ID == core.MessageID(hello) }))
	res, err := h.p.SendMessage(t.Context(), h.id, core.OutgoingMessage{To: peer.LID().String(), Type: core.MessageText, Text: "to a lid"})
	require.NoError(t, err)
	require.Equal(t, core.ChatID(peer.LID().String()), res.ChatID)
	created := h.rec.Wait(t, waitLimit, "message_create", channeltest.Is(h.id, func(e *core.MessageEvent) bool { return e.ID == res.ID })).Data.(*core.MessageEvent)
	require.Equal(t, core.ChatID(peer.JID().String()), created.To, "the phone-number form when known")
	require.Equal(t, core.ChatID(peer.LID().String()), created.ToLID)
	wctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	_, err = peer.WaitMessage(wctx, func(m wasim.Message) bool { return m.Text == "to a lid" })
	require.NoError(t, err)
}

// ackFailingSink fails the publishes of message_ack events while failing is set, standing in for
// a bus (or database) that is down for a while.
type ackFailingSink struct {
	*channeltest.Recorder
	failing atomic.Bool
	refused atomic.Int64
}

func (s *ackFailingSink) Publish(ctx context.Context, e core.Event) error {
	if _, ok := e.Data.(*core.MessageAckEvent); ok && s.failing.Load() {
		s.refused.Add(1)
		return fmt.Errorf("bus down: %w", core.ErrUnavailable)
	}
	return s.Recorder.Publish(ctx, e)
}

// startAckFailing pairs a session of a provider whose sink now refuses message_ack.
func startAckFailing(t *testing.T) (*simEnv, *whatsapp.Provider, core.SessionID, *ackFailingSink) {
	t.Helper()
	env := newSimEnv(t)
	sink := &ackFailingSink{Recorder: channeltest.NewRecorder()}
	p := env.build(t, sink)
	require.NoError(t, p.Start(t.Context()))
	id := core.SessionID("acks")
	_, err := p.CreateSession(t.Context(), core.CreateSessionRequest{ID: id})
	require.NoError(t, err)
	env.pairPhone(t, p, id, env.newPhone(t))
	waitStatus(t, sink.Recorder, id, core.StatusConnected)
	sink.failing.Store(true)
	return env, p, id, sink
}

// A receipt whose message_ack cannot be published is retried until it is durable; and if the
// process dies meanwhile, the receipt was not acknowledged to WhatsApp, which delivers it again.
func TestReceiptsAreDurableLikeMessages(t *testing.T) {
	t.Run("the sink recovers", func(t *testing.T) {
		env, p, id, sink := startAckFailing(t)
		peer := env.newPhone(t)
		res, err := p.SendMessage(t.Context(), id, core.OutgoingMessage{To: "+" + peer.Number(), Type: core.MessageText, Text: "ack me later"})
		require.NoError(t, err)
		channeltest.Eventually(t, waitLimit, "the ack's publish refused a few times", func() bool { return sink.refused.Load() >= 3 })
		sink.failing.Store(false)
		sink.Wait(t, waitLimit, "the delivery ack, once the sink works", channeltest.Is(id, func(e *core.MessageAckEvent) bool {
			return e.ID == res.ID && e.Ack == core.AckReceived
		}))
	})
	t.Run("the process dies first", func(t *testing.T) {
		env, p, id, sink := startAckFailing(t)
		peer := env.newPhone(t)
		res, err := p.SendMessage(t.Context(), id, core.OutgoingMessage{To: "+" + peer.Number(), Type: core.MessageText, Text: "ack me after restart"})
		require.NoError(t, err)
		channeltest.Eventually(t, waitLimit, "the ack's publish refused", func() bool { return sink.refused.Load() >= 1 })
		require.NoError(t, p.Stop(t.Context()))

		rec := channeltest.NewRecorder()
		p2 := env.build(t, rec)
		require.NoError(t, p2.Start(t.Context()))
		rec.Wait(t, waitLimit, "the receipt, delivered again after the restart", channeltest.Is(id, func(e *core.MessageAckEvent) bool {
			return e.ID == res.ID && e.Ack == core.AckReceived
		}))
	})
}
