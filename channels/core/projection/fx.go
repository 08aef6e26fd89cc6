package projection

import (
	"context"

	"go.uber.org/fx"

	"github.com/28web/hub/platform/bus"
)

// Module runs the projection for the app's lifetime.
var Module = fx.Module("projection",
	fx.Provide(New),
	fx.Invoke(func(lc fx.Lifecycle, b *bus.Bus, p *Projector) {
		var stop func()
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error {
				var err error
				stop, err = p.Start(b)
				return err
			},
			OnStop: func(ctx context.Context) error {
				done := make(chan struct{})
				go func() { stop(); close(done) }()
				select {
				case <-done:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
		})
	}),
)
