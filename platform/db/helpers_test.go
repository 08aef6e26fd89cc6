package db_test

import (
	"io"
	"log/slog"

	"github.com/uptrace/bun"
)

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func bunIdent(name string) bun.Ident { return bun.Ident(name) }
