package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"go.mau.fi/util/dbutil"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	"github.com/28web/hub/platform/db"
)

// Bounds of the per-device store cache. Sessions are the big entries (a Signal session record
// is a few KB); identities and tokens are small.
const (
	storeCacheSessions   = 32
	storeCacheIdentities = 256
	storeCachePrivacy    = 256
	// privacyTTL bounds how long a privacy-token answer is reused: a token stored under the
	// contact's LID can start answering for the phone number once a LID mapping arrives, which
	// this cache does not see.
	privacyTTL = time.Minute
)

// cachedStore is whatsmeow's SQL store for one device, minus the round trips that change nothing.
// whatsmeow reads and rewrites the same rows on every message it encrypts: the contact's
// identity key (read and upserted per recipient device), the Signal sessions (read, then written
// in a transaction), the privacy token and the NCT salt. That was about ten statements per sent
// message; with this cache it is one, the upsert of the sessions that changed.
//
// It is a write-through cache: every write still goes to the database first, and the cache only
// remembers what the database is known to hold. Only this device's store writes these rows, so
// the cache stays true, with three precautions:
//   - while one of whatsmeow's decryption transactions is open nothing is cached, entries it
//     writes are dropped, and its end invalidates reads that overlapped it (it may roll back, and
//     until it commits others read the old rows);
//   - a read that overlapped a write is not cached (a generation counter tells);
//   - deletes and the PN→LID migration drop what they touch, before and after.
type cachedStore struct {
	*sqlstore.SQLStore
	db *dbutil.Database
	// puts writes sessions of every device together (outside whatsmeow's transactions).
	puts *db.Batcher[sessionPut]

	mu sync.Mutex
	// gen counts writes and invalidations; a read caches its answer only if gen did not move.
	gen uint64
	// openTxns counts whatsmeow decryption transactions in progress; nothing is cached meanwhile.
	openTxns   int
	identities map[string][32]byte
	sessions   map[string][]byte
	privacy    map[types.JID]cachedPrivacy
	salt       []byte
	saltKnown  bool
}

type cachedPrivacy struct {
	token   *store.PrivacyToken // nil: the database holds none
	expires time.Time
}

// storeCaching installs cachedStore on whatsmeow devices.
type storeCaching struct {
	wm   *DeviceStore
	puts *db.Batcher[sessionPut]
}

func newStoreCaching(wm *DeviceStore) storeCaching {
	c := storeCaching{wm: wm}
	if wm != nil {
		c.puts = &db.Batcher[sessionPut]{Exec: func(ctx context.Context, puts []sessionPut) error {
			return upsertSessions(ctx, wm.DB, puts)
		}}
	}
	return c
}

// sessionPut is one device's sessions to store.
type sessionPut struct {
	device   string
	sessions map[string][]byte
}

// upsertSessions writes the sessions of several devices in one statement. When two puts hold
// the same session the later one wins, as it would have run later.
func upsertSessions(ctx context.Context, d *dbutil.Database, puts []sessionPut) error {
	type key struct{ device, address string }
	latest := make(map[key][]byte)
	var order []key
	for _, p := range puts {
		for a, sess := range p.sessions {
			k := key{p.device, a}
			if _, seen := latest[k]; !seen {
				order = append(order, k)
			}
			latest[k] = sess
		}
	}
	if len(order) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(order))
	values := make([]string, 0, len(order))
	for _, k := range order {
		n := len(args)
		values = append(values, fmt.Sprintf("($%d, $%d, $%d)", n+1, n+2, n+3))
		args = append(args, k.device, k.address, latest[k])
	}
	query := `INSERT INTO whatsmeow_sessions (our_jid, their_id, session) VALUES ` + strings.Join(values, ", ") +
		` ON CONFLICT (our_jid, their_id) DO UPDATE SET session=excluded.session`
	if _, err := d.Exec(ctx, query, args...); err != nil {
		return fmt.Errorf("store %d signal sessions: %w", len(order), err)
	}
	return nil
}

// wrap makes dev use the cache: now if the device is already paired, else as soon as pairing
// stores it (whatsmeow gives a new device its SQL store in PutDevice).
func (c storeCaching) wrap(dev *store.Device) {
	if c.wm == nil {
		return
	}
	if sqls, ok := dev.Identities.(*sqlstore.SQLStore); ok {
		dev.SetAllStores(c.newCachedStore(sqls))
		return
	}
	if !dev.Initialized {
		dev.Container = &cachingContainer{DeviceContainer: dev.Container, caching: c}
	}
}

// cachingContainer wraps the store whatsmeow assigns to a device when pairing saves it first.
type cachingContainer struct {
	store.DeviceContainer
	caching storeCaching
}

func (c *cachingContainer) PutDevice(ctx context.Context, dev *store.Device) error {
	err := c.DeviceContainer.PutDevice(ctx, dev)
	if sqls, ok := dev.Identities.(*sqlstore.SQLStore); ok {
		dev.SetAllStores(c.caching.newCachedStore(sqls))
	}
	return err
}

func (c storeCaching) newCachedStore(s *sqlstore.SQLStore) *cachedStore {
	return &cachedStore{SQLStore: s, db: c.wm.DB, puts: c.puts}
}

// invalidate moves the generation and runs drop (which deletes what a write touches).
func (c *cachedStore) invalidate(drop func()) {
	c.mu.Lock()
	c.gen++
	if drop != nil {
		drop()
	}
	c.mu.Unlock()
}

// read returns the generation a read starts at.
func (c *cachedStore) read() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// fill caches what a read that started at gen found, unless a write or a transaction
// overlapped it.
func (c *cachedStore) fill(gen uint64, set func()) {
	c.mu.Lock()
	if c.gen == gen && c.openTxns == 0 {
		set()
	}
	c.mu.Unlock()
}

// wrote caches what a write stored, outside transactions; it moves the generation so that a
// read which overlapped the write does not cache the older value after this.
func (c *cachedStore) wrote(set func()) {
	c.mu.Lock()
	c.gen++
	if c.openTxns == 0 {
		set()
	}
	c.mu.Unlock()
}

// DoDecryptionTxn brackets whatsmeow's decryption transaction (session update plus buffered
// plaintext, committed together) so that nothing it touched is cached before it ends.
func (c *cachedStore) DoDecryptionTxn(ctx context.Context, fn func(context.Context) error) error {
	c.mu.Lock()
	c.openTxns++
	c.gen++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.openTxns--
		c.gen++
		c.mu.Unlock()
	}()
	return c.SQLStore.DoDecryptionTxn(ctx, fn)
}

// --- identities ---

func (c *cachedStore) IsTrustedIdentity(ctx context.Context, address string, key [32]byte) (bool, error) {
	c.mu.Lock()
	known, ok := c.identities[address]
	c.mu.Unlock()
	if ok {
		return known == key, nil
	}
	gen := c.read()
	var stored []byte
	err := c.db.QueryRow(ctx, `SELECT identity FROM whatsmeow_identity_keys WHERE our_jid=$1 AND their_id=$2`, c.JID, address).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil // unknown identities are trusted; whatsmeow saves them next
	}
	if err != nil {
		return false, err
	}
	if len(stored) != 32 {
		return false, fmt.Errorf("identity of %s: %w", address, sqlstore.ErrInvalidLength)
	}
	k := [32]byte(stored)
	c.fill(gen, func() { c.identities = putBounded(c.identities, address, k, storeCacheIdentities) })
	return k == key, nil
}

func (c *cachedStore) PutIdentity(ctx context.Context, address string, key [32]byte) error {
	c.mu.Lock()
	known, ok := c.identities[address]
	c.mu.Unlock()
	if ok && known == key {
		return nil // libsignal saves the identity on every encrypt; it rarely changes
	}
	c.invalidate(func() { delete(c.identities, address) })
	if err := c.SQLStore.PutIdentity(ctx, address, key); err != nil {
		return err
	}
	c.wrote(func() { c.identities = putBounded(c.identities, address, key, storeCacheIdentities) })
	return nil
}

func (c *cachedStore) DeleteAllIdentities(ctx context.Context, phone string) error {
	drop := func() { deletePrefix(c.identities, phone+":") }
	c.invalidate(drop)
	defer c.invalidate(drop)
	return c.SQLStore.DeleteAllIdentities(ctx, phone)
}

func (c *cachedStore) DeleteIdentity(ctx context.Context, address string) error {
	drop := func() { delete(c.identities, address) }
	c.invalidate(drop)
	defer c.invalidate(drop)
	return c.SQLStore.DeleteIdentity(ctx, address)
}

// --- sessions ---

func (c *cachedStore) GetSession(ctx context.Context, address string) ([]byte, error) {
	c.mu.Lock()
	sess, ok := c.sessions[address]
	c.mu.Unlock()
	if ok {
		return sess, nil
	}
	got, err := c.GetManySessions(ctx, []string{address})
	if err != nil {
		return nil, err
	}
	return got[address], nil
}

func (c *cachedStore) HasSession(ctx context.Context, address string) (bool, error) {
	sess, err := c.GetSession(ctx, address)
	return sess != nil, err
}

func (c *cachedStore) GetManySessions(ctx context.Context, addresses []string) (map[string][]byte, error) {
	if len(addresses) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(addresses))
	var missing []string
	c.mu.Lock()
	gen := c.gen
	for _, a := range addresses {
		if sess, ok := c.sessions[a]; ok {
			out[a] = sess
		} else {
			missing = append(missing, a)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	got, err := c.SQLStore.GetManySessions(ctx, missing)
	if err != nil {
		return nil, err
	}
	maps.Copy(out, got)
	c.fill(gen, func() {
		for a, sess := range got {
			if sess != nil {
				c.sessions = putBounded(c.sessions, a, sess, storeCacheSessions)
			}
		}
	})
	return out, nil
}

func (c *cachedStore) PutSession(ctx context.Context, address string, session []byte) error {
	return c.PutManySessions(ctx, map[string][]byte{address: session})
}

// PutManySessions writes every session in one statement (whatsmeow's own runs one upsert per
// session inside a transaction: four round trips for an ordinary message instead of one), and
// outside a transaction shares that statement with the other devices' concurrent writes.
func (c *cachedStore) PutManySessions(ctx context.Context, sessions map[string][]byte) error {
	if len(sessions) == 0 {
		return nil
	}
	c.invalidate(func() {
		for a := range sessions {
			delete(c.sessions, a)
		}
	})
	put := sessionPut{device: c.JID, sessions: sessions}
	var err error
	if _, inTxn := c.db.Execable(ctx).(dbutil.Transaction); inTxn {
		err = upsertSessions(ctx, c.db, []sessionPut{put})
	} else {
		err = c.puts.Do(ctx, put)
	}
	if err != nil {
		return err
	}
	c.wrote(func() {
		for a, sess := range sessions {
			c.sessions = putBounded(c.sessions, a, sess, storeCacheSessions)
		}
	})
	return nil
}

func (c *cachedStore) DeleteAllSessions(ctx context.Context, phone string) error {
	drop := func() { deletePrefix(c.sessions, phone+":") }
	c.invalidate(drop)
	defer c.invalidate(drop)
	return c.SQLStore.DeleteAllSessions(ctx, phone)
}

func (c *cachedStore) DeleteSession(ctx context.Context, address string) error {
	drop := func() { delete(c.sessions, address) }
	c.invalidate(drop)
	defer c.invalidate(drop)
	return c.SQLStore.DeleteSession(ctx, address)
}

// MigratePNToLID moves a contact's sessions and identities to its LID address: both caches
// are dropped whole, before and after.
func (c *cachedStore) MigratePNToLID(ctx context.Context, pn, lid types.JID) error {
	c.invalidate(c.dropSignal)
	err := c.SQLStore.MigratePNToLID(ctx, pn, lid)
	c.invalidate(c.dropSignal)
	return err
}

func (c *cachedStore) dropSignal() {
	clear(c.sessions)
	clear(c.identities)
}

// --- privacy tokens ---

func (c *cachedStore) GetPrivacyToken(ctx context.Context, user types.JID) (*store.PrivacyToken, error) {
	key := user.ToNonAD()
	now := time.Now()
	c.mu.Lock()
	e, ok := c.privacy[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return copyToken(e.token), nil
	}
	tok, err := c.SQLStore.GetPrivacyToken(ctx, user)
	if err != nil {
		return nil, err
	}
	c.fill(gen, func() {
		c.privacy = putBounded(c.privacy, key, cachedPrivacy{token: copyToken(tok), expires: now.Add(privacyTTL)}, storeCachePrivacy)
	})
	return tok, nil
}

func (c *cachedStore) PutPrivacyTokens(ctx context.Context, tokens ...store.PrivacyToken) error {
	c.invalidate(c.dropPrivacy)
	defer c.invalidate(c.dropPrivacy)
	return c.SQLStore.PutPrivacyTokens(ctx, tokens...)
}

func (c *cachedStore) DeleteExpiredPrivacyTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	c.invalidate(c.dropPrivacy)
	defer c.invalidate(c.dropPrivacy)
	return c.SQLStore.DeleteExpiredPrivacyTokens(ctx, cutoff)
}

func (c *cachedStore) dropPrivacy() { clear(c.privacy) }

func copyToken(t *store.PrivacyToken) *store.PrivacyToken {
	if t == nil {
		return nil
	}
	cp := *t
	return &cp
}

// --- NCT salt ---

func (c *cachedStore) GetNCTSalt(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	salt, known, gen := c.salt, c.saltKnown, c.gen
	c.mu.Unlock()
	if known {
		return salt, nil
	}
	salt, err := c.SQLStore.GetNCTSalt(ctx)
	if err != nil {
		return nil, err
	}
	c.fill(gen, func() { c.salt, c.saltKnown = salt, true })
	return salt, nil
}

func (c *cachedStore) PutNCTSalt(ctx context.Context, salt []byte) error {
	c.invalidate(c.dropSalt)
	defer c.invalidate(c.dropSalt)
	return c.SQLStore.PutNCTSalt(ctx, salt)
}

func (c *cachedStore) DeleteNCTSalt(ctx context.Context) error {
	c.invalidate(c.dropSalt)
	defer c.invalidate(c.dropSalt)
	return c.SQLStore.DeleteNCTSalt(ctx)
}

func (c *cachedStore) dropSalt() { c.salt, c.saltKnown = nil, false }

// putBounded sets m[k] = v, allocating m lazily (idle sessions pay nothing) and emptying it when
// it is full: a miss costs one query, and a working set that fits stays cached.
func putBounded[K comparable, V any](m map[K]V, k K, v V, limit int) map[K]V {
	if m == nil {
		m = make(map[K]V)
	}
	if _, ok := m[k]; !ok && len(m) >= limit {
		clear(m)
	}
	m[k] = v
	return m
}

func deletePrefix[V any](m map[string]V, prefix string) {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			delete(m, k)
		}
	}
}
