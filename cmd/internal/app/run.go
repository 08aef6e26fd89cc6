package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/fx"

	"github.com/28web/hub/channels/whatsapp"
	"github.com/28web/hub/channels/whatsapp/wasim/simclient"
	"github.com/28web/hub/cmd/internal/config"
	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/httpserver"
	"github.com/28web/hub/platform/log"
	"github.com/28web/hub/platform/memlimit"
)

// Migrate applies every pending migration and returns the process exit code.
func Migrate(cfg *config.Config, logger *slog.Logger) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d, err := db.Open(ctx, cfg.DB, logger)
	if err != nil {
		logger.Error("open database", log.ErrorAttr(err))
		return 1
	}
	defer func() { _ = d.Close() }()
	if err := db.Migrate(ctx, d, MigrationSets()...); err != nil {
		logger.Error("migrate", log.ErrorAttr(err))
		return 1
	}
	logger.Info("migrations applied", slog.String("dialect", string(d.Dialect())))
	return 0
}

// ChannelOptions are the in-process channel's options the configuration asks for: in simulator
// mode, every WhatsApp client is pointed at the simulator.
func ChannelOptions(cfg *config.Config, logger *slog.Logger) ([]whatsapp.Option, error) {
	if cfg.SimulatorURL == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sim, err := simclient.DialRemote(ctx, cfg.SimulatorURL)
	if err != nil {
		return nil, fmt.Errorf("simulator mode: %w", err)
	}
	logger.Warn("simulator mode: WhatsApp clients talk to the simulator, not WhatsApp", slog.String("simulator", cfg.SimulatorURL))
	return []whatsapp.Option{whatsapp.WithClientConfigurer(sim.ConfigureClient)}, nil
}

// Serve runs the app that build wires until SIGINT or SIGTERM and returns the exit code. name
// ("gateway", "hub") labels its messages. build is called once the API key is settled (a
// generated one is printed once on stdout), since the wiring captures it.
func Serve(name string, cfg *config.Config, logger *slog.Logger, stdout io.Writer, build func() fx.Option) int {
	generated, err := cfg.EnsureAPIKey()
	if err != nil {
		logger.Error("api key", log.ErrorAttr(err))
		return 1
	}
	if generated {
		// Shown once, whatever the log level, as a JSON line like every other: outside production
		// only (production requires a configured key).
		notice := slog.New(log.NewHandler(stdout, slog.LevelInfo))
		notice.Warn("generated API key: send it as "+httpserver.APIKeyHeader+"; it is kept in keyFile and not shown again",
			slog.String("notice", "generated_api_key"), slog.String("apiKey", cfg.HTTP.APIKey),
			slog.String("keyFile", filepath.Join(cfg.DataDir(), config.APIKeyFile)))
	}
	if err := cfg.EnsureCloudKey(); err != nil {
		logger.Error("whatsapp_cloud encryption key", log.ErrorAttr(err))
		return 1
	}
	bus.RouteRedisLogs(logger)
	memlimit.Apply(cfg.Memory, logger)
	if len(cfg.Unused) > 0 {
		logger.Warn("ignoring browser-only settings of the seed gateway", slog.Any("variables", cfg.Unused))
	}

	var srv *httpserver.Server
	var database *db.DB
	var messageBus *bus.Bus
	fxApp := fx.New(build(), fx.Populate(&srv, &database, &messageBus))
	if err := fxApp.Err(); err != nil {
		logger.Error("wire "+name, log.ErrorAttr(err))
		return 1
	}
	startCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := fxApp.Start(startCtx); err != nil {
		logger.Error("start "+name, log.ErrorAttr(err))
		return 1
	}
	transport := "in-process"
	if !messageBus.InProcess() {
		transport = "redis-streams"
	}
	logger.Info("28web "+name+" listening", slog.String("url", "http://"+srv.Addr()), slog.String("docs", "http://"+srv.Addr()+"/docs"),
		slog.String("database", string(database.Dialect())), slog.String("bus", transport))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	logger.Info("shutting down")
	stopCtx, stopCancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout+cfg.Bus.CloseTimeout)
	defer stopCancel()
	if err := fxApp.Stop(stopCtx); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("stop "+name, log.ErrorAttr(err))
		return 1
	}
	return 0
}

// Healthcheck probes GET /health of a gateway on this host's configured port, for container
// health checks in an image without a shell or curl.
func Healthcheck(cfg *config.Config, stderr io.Writer) int {
	host := cfg.HTTP.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort(host, strconv.Itoa(cfg.HTTP.Port)) + "/health")
	if err != nil {
		fmt.Fprintln(stderr, "unhealthy:", err)
		return 1
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "unhealthy: status", resp.StatusCode)
		return 1
	}
	return 0
}
