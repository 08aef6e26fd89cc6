package remote

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/openapi/client"
)

// bodyOf returns the Body field every generated response struct has.
func bodyOf(res response) []byte {
	v := reflect.ValueOf(res)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	if f := v.FieldByName("Body"); f.IsValid() && f.Kind() == reflect.Slice {
		b, _ := f.Interface().([]byte)
		return b
	}
	return nil
}

func session(s client.Session) core.Session {
	return core.Session{
		ID: core.SessionID(s.Id), Channel: core.Channel(s.Channel), Status: core.SessionStatus(s.Status),
		Account: core.ChatID(deref(s.Account)), AccountLID: core.ChatID(deref(s.AccountLid)), PushName: deref(s.PushName),
		Reason: deref(s.Reason), BannedUntil: s.BannedUntil, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, ConnectedAt: s.ConnectedAt,
	}
}

func contacts(cs *[]client.Contact) []core.Contact {
	out := []core.Contact{}
	if cs == nil {
		return out
	}
	for _, c := range *cs {
		out = append(out, core.Contact{ID: core.ChatID(c.Id), LID: core.ChatID(deref(c.Lid)), Phone: deref(c.Phone),
			PushName: deref(c.PushName), Name: deref(c.Name), OnWhatsApp: c.OnWhatsApp, UpdatedAt: c.UpdatedAt})
	}
	return out
}

func sendRequest(m core.OutgoingMessage) client.SendMessageRequest {
	r := client.SendMessageRequest{To: m.To, Type: client.SendMessageRequestType(m.Type), SendAt: m.SendAt}
	if m.ID != "" {
		id := string(m.ID)
		r.Id = &id
	}
	if m.Text != "" {
		r.Text = &m.Text
	}
	if len(m.Mentions) > 0 {
		ms := make([]string, len(m.Mentions))
		for i, x := range m.Mentions {
			ms[i] = string(x)
		}
		r.Mentions = &ms
	}
	if m.LinkPreview {
		r.LinkPreview = &m.LinkPreview
	}
	if m.QuotedMessageID != "" {
		q := string(m.QuotedMessageID)
		r.QuotedMessageId = &q
	}
	if md := m.Media; md != nil {
		in := client.MediaInput{}
		if md.URL != "" {
			in.Url = &md.URL
		}
		if len(md.Data) > 0 {
			in.Data = &md.Data
		}
		if md.MimeType != "" {
			in.MimeType = &md.MimeType
		}
		if md.FileName != "" {
			in.FileName = &md.FileName
		}
		if md.VoiceNote {
			in.VoiceNote = &md.VoiceNote
		}
		r.Media = &in
	}
	if l := m.Location; l != nil {
		in := client.LocationInput{Latitude: l.Latitude, Longitude: l.Longitude}
		if l.Name != "" {
			in.Name = &l.Name
		}
		if l.Address != "" {
			in.Address = &l.Address
		}
		r.Location = &in
	}
	if c := m.Contact; c != nil {
		r.Contact = &client.ContactInput{DisplayName: c.DisplayName, Vcard: c.VCard}
	}
	if re := m.Reaction; re != nil {
		r.Reaction = &client.ReactionInput{MessageId: string(re.MessageID), Emoji: re.Emoji}
	}
	return r
}

// decodeDataURL reads the bytes of a data:...;base64, URL.
func decodeDataURL(u string) ([]byte, error) {
	_, data, ok := strings.Cut(u, ";base64,")
	if !ok {
		return nil, fmt.Errorf("qr image: not a base64 data URL")
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("qr image: %w", err)
	}
	return b, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// ValidateAddress implements core.Provider with the grammar every gateway channel accepts; the
// gateway's channel judges the rest when the message reaches it.
func (p *Provider) ValidateAddress(to string) error { return core.CheckPhoneOrChatID(to) }
