package eventbus

import (
	"go.uber.org/fx"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/outbox"
)

// Module provides the core.EventSink that publishes every event on the bus through the outbox:
// an event is durable once Publish returns, even if the broker later loses its data.
var Module = fx.Module("eventbus", fx.Provide(
	fx.Annotate(func(o *outbox.Outbox) *Sink { return NewSink(o) }, fx.As(new(core.EventSink))),
))
