// Package migrations embeds the SQL migrations of each module: a directory per module with a
// subdirectory per dialect ("postgres", "sqlite"), files named
// <14-digit timestamp>_<name>.tx.up.sql and .tx.down.sql (bun's migrate naming; ".tx" runs the
// file in one transaction). Statements in a file are separated by a "--bun:split" line.
// platform/db.Migrate applies a Set and records it in its own bun_migrations_<module> table.
package migrations

import (
	"embed"
	"io/fs"
)

// Set is one module's migrations.
type Set struct {
	// Name identifies the module; it becomes part of the tracking table names, so it is limited
	// to lower-case letters, digits and underscores.
	Name string
	// FS holds the files; Dir/<dialect>/ inside it holds the migrations for that dialect.
	FS  fs.FS
	Dir string
}

//go:embed core
var coreFS embed.FS

// Core holds the channel-agnostic tables: sessions, messages, contacts.
var Core = Set{Name: "core", FS: coreFS, Dir: "core"}

//go:embed whatsapp
var whatsappFS embed.FS

// Whatsapp holds the WhatsApp channel's own tables: session ↔ device mapping, received media refs.
var Whatsapp = Set{Name: "whatsapp", FS: whatsappFS, Dir: "whatsapp"}

//go:embed whatsappcloud
var whatsappCloudFS embed.FS

// WhatsappCloud holds the Cloud API channel's own tables: sealed credentials, wamid map, stored
// webhook notifications, customer windows, received media ids.
var WhatsappCloud = Set{Name: "whatsappcloud", FS: whatsappCloudFS, Dir: "whatsappcloud"}

//go:embed hubremote
var hubRemoteFS embed.FS

// HubRemote holds the hub's record of the gateway events it took in by webhook (remote mode).
var HubRemote = Set{Name: "hubremote", FS: hubRemoteFS, Dir: "hubremote"}

//go:embed webhooks
var webhooksFS embed.FS

// Webhooks holds webhook endpoints, deliveries and their attempt log.
var Webhooks = Set{Name: "webhooks", FS: webhooksFS, Dir: "webhooks"}

//go:embed outbox
var outboxFS embed.FS

// Outbox holds the transactional outbox of messages published to the bus (platform/outbox).
var Outbox = Set{Name: "outbox", FS: outboxFS, Dir: "outbox"}
