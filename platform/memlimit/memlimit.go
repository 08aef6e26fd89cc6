// Package memlimit gives the Go runtime a soft memory limit (runtime/debug.SetMemoryLimit) that
// follows the deployment: GOMEMLIMIT when the operator set it, else the configured limit, else a
// fraction of the container's cgroup memory limit.
//
// The trade-off: with a limit the garbage collector runs only as often as GOGC asks until the
// heap nears the limit, then as often as needed to stay under it. A gateway with thousands of
// idle sessions keeps a large, slowly changing heap; a fixed low GOGC would burn CPU collecting it
// long before memory is short, while no limit at all lets a burst push the process past the
// container's limit and get it killed. Near the limit the collector works harder (more CPU, never
// an OOM kill for garbage), so leave headroom: the default is 90 % of the container's limit.
package memlimit

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// Config is the section "memory".
type Config struct {
	// LimitBytes is the soft limit in bytes. Optional: 0 takes GOMEMLIMIT, or the container's
	// limit times ContainerFraction, or none.
	LimitBytes int64 `koanf:"limit_bytes"`
	// ContainerFraction is the share of the container's memory limit given to the Go heap when
	// LimitBytes is 0. Optional, default 0.9.
	ContainerFraction float64 `koanf:"container_fraction"`
}

// SetDefaults fills the optional fields left at zero.
func (c *Config) SetDefaults() {
	if c.ContainerFraction == 0 {
		c.ContainerFraction = 0.9
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.LimitBytes < 0 {
		errs = append(errs, errors.New("memory.limit_bytes must not be negative"))
	}
	if c.ContainerFraction <= 0 || c.ContainerFraction > 1 {
		errs = append(errs, errors.New("memory.container_fraction must be in (0, 1]"))
	}
	return errors.Join(errs...)
}

// Source says where a limit came from.
type Source string

const (
	SourceNone      Source = "none"
	SourceEnv       Source = "GOMEMLIMIT"
	SourceConfig    Source = "config"
	SourceContainer Source = "container"
)

// Decide picks the limit: getenv reads the environment, cgroupRoot is where the cgroup
// filesystem is mounted (/sys/fs/cgroup). A limit of 0 means none to set (SourceEnv: the runtime
// already applied GOMEMLIMIT itself).
func Decide(cfg Config, getenv func(string) string, cgroupRoot string) (int64, Source, error) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, SourceEnv, nil
	}
	if cfg.LimitBytes > 0 {
		return cfg.LimitBytes, SourceConfig, nil
	}
	container, err := containerLimit(cgroupRoot)
	if err != nil || container <= 0 {
		return 0, SourceNone, err
	}
	return int64(float64(container) * cfg.ContainerFraction), SourceContainer, nil
}

// containerLimit reads the memory limit of cgroup v2 (memory.max) or v1
// (memory/memory.limit_in_bytes); 0 when there is none.
func containerLimit(root string) (int64, error) {
	for _, name := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
		raw, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read container memory limit: %w", err)
		}
		v := strings.TrimSpace(string(raw))
		if v == "max" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("container memory limit %q: %w", v, err)
		}
		if n >= math.MaxInt64/2 {
			return 0, nil // cgroup v1 says "unlimited" with a huge number
		}
		return n, nil
	}
	return 0, nil
}

// Apply decides the limit and sets it, logging what it did.
func Apply(cfg Config, logger *slog.Logger) {
	limit, source, err := Decide(cfg, os.Getenv, "/sys/fs/cgroup")
	if err != nil {
		logger.Warn("memory limit: container limit unreadable; none set", slog.Any("error", err))
		return
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	if current := debug.SetMemoryLimit(-1); current != math.MaxInt64 {
		logger.Info("memory limit", slog.String("source", string(source)), slog.Int64("limitBytes", current))
		return
	}
	logger.Info("memory limit: none (no GOMEMLIMIT, memory.limit_bytes or container limit)")
}
