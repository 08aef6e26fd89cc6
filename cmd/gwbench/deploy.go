package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// deployment is where a size's gateway keeps its state: the embedded default (SQLite in the
// size's directory, in-process bus) or PostgreSQL + Redis (a database made for the size, a bus
// namespace of its own).
type deployment interface {
	// gatewayEnv is the gateway's environment for it.
	gatewayEnv() []string
	// baselineArgs tell the baseline child where the whatsmeow device store is.
	baselineArgs() []string
	// namespace prefixes the gateway's bus streams (bus.namespace).
	namespace() string
	// drop removes what the size left outside its directory: its PostgreSQL database, its
	// Redis streams.
	drop(ctx context.Context) error
}

// deploymentName describes the deployment the flags select, for the report.
func deploymentName(cfg *config) string {
	if cfg.databaseURL != "" {
		bus := "in-process bus"
		if cfg.redisURL != "" {
			bus = "Redis Streams"
		}
		return "PostgreSQL + " + bus
	}
	return "SQLite + in-process bus (embedded defaults)"
}

func newDeployment(ctx context.Context, cfg *config, dir string, n int) (deployment, error) {
	ns := "gwbench." + filepath.Base(dir) + "."
	if cfg.databaseURL == "" {
		return sqliteDeployment{dataDir: filepath.Join(dir, "sessions", "data"), redisURL: cfg.redisURL, ns: ns}, nil
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := fmt.Sprintf("gwbench_%d_%s", n, hex.EncodeToString(suffix))
	conn, err := pgx.Connect(ctx, cfg.databaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redactURL(cfg.databaseURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(cfg.databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	u.Path = "/" + name
	return &postgresDeployment{admin: cfg.databaseURL, name: name, url: u.String(), redisURL: cfg.redisURL, ns: ns}, nil
}

type sqliteDeployment struct{ dataDir, redisURL, ns string }

func (d sqliteDeployment) gatewayEnv() []string {
	if d.redisURL != "" {
		return []string{"REDIS_URL=" + d.redisURL}
	}
	return nil
}
func (d sqliteDeployment) baselineArgs() []string { return []string{"-data-dir", d.dataDir} }
func (d sqliteDeployment) namespace() string      { return d.ns }
func (d sqliteDeployment) drop(ctx context.Context) error {
	return dropRedisNamespace(ctx, d.redisURL, d.ns)
}

type postgresDeployment struct{ admin, name, url, redisURL, ns string }

func (d *postgresDeployment) namespace() string { return d.ns }

func (d *postgresDeployment) gatewayEnv() []string {
	env := []string{"DATABASE_URL=" + d.url}
	if d.redisURL != "" {
		env = append(env, "REDIS_URL="+d.redisURL)
	}
	return env
}
func (d *postgresDeployment) baselineArgs() []string { return []string{"-database-url", d.url} }

func (d *postgresDeployment) drop(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redactURL(d.admin), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	return dropRedisNamespace(ctx, d.redisURL, d.ns)
}

// dropRedisNamespace deletes the streams and keys under the size's namespace.
func dropRedisNamespace(ctx context.Context, redisURL, ns string) error {
	if redisURL == "" {
		return nil
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return fmt.Errorf("redis URL: %w", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	iter := c.Scan(ctx, 0, ns+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("redis scan %s*: %w", ns, err)
	}
	if len(keys) > 0 {
		if err := c.Del(ctx, keys...).Err(); err != nil {
			return fmt.Errorf("redis del: %w", err)
		}
	}
	return nil
}

// redactURL hides a URL's password.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
