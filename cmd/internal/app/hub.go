package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/channels/core/remote"
	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/channels/whatsappcloud"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/openapi/client"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/health"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
)

// HubInfo is the OpenAPI info block of the hub's API (the same operations as the gateway's).
func HubInfo() httpserver.APIInfo {
	info := GatewayInfo()
	info.Title = "28web Hub channel API"
	return info
}

// RemoteChannel drives a gateway over its REST API (the generated Go client) and takes its
// events from the gateway's streams on a shared Redis (a consumer group of the hub's own) or, with
// hub.events webhooks, from the gateway's signed webhooks.
func RemoteChannel(hub config.HubConfig, busCfg bus.Config) fx.Option {
	if hub.Events == config.HubEventsWebhooks {
		return remoteOverWebhooks(hub)
	}
	return fx.Provide(func(lc fx.Lifecycle, sink core.EventSink, logger *slog.Logger) (remoteProviders, error) {
		api, err := client.NewWithKey(hub.GatewayURL, hub.GatewayAPIKey)
		if err != nil {
			return remoteProviders{}, err
		}
		eventsCfg := busCfg
		eventsCfg.Namespace = hub.GatewayNamespace
		events, err := bus.New(eventsCfg, logger)
		if err != nil {
			return remoteProviders{}, fmt.Errorf("gateway events bus: %w", err)
		}
		sub, err := events.Subscriber("hub")
		if err != nil {
			return remoteProviders{}, fmt.Errorf("gateway events: %w", err)
		}
		p := remote.New(api, remote.DefaultChannel, sub, sink, logger)
		lc.Append(fx.StartStopHook(p.Start, p.Stop))
		lc.Append(fx.StopHook(events.Close))
		return remoteChannels(lc, p, api, sink, logger), nil
	})
}

// remoteProviders are the gateway's channels as the hub's channel group.
type remoteProviders struct {
	fx.Out

	Providers []core.Provider `group:"channels,flatten"`
}

// remoteChannels adds the gateway's Cloud API channel next to its WhatsApp one: the same
// gateway, another channel name. Its events come with the first provider's (they are the
// gateway's, whatever the channel), so it forwards none itself.
func remoteChannels(lc fx.Lifecycle, first *remote.Provider, api *client.ClientWithResponses, sink core.EventSink, logger *slog.Logger) remoteProviders {
	cloud := remote.New(api, whatsappcloud.Channel, nil, sink, logger)
	lc.Append(fx.StartStopHook(cloud.Start, cloud.Stop))
	return remoteProviders{Providers: []core.Provider{first, cloud}}
}

// remoteOverWebhooks is remote mode without a shared Redis: the gateway's global webhook
// (APP_WEBHOOK_URL) points at the hub's remote.ReceiverPath. At start the hub asks the gateway
// to redeliver what it gave up on meanwhile, then reports the sessions' current state.
func remoteOverWebhooks(hub config.HubConfig) fx.Option {
	return fx.Options(
		fx.Provide(func(lc fx.Lifecycle, d *db.DB, srv *httpserver.Server, sink core.EventSink, logger *slog.Logger) (remoteProviders, error) {
			api, err := client.NewWithKey(hub.GatewayURL, hub.GatewayAPIKey)
			if err != nil {
				return remoteProviders{}, err
			}
			p := remote.New(api, remote.DefaultChannel, nil, sink, logger)
			rcv := remote.NewReceiver(hub.WebhookSecret, d.Bun(), sink, logger)
			srv.HandlePublic("POST "+remote.ReceiverPath, rcv)
			lc.Append(fx.StartStopHook(func(ctx context.Context) error {
				if err := p.Start(ctx); err != nil {
					return err
				}
				if err := rcv.Prune(ctx, time.Now().Add(-7*24*time.Hour)); err != nil {
					logger.Warn("prune gateway webhook ids", log.ErrorAttr(err))
				}
				n, err := rcv.CatchUp(ctx, api)
				if err != nil {
					return fmt.Errorf("catch up on the gateway's events: %w", err)
				}
				logger.Info("remote mode over webhooks: asked the gateway to redeliver what the hub missed", slog.Int("redelivered", n))
				return p.ReportSessions(ctx)
			}, p.Stop))
			return remoteChannels(lc, p, api, sink, logger), nil
		}),
	)
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
