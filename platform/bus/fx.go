package bus

import (
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/fx"
)

// Module provides *Bus and its message.Publisher, and closes the bus when the app stops. It
// expects a Config and a *slog.Logger in the graph. Routers are the consumers' business: build
// them with Bus.NewRouter and run them from their own lifecycle hooks (stop them before the bus
// stops, which fx does for hooks registered later).
var Module = fx.Module("bus",
	fx.Provide(
		NewFx,
		func(b *Bus) message.Publisher { return b.Publisher() },
	),
)

// NewFx builds the bus for an fx app and registers its Close on stop.
func NewFx(lc fx.Lifecycle, cfg Config, logger *slog.Logger) (*Bus, error) {
	b, err := New(cfg, logger)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(func() error {
		if err := b.Close(); err != nil {
			return fmt.Errorf("bus module stop: %w", err)
		}
		return nil
	}))
	return b, nil
}
