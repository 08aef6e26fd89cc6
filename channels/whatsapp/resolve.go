package whatsapp

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/28web/hub/channels/core"
)

const (
	// resolveCacheSize bounds the numbers remembered; past it half are dropped.
	resolveCacheSize = 50_000
	// resolveTTL is how long a positive IsOnWhatsApp answer is trusted. Negative answers are not
	// cached: a number may register at any time.
	resolveTTL = 24 * time.Hour
)

// resolveCache maps normalised numbers to the JID WhatsApp answered for them. Safe for
// concurrent use; shared by every session, since registration is global.
type resolveCache struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	entries map[string]resolved
}

type resolved struct {
	jid     types.JID
	expires time.Time
}

func newResolveCache(maxEntries int, ttl time.Duration) *resolveCache {
	return &resolveCache{max: maxEntries, ttl: ttl, entries: map[string]resolved{}}
}

func (c *resolveCache) get(number string) (types.JID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[number]
	if !ok || time.Now().After(e.expires) {
		return types.EmptyJID, false
	}
	return e.jid, true
}

func (c *resolveCache) put(number string, jid types.JID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Drop half, in map order (random): a cache miss costs one lookup, and halving
		// amortises the eviction instead of paying it on every insert.
		for k := range c.entries {
			if len(c.entries) < c.max/2 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[number] = resolved{jid: jid, expires: time.Now().Add(c.ttl)}
}

var _ core.MessageIDGenerator = (*Provider)(nil)

// NewMessageID implements core.MessageIDGenerator: ids in WhatsApp Web's shape (3EB0 and upper
// hex), assigned by the send pipeline before the first attempt so that retries reuse them.
func (p *Provider) NewMessageID() core.MessageID {
	b := make([]byte, 9)
	_, _ = rand.Read(b) // crypto/rand never fails since Go 1.24
	return core.MessageID(whatsmeow.WebMessageIDPrefix + strings.ToUpper(hex.EncodeToString(b)))
}
