package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/httpserver"
)

// capabilityNames is the capabilities' enum: the names core.Capabilities reports.
var capabilityNames = []any{core.CapabilityQRLogin, core.CapabilityPairingCode, core.CapabilityEdit,
	core.CapabilityRevoke, core.CapabilityMarkRead, core.CapabilityPresence, core.CapabilityMedia, core.CapabilityContacts,
	core.CapabilityTemplates}

// Capability is the name of an optional operation of a channel.
type Capability string

// Schema lists the capabilities as an enum.
func (Capability) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Enum: capabilityNames}
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
	for _, p := range h.Channels.All() {
		out.Body.Channels = append(out.Body.Channels, channelOf(p))
	}
	return out, nil
}

func channelOf(p core.Provider) Channel {
	info := p.Info()
	c := Channel{Channel: info.Channel, MaxTextLength: info.MaxTextLength, MaxMediaBytes: info.MaxMediaBytes,
		MessageTypes: append([]core.MessageType{}, info.MessageTypes...), Capabilities: []Capability{}}
	for _, name := range core.Capabilities(p) {
		c.Capabilities = append(c.Capabilities, Capability(name))
	}
	return c
}
