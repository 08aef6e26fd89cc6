package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/28web/hub/channels/core"
)

// SendMessage implements core.Provider. The recipient is normalised and resolved through
// IsOnWhatsApp (Brazilian ninth digit included) unless it is a group or LID address. A message
// sent again with the same ID reuses the WhatsApp message id, which WhatsApp deduplicates.
func (p *Provider) SendMessage(ctx context.Context, id core.SessionID, msg core.OutgoingMessage) (core.SendResult, error) {
	s, err := p.get(id)
	if err != nil {
		return core.SendResult{}, err
	}
	cli, err := s.loggedIn()
	if err != nil {
		return core.SendResult{}, err
	}
	to, err := s.resolve(ctx, cli, msg.To)
	if err != nil {
		return core.SendResult{}, err
	}
	wm, err := p.buildMessage(ctx, s, cli, to, msg)
	if err != nil {
		return core.SendResult{}, err
	}
	msgID := types.MessageID(msg.ID)
	if msgID == "" {
		msgID = cli.GenerateMessageID()
	}
	resp, err := cli.SendMessage(ctx, to, wm, whatsmeow.SendRequestExtra{ID: msgID})
	if err != nil {
		return core.SendResult{}, sendError("send message", err)
	}
	ts := resp.Timestamp.UTC()
	if ts.IsZero() {
		ts = time.Now().UTC()
	}
	s.sent(to, resp.ID, ts, wm)
	return core.SendResult{ID: core.MessageID(resp.ID), ChatID: chatID(to), Timestamp: ts}, nil
}

// sent publishes message_create for a message this session sent through the API (WhatsApp does
// not echo it back to the sending device) and remembers it for edits, replies and reactions.
func (s *session) sent(to types.JID, id types.MessageID, ts time.Time, wm *waE2E.Message) {
	s.mu.Lock()
	own, ownLID := s.account, s.accountLID
	s.mu.Unlock()
	me := &core.MessageEvent{Kind: core.EventMessageCreate, ID: core.MessageID(id), ChatID: chatID(to),
		From: chatID(own), FromLID: chatID(ownLID), To: chatID(to), FromMe: true, Timestamp: ts}
	fillContent(me, wm)
	if to.Server == types.DefaultUserServer || to.Server == types.HiddenUserServer {
		// Both forms of the recipient, as for inbound events; the chat stays what was sent to.
		pn, lid := s.parties(s.p.ctx, to, types.EmptyJID)
		me.To, me.ToLID = prefer(pn, lid), chatID(lid)
	}
	s.p.recent.put(recentKey{s.id, me.ID}, recentMessage{chat: string(me.ChatID), sender: own.String(), fromMe: true, body: me.Body})
	s.publishKeyed(me, string(id))
}

// loggedIn returns the client of a session that can talk to WhatsApp now.
func (s *session) loggedIn() (*whatsmeow.Client, error) {
	cli := s.client()
	if cli == nil || !cli.IsLoggedIn() {
		return nil, fmt.Errorf("session %s: %w", s.id, core.ErrNotConnected)
	}
	return cli, nil
}

// sendError maps whatsmeow errors to the core sentinels.
func sendError(op string, err error) error {
	switch {
	case errors.Is(err, whatsmeow.ErrNoPushName):
		// Availability needs the account's name, which arrives with the phone's app-state sync.
		return fmt.Errorf("%s: %w: account push name not synced from the phone yet: %w", op, core.ErrConflict, err)
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrNotLoggedIn):
		return fmt.Errorf("%s: %w: %w", op, core.ErrNotConnected, err)
	case errors.Is(err, whatsmeow.ErrBroadcastListUnsupported), errors.Is(err, whatsmeow.ErrUnknownServer),
		errors.Is(err, whatsmeow.ErrRecipientADJID):
		return fmt.Errorf("%s: %w: %w", op, core.ErrInvalid, err)
	}
	return fmt.Errorf("%s: %w: %w", op, core.ErrUnavailable, err)
}

// resolve turns a recipient as a client wrote it into the canonical JID. Phone numbers (bare or
// @s.whatsapp.net) are checked with IsOnWhatsApp; groups, LIDs and other servers are taken as
// they are.
func (s *session) resolve(ctx context.Context, cli *whatsmeow.Client, to string) (types.JID, error) {
	to = strings.TrimSpace(to)
	var number string
	if strings.Contains(to, "@") {
		j, err := types.ParseJID(to)
		if err != nil || j.User == "" {
			return types.EmptyJID, fmt.Errorf("%w: recipient %q is not a WhatsApp address", core.ErrInvalid, to)
		}
		if j.Server != types.DefaultUserServer {
			return j.ToNonAD(), nil
		}
		number = j.User
	} else {
		n, err := NormalizeNumber(to)
		if err != nil {
			return types.EmptyJID, err
		}
		number = n
	}
	if j, ok := s.p.resolved.get(number); ok {
		return j, nil
	}
	j, err := s.lookupNumber(ctx, cli, number)
	if err != nil {
		return types.EmptyJID, err
	}
	s.p.resolved.put(number, j)
	return j, nil
}

// lookupNumber asks WhatsApp which JID a number (and its known variants) is registered as.
func (s *session) lookupNumber(ctx context.Context, cli *whatsmeow.Client, number string) (types.JID, error) {
	cands := numberCandidates(number)
	queries := make([]string, len(cands))
	for i, c := range cands {
		queries[i] = "+" + c
	}
	res, err := cli.IsOnWhatsApp(ctx, queries)
	if err != nil {
		return types.EmptyJID, sendError("check recipient on WhatsApp", err)
	}
	// Answers may come in any order: honour the candidates' order. The canonical address is the
	// phone-number JID even when WhatsApp answers with the LID; whatsmeow maps it when sending.
	for _, c := range cands {
		for _, r := range res {
			if !r.IsIn || strings.TrimPrefix(r.Query, "+") != c {
				continue
			}
			if r.PhoneNumber.Server == types.DefaultUserServer {
				if r.JID.Server == types.HiddenUserServer {
					cli.StoreLIDPNMapping(ctx, r.JID.ToNonAD(), r.PhoneNumber.ToNonAD())
				}
				return r.PhoneNumber.ToNonAD(), nil
			}
			if r.JID.Server == types.DefaultUserServer {
				return r.JID.ToNonAD(), nil
			}
			return types.NewJID(c, types.DefaultUserServer), nil
		}
	}
	return types.EmptyJID, fmt.Errorf("%w: %s is not on WhatsApp", core.ErrInvalid, number)
}

var firstURL = regexp.MustCompile(`https?://[^\s]+`)

// buildMessage turns an outgoing message into its WhatsApp form, uploading media.
func (p *Provider) buildMessage(ctx context.Context, s *session, cli *whatsmeow.Client, to types.JID, msg core.OutgoingMessage) (*waE2E.Message, error) {
	ci, err := s.contextInfo(cli, to, msg)
	if err != nil {
		return nil, err
	}
	switch msg.Type {
	case core.MessageText, "":
		if msg.Text == "" {
			return nil, fmt.Errorf("%w: text message without text", core.ErrInvalid)
		}
		if ci == nil && !msg.LinkPreview {
			return &waE2E.Message{Conversation: proto.String(msg.Text)}, nil
		}
		ext := &waE2E.ExtendedTextMessage{Text: proto.String(msg.Text), ContextInfo: ci}
		if msg.LinkPreview {
			// WhatsApp renders the preview from the matched URL; no page is fetched here.
			if u := firstURL.FindString(msg.Text); u != "" {
				ext.MatchedText = proto.String(u)
				ext.PreviewType = waE2E.ExtendedTextMessage_NONE.Enum()
			}
		}
		return &waE2E.Message{ExtendedTextMessage: ext}, nil
	case core.MessageImage, core.MessageVideo, core.MessageAudio, core.MessageDocument, core.MessageSticker:
		return p.buildMedia(ctx, cli, msg, ci)
	case core.MessageLocation:
		l := msg.Location
		if l == nil {
			return nil, fmt.Errorf("%w: location message without location", core.ErrInvalid)
		}
		return &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: proto.Float64(l.Latitude), DegreesLongitude: proto.Float64(l.Longitude),
			Name: nonEmpty(l.Name), Address: nonEmpty(l.Address), ContextInfo: ci,
		}}, nil
	case core.MessageContact:
		c := msg.Contact
		if c == nil || c.VCard == "" {
			return nil, fmt.Errorf("%w: contact message without vcard", core.ErrInvalid)
		}
		return &waE2E.Message{ContactMessage: &waE2E.ContactMessage{
			DisplayName: proto.String(c.DisplayName), Vcard: proto.String(c.VCard), ContextInfo: ci,
		}}, nil
	case core.MessageReaction:
		r := msg.Reaction
		if r == nil || r.MessageID == "" {
			return nil, fmt.Errorf("%w: reaction without message id", core.ErrInvalid)
		}
		return cli.BuildReaction(to, s.senderOf(to, r.MessageID), types.MessageID(r.MessageID), r.Emoji), nil
	}
	return nil, fmt.Errorf("%w: message type %q", core.ErrInvalid, msg.Type)
}

// senderOf returns who wrote a message of the chat, as far as the session remembers: itself
// (empty JID) or the other party. Unknown messages in direct chats are assumed to be the peer's.
func (s *session) senderOf(chat types.JID, msg core.MessageID) types.JID {
	if r, ok := s.p.recent.get(recentKey{s.id, msg}); ok {
		if r.fromMe {
			return types.EmptyJID
		}
		if j, err := types.ParseJID(r.sender); err == nil {
			return j
		}
	}
	if chat.Server == types.DefaultUserServer || chat.Server == types.HiddenUserServer {
		return chat
	}
	return types.EmptyJID
}

// contextInfo carries mentions and the quoted message of a reply.
func (s *session) contextInfo(cli *whatsmeow.Client, to types.JID, msg core.OutgoingMessage) (*waE2E.ContextInfo, error) {
	if len(msg.Mentions) == 0 && msg.QuotedMessageID == "" {
		return nil, nil
	}
	ci := &waE2E.ContextInfo{}
	for _, m := range msg.Mentions {
		j, err := parseChat(m)
		if err != nil {
			return nil, fmt.Errorf("mention %q: %w", m, err)
		}
		ci.MentionedJID = append(ci.MentionedJID, j.String())
	}
	if q := msg.QuotedMessageID; q != "" {
		ci.StanzaID = proto.String(string(q))
		sender := s.senderOf(to, q)
		if sender.IsEmpty() {
			sender = cli.Store.GetJID().ToNonAD()
		}
		ci.Participant = proto.String(sender.ToNonAD().String())
		body := ""
		if r, ok := s.p.recent.get(recentKey{s.id, q}); ok {
			body = r.body
		}
		ci.QuotedMessage = &waE2E.Message{Conversation: proto.String(body)}
	}
	return ci, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}

// buildMedia loads, uploads and wraps an attachment.
func (p *Provider) buildMedia(ctx context.Context, cli *whatsmeow.Client, msg core.OutgoingMessage, ci *waE2E.ContextInfo) (*waE2E.Message, error) {
	m := msg.Media
	if m == nil {
		return nil, fmt.Errorf("%w: %s message without media", core.ErrInvalid, msg.Type)
	}
	data, mime, err := p.loadMedia(ctx, m)
	if err != nil {
		return nil, err
	}
	kind := whatsmeow.MediaImage
	switch msg.Type {
	case core.MessageVideo:
		kind = whatsmeow.MediaVideo
	case core.MessageAudio:
		kind = whatsmeow.MediaAudio
	case core.MessageDocument:
		kind = whatsmeow.MediaDocument
	}
	up, err := cli.Upload(ctx, data, kind)
	if err != nil {
		return nil, sendError("upload media", err)
	}
	size := proto.Uint64(uint64(len(data)))
	caption := nonEmpty(msg.Text)
	switch msg.Type {
	case core.MessageImage:
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: size,
			Mimetype: proto.String(mime), Caption: caption, ContextInfo: ci,
		}}, nil
	case core.MessageVideo:
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: size,
			Mimetype: proto.String(mime), Caption: caption, ContextInfo: ci,
		}}, nil
	case core.MessageAudio:
		if m.VoiceNote && m.MimeType == "" {
			mime = "audio/ogg; codecs=opus"
		}
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: size,
			Mimetype: proto.String(mime), PTT: proto.Bool(m.VoiceNote), ContextInfo: ci,
		}}, nil
	case core.MessageDocument:
		name := m.FileName
		if name == "" {
			name = "document"
		}
		return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: size,
			Mimetype: proto.String(mime), FileName: proto.String(name), Title: proto.String(name),
			Caption: caption, ContextInfo: ci,
		}}, nil
	default: // sticker
		if m.MimeType == "" {
			mime = "image/webp"
		}
		return &waE2E.Message{StickerMessage: &waE2E.StickerMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: size,
			Mimetype: proto.String(mime), ContextInfo: ci,
		}}, nil
	}
}

// loadMedia returns the attachment's bytes and MIME type, from inline data or its URL (fetched
// through the core's fetcher: the API fetches at accept time, so only direct callers get here
// with a URL).
func (p *Provider) loadMedia(ctx context.Context, m *core.Media) ([]byte, string, error) {
	max := p.cfg.MaxMediaBytes
	var data []byte
	mime := m.MimeType
	switch {
	case len(m.Data) > 0:
		if int64(len(m.Data)) > max {
			return nil, "", fmt.Errorf("%w: media is %d bytes, over the %d-byte limit", core.ErrInvalid, len(m.Data), max)
		}
		data = m.Data
	case m.URL != "":
		got, err := p.fetcher.Fetch(ctx, m.URL, max)
		if err != nil {
			return nil, "", err
		}
		data = got.Data
		if mime == "" {
			mime = got.MimeType
		}
	default:
		return nil, "", fmt.Errorf("%w: media needs a url or data", core.ErrInvalid)
	}
	if mime == "" || mime == "application/octet-stream" {
		mime = http.DetectContentType(data)
	}
	return data, mime, nil
}
