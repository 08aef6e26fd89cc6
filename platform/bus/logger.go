package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/redis/go-redis/v9"
)

// quietCancel logs, at debug, the errors watermill reports at error level only because a
// subscription was closed ("read fail: context canceled" on every shutdown).
type quietCancel struct{ watermill.LoggerAdapter }

func (l quietCancel) Error(msg string, err error, fields watermill.LogFields) {
	if errors.Is(err, context.Canceled) {
		l.LoggerAdapter.Debug(msg, fields.Add(watermill.LogFields{"error": err.Error()}))
		return
	}
	l.LoggerAdapter.Error(msg, err, fields)
}

func (l quietCancel) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return quietCancel{l.LoggerAdapter.With(fields)}
}

// redisLogs carries go-redis's own messages (dial failures, pool events) to slog, at warn.
type redisLogs struct{ logger *slog.Logger }

func (l redisLogs) Printf(ctx context.Context, format string, v ...any) {
	l.logger.WarnContext(ctx, fmt.Sprintf(format, v...), slog.String("component", "redis"))
}

// RouteRedisLogs sends go-redis's messages, which it prints to stderr as plain text by default,
// to logger, so that every line a binary writes is JSON. go-redis keeps its logger process-wide:
// binaries call this once at start, tests need not.
func RouteRedisLogs(logger *slog.Logger) { redis.SetLogger(redisLogs{logger: logger}) }
