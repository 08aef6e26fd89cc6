package store

import (
	"go.uber.org/fx"

	"github.com/28web/hub/platform/db"
)

// Module provides the *Store on the gateway's database.
var Module = fx.Module("store", fx.Provide(func(d *db.DB) *Store { return New(d.Bun()) }))
