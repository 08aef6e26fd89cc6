package app

import (
	"fmt"
	"log/slog"

	"go.uber.org/fx"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/remote"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/openapi/client"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/health"
	"github.com/28web/hub/platform/httpserver"
)

// HubInfo is the OpenAPI info block of the hub's API (the same operations as the gateway's).
func HubInfo() httpserver.APIInfo {
	info := GatewayInfo()
	info.Title = "28web Hub channel API"
	return info
}

// RemoteChannel drives a gateway over its REST API (the generated Go client) and reads its
// events from the gateway's streams on the shared Redis, in a consumer group of the hub's own.
func RemoteChannel(hub config.HubConfig, busCfg bus.Config) fx.Option {
	return fx.Provide(fx.Annotate(func(lc fx.Lifecycle, sink core.EventSink, logger *slog.Logger) (core.Provider, error) {
		api, err := client.NewWithKey(hub.GatewayURL, hub.GatewayAPIKey)
		if err != nil {
			return nil, err
		}
		eventsCfg := busCfg
		eventsCfg.Namespace = hub.GatewayNamespace
		events, err := bus.New(eventsCfg, logger)
		if err != nil {
			return nil, fmt.Errorf("gateway events bus: %w", err)
		}
		sub, err := events.Subscriber("hub")
		if err != nil {
			return nil, fmt.Errorf("gateway events: %w", err)
		}
		p := remote.New(api, remote.DefaultChannel, sub, sink, logger)
		lc.Append(fx.StartStopHook(p.Start, p.Stop))
		lc.Append(fx.StopHook(events.Close))
		return p, nil
	}, fx.ResultTags(core.ChannelsGroup)))
}

// Hub is the hub: platform and core, with the channel in-process or in a remote gateway as
// cfg.Hub.Channel says.
func Hub(cfg *config.Config, version string, logger *slog.Logger, channel ...whatsapp.Option) fx.Option {
	ch := fx.Options(InProcessChannel(cfg.WhatsApp, channel...), CloudChannel(cfg.WhatsAppCloud))
	if cfg.Hub.Channel == config.HubRemote {
		ch = RemoteChannel(cfg.Hub, cfg.Bus)
	}
	return fx.Options(Platform(cfg, HubInfo(), version, logger), Core(cfg), ch, health.Background)
}
