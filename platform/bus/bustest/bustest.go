// Package bustest gives tests bus configurations for both transports: in-process, and Redis
// Streams on TEST_REDIS_URL under a namespace of their own, whose streams are deleted afterwards.
package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/28web/hub/platform/bus"
)

// EnvRedisURL names the variable holding the Redis URL tests use. Empty: Redis tests are skipped.
// Set but unreachable: they fail.
const EnvRedisURL = "TEST_REDIS_URL"

// Config is a configuration tuned for tests: quick retries and quick redelivery.
func Config() bus.Config {
	return bus.Config{
		ClaimInterval: 100 * time.Millisecond,
		MaxIdleTime:   2 * time.Second,
		CloseTimeout:  5 * time.Second,
		Retry: bus.RetryConfig{MaxRetries: 2, InitialInterval: 10 * time.Millisecond,
			MaxInterval: 50 * time.Millisecond, Multiplier: 2},
	}
}

// Redis returns Config on TEST_REDIS_URL in a fresh namespace, deleting the namespace's streams at
// cleanup. It skips the test when the variable is empty and fails it when Redis is unreachable.
func Redis(t testing.TB) bus.Config {
	t.Helper()
	url := os.Getenv(EnvRedisURL)
	if url == "" {
		t.Skipf("%s is not set", EnvRedisURL)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvRedisURL, err)
	}
	admin := redis.NewClient(opts)
	if err := admin.Ping(t.Context()).Err(); err != nil {
		_ = admin.Close()
		t.Fatalf("redis at %s unreachable: %v", EnvRedisURL, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	ns := "test." + hex.EncodeToString(b) + "."
	t.Cleanup(func() {
		defer func() { _ = admin.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys, err := admin.Keys(ctx, ns+"*").Result()
		if err == nil && len(keys) > 0 {
			err = admin.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("clean up redis namespace %s: %v", ns, err)
		}
	})
	cfg := Config()
	cfg.RedisURL, cfg.Namespace = url, ns
	return cfg
}

// Each runs body once per transport: "inprocess" and "redis".
func Each(t *testing.T, body func(t *testing.T, cfg bus.Config)) {
	t.Run("inprocess", func(t *testing.T) { body(t, Config()) })
	t.Run("redis", func(t *testing.T) { body(t, Redis(t)) })
}
