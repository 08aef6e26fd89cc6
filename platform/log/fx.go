package log

import (
	"log/slog"
	"os"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
)

// Module provides the process logger (JSON on stdout) from a Config and routes fx's own events
// through it at debug level, so start-up noise stays out of info logs.
var Module = fx.Module("log",
	fx.Provide(func(cfg Config) (*slog.Logger, error) { return New(os.Stdout, cfg) }),
)

// FxLogger is the fx.WithLogger option that sends fx's events to the slog logger.
var FxLogger = fx.WithLogger(func(l *slog.Logger) fxevent.Logger {
	fl := &fxevent.SlogLogger{Logger: l}
	fl.UseLogLevel(slog.LevelDebug)
	return fl
})
