package whatsapp

import (
	"context"
	"fmt"
	"log/slog"

	waLog "go.mau.fi/whatsmeow/util/log"

	"github.com/28web/hub/channels/core"
	plog "github.com/28web/hub/platform/log"
)

// waLogger adapts a slog logger to whatsmeow's printf-style logger, for one session or (session
// empty) for the device store. It keeps no Logger.With per session: the session id is added
// only when a line is actually logged, which keeps idle sessions cheap. Sub-loggers add their
// module to a "module" attribute ("Client/Socket").
type waLogger struct {
	log     *slog.Logger
	session core.SessionID
	module  string
}

var _ waLog.Logger = (*waLogger)(nil)

func newWALogger(log *slog.Logger, session core.SessionID) waLog.Logger {
	return &waLogger{log: log, session: session}
}

func (l *waLogger) logf(level slog.Level, format string, args []any) {
	// whatsmeow logs a lot at debug: check the level before formatting.
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	var attrs []any
	if l.session != "" {
		attrs = append(attrs, slog.String(plog.SessionKey, string(l.session)))
	}
	if l.module != "" {
		attrs = append(attrs, slog.String("module", l.module))
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, args...), attrs...)
}

func (l *waLogger) Errorf(format string, args ...any) { l.logf(slog.LevelError, format, args) }
func (l *waLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelWarn, format, args) }
func (l *waLogger) Infof(format string, args ...any)  { l.logf(slog.LevelInfo, format, args) }
func (l *waLogger) Debugf(format string, args ...any) { l.logf(slog.LevelDebug, format, args) }

// Sub returns a logger for a whatsmeow module ("Client/Socket").
func (l *waLogger) Sub(module string) waLog.Logger {
	if l.module != "" {
		module = l.module + "/" + module
	}
	return &waLogger{log: l.log, session: l.session, module: module}
}
