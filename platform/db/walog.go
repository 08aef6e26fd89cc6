package db

import (
	"context"
	"fmt"
	"log/slog"

	waLog "go.mau.fi/whatsmeow/util/log"
)

// NewWALogger adapts a *slog.Logger to whatsmeow's printf-style logger. Sub-loggers add their
// module to a "module" attribute ("Client/Socket"), so one session's logs stay filterable.
// The channel reuses it for its clients.
func NewWALogger(logger *slog.Logger) waLog.Logger {
	return &waLogger{logger: logger}
}

type waLogger struct {
	logger *slog.Logger
	module string
}

var _ waLog.Logger = (*waLogger)(nil)

func (l *waLogger) logf(level slog.Level, format string, args []any) {
	// Formatting is costly and whatsmeow logs a lot at debug: check the level first.
	if !l.logger.Enabled(context.Background(), level) {
		return
	}
	if l.module == "" {
		l.logger.Log(context.Background(), level, fmt.Sprintf(format, args...))
		return
	}
	l.logger.Log(context.Background(), level, fmt.Sprintf(format, args...), "module", l.module)
}

func (l *waLogger) Errorf(format string, args ...any) { l.logf(slog.LevelError, format, args) }
func (l *waLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelWarn, format, args) }
func (l *waLogger) Infof(format string, args ...any)  { l.logf(slog.LevelInfo, format, args) }
func (l *waLogger) Debugf(format string, args ...any) { l.logf(slog.LevelDebug, format, args) }

func (l *waLogger) Sub(module string) waLog.Logger {
	if l.module != "" {
		module = l.module + "/" + module
	}
	return &waLogger{logger: l.logger, module: module}
}
