package projection

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/28web/hub/platform/bus"
)

// Module runs the projection on its own bus router for the app's lifetime.
var Module = fx.Module("projection",
	fx.Provide(New),
	fx.Invoke(func(lc fx.Lifecycle, b *bus.Bus, p *Projector, logger *slog.Logger) error {
		r, err := b.NewRouter()
		if err != nil {
			return err
		}
		if err := p.Register(r); err != nil {
			return err
		}
		bus.RunRouter(lc, r, logger)
		return nil
	}),
)
