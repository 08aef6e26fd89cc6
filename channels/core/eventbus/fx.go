package eventbus

import (
	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/fx"

	"github.com/28web/hub/channels/core"
)

// Module provides the core.EventSink that publishes every event on the bus.
var Module = fx.Module("eventbus", fx.Provide(
	fx.Annotate(func(pub message.Publisher) *Sink { return NewSink(pub) }, fx.As(new(core.EventSink))),
))
