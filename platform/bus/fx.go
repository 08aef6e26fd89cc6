package bus

import (
	"context"
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

// RunRouter runs r for the app's lifetime: started (and running) before OnStart returns, closed
// on stop, waiting for handlers in flight. Register its handlers before the app starts.
func RunRouter(lc fx.Lifecycle, r *Router, logger *slog.Logger) {
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			go func() {
				defer close(done)
				if err := r.Run(context.Background()); err != nil {
					logger.Error("bus router stopped", slog.String("error", err.Error()))
				}
			}()
			select {
			case <-r.Running():
				return nil
			case <-ctx.Done():
				return fmt.Errorf("start bus router: %w", ctx.Err())
			}
		},
		OnStop: func(ctx context.Context) error {
			if err := r.Close(); err != nil {
				return fmt.Errorf("close bus router: %w", err)
			}
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("stop bus router: %w", ctx.Err())
			}
		},
	})
}
