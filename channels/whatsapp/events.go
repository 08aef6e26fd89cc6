package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/28web/hub/channels/core"
)

// handleEvent is THE mapping from whatsmeow events to canonical events: one type switch. It runs
// on the client's goroutines; with SynchronousAck whatsmeow acknowledges a message to WhatsApp
// only after this returns true, and publish returns once the event is durable, so a crash (or a
// sink that stays down) loses nothing: WhatsApp redelivers what was not acknowledged, and
// whatsmeow's decrypted-event buffer serves the plaintext again.
//
// change_battery is never emitted: multi-device WhatsApp does not report the phone's battery to
// linked devices.
func (s *session) handleEvent(raw any) bool {
	s.mu.Lock()
	gone := s.gone
	s.mu.Unlock()
	if gone {
		// Not ours any more (deleted or stopping): leave the message unacknowledged.
		_, isMsg := raw.(*events.Message)
		return !isMsg
	}
	switch evt := raw.(type) {
	case *events.QR:
		if len(evt.Codes) == 0 {
			return true
		}
		s.mu.Lock()
		s.qr = &qrState{codes: evt.Codes, expiresAt: time.Now().Add(s.p.cfg.QRFirstTimeout)}
		s.attempts = 0 // the link works: a later drop starts the backoff afresh
		s.mu.Unlock()
		s.showQR()
	case *events.PairSuccess:
		now := time.Now().UTC()
		s.mu.Lock()
		s.device, s.account, s.accountLID, s.pairedAt, s.qr = evt.ID, evt.ID.ToNonAD(), evt.LID.ToNonAD(), &now, nil
		s.mu.Unlock()
		s.p.sched.cancel(taskKey{s.id, taskQRRotate})
		s.p.sched.cancel(taskKey{s.id, taskExpire})
		s.persist(s.p.ctx)
		s.logInfo("paired", "device", evt.ID.String(), "platform", evt.Platform)
	case *events.PairError:
		s.logWarn("pairing failed", "error", evt.Error)
		s.terminal(core.StatusFailed, "pairing failed: "+evt.Error.Error(), core.ConnectionRefused)
	case *events.Connected:
		s.onConnected()
	case *events.Disconnected:
		s.linkLost("connection lost")
	case *events.KeepAliveTimeout:
		s.mu.Lock()
		first := !s.keepAliveDown
		s.keepAliveDown = true
		cli := s.cli
		s.mu.Unlock()
		reason := fmt.Sprintf("keepalive timeout (%d failed, last success %s ago)", evt.ErrorCount, time.Since(evt.LastSuccess).Round(time.Second))
		if first {
			s.logWarn("keepalive failing", "errors", evt.ErrorCount)
			s.publish(&core.ConnectionStatusEvent{Status: core.ConnectionConnecting, Reason: reason})
		}
		if cli != nil && time.Since(evt.LastSuccess) > s.p.cfg.KeepAliveMaxFail {
			// ResetConnection drops the socket and makes whatsmeow emit Disconnected, which
			// schedules our reconnect.
			go cli.ResetConnection()
		}
	case *events.KeepAliveRestored:
		s.mu.Lock()
		s.keepAliveDown = false
		s.mu.Unlock()
		s.publish(&core.ConnectionStatusEvent{Status: core.ConnectionOpen, Reason: "keepalive restored"})
	case *events.LoggedOut:
		reason := "logged out from the phone"
		if evt.OnConnect {
			reason = "logged out: " + evt.Reason.String()
		}
		conn := core.ConnectionClosed
		if evt.OnConnect {
			conn = core.ConnectionRefused
		}
		s.terminal(core.StatusLoggedOut, reason, conn)
	case *events.StreamReplaced:
		s.terminal(core.StatusFailed, reasonReplaced, core.ConnectionClosed)
	case *events.ClientOutdated:
		s.terminal(core.StatusFailed, "client outdated: WhatsApp refused this client version", core.ConnectionRefused)
	case *events.TemporaryBan:
		s.onBan(evt)
	case *events.ConnectFailure:
		reason := fmt.Sprintf("connect failure %d: %s", int(evt.Reason), evt.Message)
		s.publish(&core.ConnectionStatusEvent{Status: core.ConnectionRefused, Reason: reason})
		s.linkLost(reason)
	case *events.StreamError:
		s.logWarn("stream error", "code", evt.Code)
	case *events.Message:
		return s.onMessage(evt)
	case *events.Receipt:
		return s.onReceipt(evt)
	case *events.PushNameSetting, *events.AppStateSyncComplete:
		// The account's own name arrives with the phone's app state (also on full syncs, which
		// emit no PushNameSetting): take it from the store.
		s.refreshPushName()
	case *events.PushName, *events.Contact, *events.BusinessName:
		// Contacts are cached lazily; drop the cache so the next read sees the change.
		s.mu.Lock()
		s.contacts = nil
		s.mu.Unlock()
	}
	return true
}

func (s *session) onConnected() {
	s.mu.Lock()
	cli := s.cli
	s.attempts = 0
	s.keepAliveDown = false
	changed := false
	if cli != nil {
		if cli.Store.ID != nil && s.device.IsEmpty() {
			s.device, s.account = *cli.Store.ID, cli.Store.ID.ToNonAD()
			changed = true
		}
		if lid := cli.Store.GetLID().ToNonAD(); !lid.IsEmpty() && lid != s.accountLID {
			s.accountLID, changed = lid, true
		}
		if cli.Store.PushName != "" && cli.Store.PushName != s.pushName {
			s.pushName, changed = cli.Store.PushName, true
		}
	}
	s.mu.Unlock()
	s.setStatus(core.StatusConnected, "", nil)
	s.publish(&core.ConnectionStatusEvent{Status: core.ConnectionOpen})
	if changed {
		s.persist(s.p.ctx)
	}
}

func (s *session) refreshPushName() {
	s.mu.Lock()
	changed := false
	if s.cli != nil && s.cli.Store.PushName != "" && s.cli.Store.PushName != s.pushName {
		s.pushName, changed = s.cli.Store.PushName, true
	}
	s.mu.Unlock()
	if changed {
		s.persist(s.p.ctx)
	}
}

func (s *session) onBan(evt *events.TemporaryBan) {
	until := time.Now().Add(evt.Expire).UTC()
	reason := "temporarily banned: " + evt.Code.String()
	s.transition(core.StatusBanned, reason, &until, true)
	s.publish(&core.ConnectionStatusEvent{Status: core.ConnectionRefused, Reason: reason})
	s.publish(&core.DisconnectedEvent{Reason: reason, IsReconnectable: false})
	// Come back by ourselves once the ban is over, jittered like any reconnect.
	at := until.Add(s.backoff(1))
	s.p.sched.schedule(taskKey{s.id, taskConnect}, at, s.connect)
}

// parties resolves the phone-number and LID forms of a user, from the event first, then from
// the store's LID map.
func (s *session) parties(ctx context.Context, primary, alt types.JID) (pn, lid types.JID) {
	for _, j := range []types.JID{primary, alt} {
		switch j.Server {
		case types.DefaultUserServer:
			if pn.IsEmpty() {
				pn = j.ToNonAD()
			}
		case types.HiddenUserServer:
			if lid.IsEmpty() {
				lid = j.ToNonAD()
			}
		}
	}
	cli := s.client()
	if cli == nil {
		return pn, lid
	}
	if pn.IsEmpty() && !lid.IsEmpty() {
		if got, err := cli.Store.LIDs.GetPNForLID(ctx, lid); err == nil {
			pn = got.ToNonAD()
		}
	}
	if lid.IsEmpty() && !pn.IsEmpty() {
		if got, err := cli.Store.LIDs.GetLIDForPN(ctx, pn); err == nil {
			lid = got.ToNonAD()
		}
	}
	return pn, lid
}

// prefer returns the phone-number form when known, else the other.
func prefer(pn, lid types.JID) core.ChatID {
	if !pn.IsEmpty() {
		return chatID(pn)
	}
	return chatID(lid)
}

// onMessage maps a message; false when an event could not be made durable (no ack then).
func (s *session) onMessage(evt *events.Message) bool {
	ctx := s.p.ctx
	info := evt.Info
	m := evt.Message
	if m == nil {
		return true
	}
	chatPN, chatLID := info.Chat, types.EmptyJID
	if !info.IsGroup {
		alt := info.SenderAlt
		if info.IsFromMe {
			alt = info.RecipientAlt
		}
		chatPN, chatLID = s.parties(ctx, info.Chat, alt)
	}
	chat := prefer(chatPN, chatLID)
	if info.IsGroup {
		chat = chatID(info.Chat)
	}
	senderPN, senderLID := s.parties(ctx, info.Sender, info.SenderAlt)

	if pm := m.GetProtocolMessage(); pm != nil {
		return s.onProtocolMessage(ctx, evt, pm, chat, senderPN, senderLID)
	}

	s.mu.Lock()
	ownPN, ownLID := s.account, s.accountLID
	s.mu.Unlock()
	me := &core.MessageEvent{
		ID: core.MessageID(info.ID), ChatID: chat, FromMe: info.IsFromMe, PushName: info.PushName,
		Timestamp: info.Timestamp.UTC(),
	}
	switch {
	case info.IsFromMe:
		me.From, me.FromLID = prefer(ownPN, ownLID), chatID(ownLID)
		if info.IsGroup {
			me.To = chat
		} else {
			me.To, me.ToLID = chat, chatID(chatLID)
		}
	default:
		me.From, me.FromLID = prefer(senderPN, senderLID), chatID(senderLID)
		if info.IsGroup {
			me.From, me.FromLID, me.Author = chat, "", prefer(senderPN, senderLID)
			me.To = prefer(ownPN, ownLID)
		} else {
			me.To, me.ToLID = prefer(ownPN, ownLID), chatID(ownLID)
		}
	}
	fillContent(me, m)
	if me.HasMedia && !s.storeMedia(ctx, info, me.Type, m) {
		return false
	}
	sender := senderPN
	if sender.IsEmpty() {
		sender = info.Sender.ToNonAD()
	}
	s.p.recent.put(recentKey{s.id, me.ID}, recentMessage{chat: string(chat), sender: sender.String(), fromMe: info.IsFromMe, body: me.Body})
	if !info.IsFromMe {
		s.p.metrics.countReceived(me.Type)
		in := *me
		in.Kind = core.EventMessage
		if !s.publishKeyed(&in, info.ID) {
			return false
		}
	}
	me.Kind = core.EventMessageCreate
	return s.publishKeyed(me, info.ID)
}

// onProtocolMessage maps edits and revokes; other protocol messages (history sync, app state
// keys, ephemeral settings) are not conversation content.
func (s *session) onProtocolMessage(ctx context.Context, evt *events.Message, pm *waE2E.ProtocolMessage, chat core.ChatID, senderPN, senderLID types.JID) bool {
	key := pm.GetKey()
	target := core.MessageID(key.GetID())
	info := evt.Info
	// The key's FromMe is relative to whoever sent the protocol message.
	fromMe := info.IsFromMe == key.GetFromMe()
	switch pm.GetType() {
	case waE2E.ProtocolMessage_MESSAGE_EDIT:
		body := textOf(pm.GetEditedMessage())
		prev := s.previousBody(ctx, target)
		s.updateRecentBody(target, chat, fromMe, body)
		ts := info.Timestamp.UTC()
		if ms := pm.GetTimestampMS(); ms > 0 {
			ts = time.UnixMilli(ms).UTC()
		}
		return s.publishKeyed(&core.MessageEditEvent{ID: target, ChatID: chat, FromMe: fromMe, Body: body, PreviousBody: prev, Timestamp: ts}, info.ID)
	case waE2E.ProtocolMessage_REVOKE:
		ev := &core.MessageRevokeEvent{ID: target, ChatID: chat, FromMe: fromMe,
			PreviousBody: s.previousBody(ctx, target), Timestamp: info.Timestamp.UTC()}
		if !key.GetFromMe() {
			// Someone else's message deleted by this sender: an admin revoke.
			ev.RevokedBy = prefer(senderPN, senderLID)
		}
		return s.publishKeyed(ev, info.ID)
	}
	return true
}

func (s *session) previousBody(ctx context.Context, msg core.MessageID) string {
	if s.p.bodies != nil {
		body, err := s.p.bodies.Body(ctx, s.id, msg)
		if err == nil && body != "" {
			return body
		}
		if err != nil && !errors.Is(err, core.ErrNotFound) {
			s.logWarn("look up previous body", "messageId", string(msg), "error", err)
		}
	}
	if r, ok := s.p.recent.get(recentKey{s.id, msg}); ok {
		return r.body
	}
	return ""
}

func (s *session) updateRecentBody(msg core.MessageID, chat core.ChatID, fromMe bool, body string) {
	k := recentKey{s.id, msg}
	r, ok := s.p.recent.get(k)
	if !ok {
		r = recentMessage{chat: string(chat), fromMe: fromMe}
	}
	r.body = body
	s.p.recent.put(k, r)
}

// storeMedia keeps what is needed to download a received attachment later. It runs before the
// ack, like publishing: a media message acknowledged but not recorded could not be fetched.
func (s *session) storeMedia(ctx context.Context, info types.MessageInfo, typ core.MessageType, m *waE2E.Message) bool {
	b, err := proto.Marshal(m)
	if err != nil {
		s.logError("encode media ref", "messageId", info.ID, "error", err)
		return true // cannot get better on redelivery
	}
	rec := MediaRecord{SessionID: s.id, MessageID: core.MessageID(info.ID), Chat: info.Chat.String(), MediaType: typ, Message: b}
	if err := s.p.repo.PutMedia(ctx, rec); err != nil {
		s.logError("store media ref", "messageId", info.ID, "error", err)
		return false
	}
	return true
}

// receiptAck maps a receipt type to the seed's ack numbers; ok is false for receipts that are
// not delivery progress of a message we sent (retries, our own reads on other devices...).
func receiptAck(t types.ReceiptType) (core.Ack, bool) {
	switch t {
	case types.ReceiptTypeDelivered:
		return core.AckReceived, true
	case types.ReceiptTypeRead:
		return core.AckRead, true
	case types.ReceiptTypePlayed:
		return core.AckPlayed, true
	}
	return 0, false
}

// onReceipt maps a receipt to message_ack events; false when one could not be made durable, so
// that whatsmeow does not acknowledge the receipt and WhatsApp delivers it again.
func (s *session) onReceipt(evt *events.Receipt) bool {
	ack, ok := receiptAck(evt.Type)
	if !ok || evt.IsFromMe {
		return true
	}
	ctx := s.p.ctx
	chat := chatID(evt.Chat)
	var participant core.ChatID
	if evt.IsGroup {
		pn, lid := s.parties(ctx, evt.Sender, evt.SenderAlt)
		participant = prefer(pn, lid)
	} else {
		pn, lid := s.parties(ctx, evt.Chat, evt.SenderAlt)
		chat = prefer(pn, lid)
	}
	for _, id := range evt.MessageIDs {
		if r, ok := s.p.recent.get(recentKey{s.id, core.MessageID(id)}); ok && r.edits != "" {
			continue // a receipt of our own edit or revoke: not a message the API returned
		}
		if !s.publishKeyed(&core.MessageAckEvent{ID: core.MessageID(id), ChatID: chat, Ack: ack, Participant: participant},
			fmt.Sprintf("%s\x00%d\x00%s", id, ack, participant)) {
			return false
		}
	}
	return true
}

// contextInfoOf returns the ContextInfo of whichever content a message carries.
func contextInfoOf(m *waE2E.Message) *waE2E.ContextInfo {
	switch {
	case m.GetExtendedTextMessage() != nil:
		return m.GetExtendedTextMessage().GetContextInfo()
	case m.GetImageMessage() != nil:
		return m.GetImageMessage().GetContextInfo()
	case m.GetVideoMessage() != nil:
		return m.GetVideoMessage().GetContextInfo()
	case m.GetAudioMessage() != nil:
		return m.GetAudioMessage().GetContextInfo()
	case m.GetDocumentMessage() != nil:
		return m.GetDocumentMessage().GetContextInfo()
	case m.GetStickerMessage() != nil:
		return m.GetStickerMessage().GetContextInfo()
	case m.GetLocationMessage() != nil:
		return m.GetLocationMessage().GetContextInfo()
	case m.GetContactMessage() != nil:
		return m.GetContactMessage().GetContextInfo()
	}
	return nil
}

// textOf is the text body of a message: its text, or the caption of its media.
func textOf(m *waE2E.Message) string {
	switch {
	case m == nil:
		return ""
	case m.Conversation != nil:
		return m.GetConversation()
	case m.GetExtendedTextMessage() != nil:
		return m.GetExtendedTextMessage().GetText()
	case m.GetImageMessage() != nil:
		return m.GetImageMessage().GetCaption()
	case m.GetVideoMessage() != nil:
		return m.GetVideoMessage().GetCaption()
	case m.GetDocumentMessage() != nil:
		return m.GetDocumentMessage().GetCaption()
	}
	return ""
}

// fillContent sets the type, body and content fields of a message event.
func fillContent(me *core.MessageEvent, m *waE2E.Message) {
	me.Type, me.Body = core.MessageText, textOf(m)
	media := func(t core.MessageType, mime, name, caption string, size uint64) {
		me.Type, me.HasMedia = t, true
		me.Media = &core.MediaInfo{MimeType: mime, FileName: name, Size: int64(size), Caption: caption}
	}
	switch {
	case m.Conversation != nil || m.GetExtendedTextMessage() != nil:
	case m.GetImageMessage() != nil:
		x := m.GetImageMessage()
		media(core.MessageImage, x.GetMimetype(), "", x.GetCaption(), x.GetFileLength())
	case m.GetVideoMessage() != nil:
		x := m.GetVideoMessage()
		media(core.MessageVideo, x.GetMimetype(), "", x.GetCaption(), x.GetFileLength())
	case m.GetAudioMessage() != nil:
		x := m.GetAudioMessage()
		media(core.MessageAudio, x.GetMimetype(), "", "", x.GetFileLength())
	case m.GetDocumentMessage() != nil:
		x := m.GetDocumentMessage()
		media(core.MessageDocument, x.GetMimetype(), x.GetFileName(), x.GetCaption(), x.GetFileLength())
	case m.GetStickerMessage() != nil:
		x := m.GetStickerMessage()
		media(core.MessageSticker, x.GetMimetype(), "", "", x.GetFileLength())
	case m.GetLocationMessage() != nil:
		x := m.GetLocationMessage()
		me.Type = core.MessageLocation
		me.Location = &core.Location{Latitude: x.GetDegreesLatitude(), Longitude: x.GetDegreesLongitude(), Name: x.GetName(), Address: x.GetAddress()}
	case m.GetContactMessage() != nil:
		x := m.GetContactMessage()
		me.Type = core.MessageContact
		me.Body = x.GetDisplayName()
		me.Contact = &core.VCard{DisplayName: x.GetDisplayName(), VCard: x.GetVcard()}
	case m.GetReactionMessage() != nil:
		x := m.GetReactionMessage()
		me.Type, me.Body = core.MessageReaction, x.GetText()
		me.Reaction = &core.Reaction{MessageID: core.MessageID(x.GetKey().GetID()), Emoji: x.GetText()}
	default:
		me.Type = core.MessageUnknown
	}
	if ci := contextInfoOf(m); ci != nil {
		me.QuotedMessageID = core.MessageID(ci.GetStanzaID())
		me.IsForwarded = ci.GetIsForwarded()
		for _, j := range ci.GetMentionedJID() {
			me.Mentions = append(me.Mentions, core.ChatID(j))
		}
	}
}
