package db

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config selects and tunes the database. cmd/internal/config maps DATABASE_URL to URL and
// composes this struct under the key "db".
type Config struct {
	// URL is a PostgreSQL connection URL (postgres:// or postgresql://). Optional: empty selects
	// the embedded SQLite database in DataDir.
	URL string `koanf:"url"`
	// DataDir holds the SQLite file (DataDir/gateway.db). Required when URL is empty; created if
	// missing.
	DataDir string `koanf:"data_dir"`
	// MaxOpenConns bounds the pool (bun and whatsmeow share it). Optional, default 20.
	MaxOpenConns int `koanf:"max_open_conns"`
	// MaxIdleConns is how many idle connections the pool keeps. Optional, default MaxOpenConns:
	// a smaller idle pool closes connections a burst opened, and the next burst reconnects
	// (a PostgreSQL backend fork each); ConnMaxIdleTime still closes the ones left unused.
	MaxIdleConns int `koanf:"max_idle_conns"`
	// ConnMaxIdleTime closes connections idle for longer. Optional, default 5m.
	ConnMaxIdleTime time.Duration `koanf:"conn_max_idle_time"`
}

// SQLiteFileName is the database file inside Config.DataDir.
const SQLiteFileName = "gateway.db"

// SetDefaults fills the optional pool settings left at zero. It does not touch URL or DataDir:
// which database to use is the operator's decision.
func (c *Config) SetDefaults() {
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = 20
	}
	if c.MaxIdleConns == 0 {
		c.MaxIdleConns = c.MaxOpenConns
	}
	if c.ConnMaxIdleTime == 0 {
		c.ConnMaxIdleTime = 5 * time.Minute
	}
}

// Validate reports every problem in c at once.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		if c.DataDir == "" {
			errs = append(errs, errors.New("db: data_dir is required when url is empty (SQLite)"))
		}
	} else if _, err := c.dialect(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxOpenConns < 0 {
		errs = append(errs, fmt.Errorf("db: max_open_conns must not be negative, got %d", c.MaxOpenConns))
	}
	if c.URL != "" && c.MaxOpenConns == 1 {
		// Migrate holds one connection for its advisory lock while migrating on another.
		errs = append(errs, errors.New("db: max_open_conns must be at least 2 on PostgreSQL"))
	}
	if c.MaxIdleConns < 0 {
		errs = append(errs, fmt.Errorf("db: max_idle_conns must not be negative, got %d", c.MaxIdleConns))
	}
	if c.ConnMaxIdleTime < 0 {
		errs = append(errs, fmt.Errorf("db: conn_max_idle_time must not be negative, got %s", c.ConnMaxIdleTime))
	}
	return errors.Join(errs...)
}

// dialect derives the database kind from URL.
func (c Config) dialect() (Dialect, error) {
	if c.URL == "" {
		return SQLite, nil
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Parse errors quote the whole URL, password included: keep only the reason.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return "", fmt.Errorf("db: url does not parse: %w", err)
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		return Postgres, nil
	default:
		return "", fmt.Errorf("db: url scheme %q is not supported (want postgres:// or postgresql://, or no url for SQLite)", u.Scheme)
	}
}
