package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/httpserver"
)

// Capability names what a channel can do beyond sending; clients check them before offering
// an action (pairing by code, editing) rather than learning from a 501.
type Capability string

const (
	CapabilityQRLogin       Capability = "qr_login"
	CapabilityPairingCode   Capability = "pairing_code"
	CapabilityEdit          Capability = "edit"
	CapabilityRevoke        Capability = "revoke"
	CapabilityMarkRead      Capability = "mark_read"
	CapabilityPresence      Capability = "presence"
	CapabilityMediaDownload Capability = "media_download"
)

// Schema lists the capabilities as an enum.
func (Capability) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Enum: []any{
		string(CapabilityQRLogin), string(CapabilityPairingCode), string(CapabilityEdit), string(CapabilityRevoke),
		string(CapabilityMarkRead), string(CapabilityPresence), string(CapabilityMediaDownload),
	}}
}

// Channel is what a channel of this gateway accepts: the limits an accepted message is checked
// against and what it can do.
type Channel struct {
	Channel       core.Channel       `json:"channel" doc:"The channel's name, as sessions name it." example:"whatsapp"`
	MaxTextLength int                `json:"maxTextLength" doc:"The longest text body the channel accepts, in characters."`
	MaxMediaBytes int64              `json:"maxMediaBytes" doc:"The largest attachment the channel accepts, in bytes."`
	MessageTypes  []core.MessageType `json:"messageTypes" doc:"The message types sendMessage accepts on this channel; others are refused with 422."`
	Capabilities  []Capability       `json:"capabilities" doc:"What the channel can do beyond sending."`
}

// ChannelList is the channels this gateway runs.
type ChannelList struct {
	Channels []Channel `json:"channels"`
}

type channelsOutput struct {
	Body ChannelList
}

func (h *Handlers) registerChannels(api huma.API) {
	huma.Register(api, op("listChannels", http.MethodGet, "/channels", tagChannels, "List channels",
		"The channels this gateway runs, with their limits, the message types they send and their capabilities.", 0),
		httpserver.Handle(h.Errors, h.listChannels))
}

func (h *Handlers) listChannels(context.Context, *struct{}) (*channelsOutput, error) {
	out := &channelsOutput{}
	out.Body.Channels = []Channel{channelOf(h.Provider)}
	return out, nil
}

func channelOf(p core.Provider) Channel {
	info := p.Info()
	c := Channel{Channel: info.Channel, MaxTextLength: info.MaxTextLength, MaxMediaBytes: info.MaxMediaBytes,
		MessageTypes: append([]core.MessageType{}, info.MessageTypes...), Capabilities: []Capability{}}
	for _, capability := range []struct {
		name Capability
		has  bool
	}{
		{CapabilityQRLogin, is[core.QRLogin](p)},
		{CapabilityPairingCode, is[core.PairingCodeLogin](p)},
		{CapabilityEdit, is[core.MessageEditor](p)},
		{CapabilityRevoke, is[core.MessageRevoker](p)},
		{CapabilityMarkRead, is[core.ReadMarker](p)},
		{CapabilityPresence, is[core.PresenceSender](p)},
		{CapabilityMediaDownload, is[core.MediaDownloader](p)},
	} {
		if capability.has {
			c.Capabilities = append(c.Capabilities, capability.name)
		}
	}
	return c
}

func is[T any](p core.Provider) bool {
	_, ok := p.(T)
	return ok
}
