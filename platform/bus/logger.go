package bus

import (
	"context"
	"errors"

	"github.com/ThreeDotsLabs/watermill"
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
