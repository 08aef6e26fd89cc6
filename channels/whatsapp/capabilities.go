package whatsapp

import (
	"context"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/28web/hub/channels/core"
)

// LoginQR implements core.QRLogin: the code on show, its PNG and when it rotates.
func (p *Provider) LoginQR(_ context.Context, id core.SessionID) (core.QRCode, error) {
	s, err := p.get(id)
	if err != nil {
		return core.QRCode{}, err
	}
	code, exp, paired, ok := s.currentQR()
	if paired {
		return core.QRCode{}, fmt.Errorf("session %s is already paired: %w", id, core.ErrConflict)
	}
	if !ok {
		return core.QRCode{}, fmt.Errorf("session %s has no QR code yet: %w", id, core.ErrNotFound)
	}
	png, err := renderQR(code)
	if err != nil {
		return core.QRCode{}, err
	}
	return core.QRCode{Text: code, PNG: png, ExpiresAt: exp}, nil
}

// RequestPairingCode implements core.PairingCodeLogin: the 8-character code to type on the
// phone whose number is given, as an alternative to scanning the QR. The session must be waiting
// for a QR (connected to WhatsApp, not paired).
func (p *Provider) RequestPairingCode(ctx context.Context, id core.SessionID, phone string) (string, error) {
	s, err := p.get(id)
	if err != nil {
		return "", err
	}
	number, err := NormalizeNumber(phone)
	if err != nil {
		return "", err
	}
	cli := s.client()
	_, _, paired, _ := s.currentQR()
	if paired {
		return "", fmt.Errorf("session %s is already paired: %w", id, core.ErrConflict)
	}
	if cli == nil || !cli.IsConnected() {
		return "", fmt.Errorf("session %s is not connected to WhatsApp yet: %w", id, core.ErrNotConnected)
	}
	code, err := cli.PairPhone(ctx, number, true, whatsmeow.PairClientChrome, p.cfg.DeviceName)
	if err != nil {
		return "", sendError("request pairing code", err)
	}
	s.mu.Lock()
	if s.qr != nil {
		// Give the phone's user time to type the code: the QR batch keeps the socket open.
		s.qr.expiresAt = time.Now().Add(p.cfg.QRFirstTimeout)
	}
	s.mu.Unlock()
	return code, nil
}

// EditMessage implements core.MessageEditor for text messages this session sent.
func (p *Provider) EditMessage(ctx context.Context, id core.SessionID, chat core.ChatID, msg core.MessageID, text string) error {
	s, cli, to, err := p.chatOp(ctx, id, chat)
	if err != nil {
		return err
	}
	if text == "" {
		return fmt.Errorf("%w: edit without text", core.ErrInvalid)
	}
	newContent := &waE2E.Message{Conversation: proto.String(text)}
	prev := s.previousBody(ctx, msg)
	// Known before it is sent: its receipts may come back before SendMessage returns.
	protoID := cli.GenerateMessageID()
	s.sentProtocol(protoID, msg, to)
	resp, err := cli.SendMessage(ctx, to, cli.BuildEdit(to, types.MessageID(msg), newContent), whatsmeow.SendRequestExtra{ID: protoID})
	if err != nil {
		return sendError("edit message", err)
	}
	s.updateRecentBody(msg, chatID(to), true, text)
	// WhatsApp does not echo it to this device: announce it like an edit from the phone.
	s.publishKeyed(&core.MessageEditEvent{ID: msg, ChatID: chatID(to), FromMe: true, Body: text, PreviousBody: prev,
		Timestamp: timestampOr(resp.Timestamp)}, resp.ID)
	return nil
}

// sentProtocol remembers a protocol message this session sent (an edit or revoke of target), so
// that its receipts are not reported as acks of a message nobody sent through the API.
func (s *session) sentProtocol(id types.MessageID, target core.MessageID, to types.JID) {
	s.p.recent.put(recentKey{s.id, core.MessageID(id)}, recentMessage{chat: string(chatID(to)), fromMe: true, edits: target})
}

func timestampOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}

// RevokeMessage implements core.MessageRevoker: deletes for everyone a message this session sent
// (or, as a group admin, someone else's).
func (p *Provider) RevokeMessage(ctx context.Context, id core.SessionID, chat core.ChatID, msg core.MessageID) error {
	s, cli, to, err := p.chatOp(ctx, id, chat)
	if err != nil {
		return err
	}
	sender := s.senderOfOwnFirst(msg)
	prev := s.previousBody(ctx, msg)
	protoID := cli.GenerateMessageID()
	s.sentProtocol(protoID, msg, to)
	resp, err := cli.SendMessage(ctx, to, cli.BuildRevoke(to, sender, types.MessageID(msg)), whatsmeow.SendRequestExtra{ID: protoID})
	if err != nil {
		return sendError("revoke message", err)
	}
	ev := &core.MessageRevokeEvent{ID: msg, ChatID: chatID(to), FromMe: sender.IsEmpty(), PreviousBody: prev, Timestamp: timestampOr(resp.Timestamp)}
	if !sender.IsEmpty() {
		// Someone else's message, deleted by this account as a group admin.
		s.mu.Lock()
		ev.RevokedBy = prefer(s.account, s.accountLID)
		s.mu.Unlock()
	}
	s.publishKeyed(ev, resp.ID)
	return nil
}

// senderOfOwnFirst is the author of a message to revoke: ourselves unless we know better.
func (s *session) senderOfOwnFirst(msg core.MessageID) types.JID {
	if r, ok := s.p.recent.get(recentKey{s.id, msg}); ok && !r.fromMe {
		if j, err := types.ParseJID(r.sender); err == nil {
			return j
		}
	}
	return types.EmptyJID
}

// MarkRead implements core.ReadMarker. In groups the sender of each message is taken from the
// recent-message cache; messages it does not know are marked with the chat as sender.
func (p *Provider) MarkRead(ctx context.Context, id core.SessionID, chat core.ChatID, msgs []core.MessageID) error {
	s, cli, to, err := p.chatOp(ctx, id, chat)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return fmt.Errorf("%w: no message ids", core.ErrInvalid)
	}
	bySender := map[types.JID][]types.MessageID{}
	for _, m := range msgs {
		sender := to
		if to.Server == types.GroupServer {
			sender = s.senderOf(to, m)
		}
		bySender[sender] = append(bySender[sender], types.MessageID(m))
	}
	for sender, ids := range bySender {
		if err := cli.MarkRead(ctx, ids, time.Now(), to, sender); err != nil {
			return sendError("mark read", err)
		}
	}
	return nil
}

// SendPresence implements core.PresenceSender: typing/recording/paused in a chat, or the
// account's global availability.
func (p *Provider) SendPresence(ctx context.Context, id core.SessionID, chat core.ChatID, presence core.Presence) error {
	var err error
	switch presence {
	case core.PresenceAvailable, core.PresenceOffline:
		s, gerr := p.get(id)
		if gerr != nil {
			return gerr
		}
		cli, lerr := s.loggedIn()
		if lerr != nil {
			return lerr
		}
		state := types.PresenceAvailable
		if presence == core.PresenceOffline {
			state = types.PresenceUnavailable
		}
		err = cli.SendPresence(ctx, state)
	case core.PresenceTyping, core.PresenceRecording, core.PresencePaused:
		_, cli, to, cerr := p.chatOp(ctx, id, chat)
		if cerr != nil {
			return cerr
		}
		state, media := types.ChatPresenceComposing, types.ChatPresenceMediaText
		switch presence {
		case core.PresenceRecording:
			media = types.ChatPresenceMediaAudio
		case core.PresencePaused:
			state = types.ChatPresencePaused
		}
		err = cli.SendChatPresence(ctx, to, state, media)
	default:
		return fmt.Errorf("%w: presence %q", core.ErrInvalid, presence)
	}
	if err != nil {
		return sendError("send presence", err)
	}
	return nil
}

// DownloadMedia implements core.MediaDownloader for media of received messages.
func (p *Provider) DownloadMedia(ctx context.Context, id core.SessionID, msg core.MessageID) (core.DownloadedMedia, error) {
	s, err := p.get(id)
	if err != nil {
		return core.DownloadedMedia{}, err
	}
	rec, err := p.repo.Media(ctx, id, msg)
	if err != nil {
		return core.DownloadedMedia{}, err
	}
	cli, err := s.loggedIn()
	if err != nil {
		return core.DownloadedMedia{}, err
	}
	var m waE2E.Message
	if err := proto.Unmarshal(rec.Message, &m); err != nil {
		return core.DownloadedMedia{}, fmt.Errorf("decode media ref of %s: %w", msg, err)
	}
	part, err := downloadable(&m)
	if err != nil {
		return core.DownloadedMedia{}, fmt.Errorf("media of %s: %w", msg, err)
	}
	data, err := cli.Download(ctx, part)
	if err != nil {
		return core.DownloadedMedia{}, sendError("download media", err)
	}
	var me core.MessageEvent
	fillContent(&me, &m)
	out := core.DownloadedMedia{Data: data}
	if me.Media != nil {
		out.MimeType, out.FileName = me.Media.MimeType, me.Media.FileName
	}
	return out, nil
}

// chatOp resolves the common arguments of the capability methods.
func (p *Provider) chatOp(ctx context.Context, id core.SessionID, chat core.ChatID) (*session, *whatsmeow.Client, types.JID, error) {
	s, err := p.get(id)
	if err != nil {
		return nil, nil, types.EmptyJID, err
	}
	cli, err := s.loggedIn()
	if err != nil {
		return nil, nil, types.EmptyJID, err
	}
	to, err := s.resolve(ctx, cli, string(chat))
	if err != nil {
		return nil, nil, types.EmptyJID, err
	}
	return s, cli, to, nil
}

// downloadable returns the attachment part of a media message.
func downloadable(m *waE2E.Message) (whatsmeow.DownloadableMessage, error) {
	switch {
	case m.GetImageMessage() != nil:
		return m.GetImageMessage(), nil
	case m.GetVideoMessage() != nil:
		return m.GetVideoMessage(), nil
	case m.GetAudioMessage() != nil:
		return m.GetAudioMessage(), nil
	case m.GetDocumentMessage() != nil:
		return m.GetDocumentMessage(), nil
	case m.GetStickerMessage() != nil:
		return m.GetStickerMessage(), nil
	}
	return nil, core.ErrNotFound
}
