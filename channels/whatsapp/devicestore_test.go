package whatsapp

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	waAdv "go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"

	"github.com/28web/hub/migrations"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/db/dbtest"
)

// pairedDevice stores a device as pairing would and returns it with the store cache installed
// the way the provider installs it (through the container, on first save).
func pairedDevice(t *testing.T, wm *DeviceStore, caching storeCaching, user string) *store.Device {
	t.Helper()
	dev := wm.NewDevice()
	caching.wrap(dev)
	jid := types.NewADJID(user, 0, 7)
	dev.ID = &jid
	dev.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte{1}, AccountSignature: make([]byte, 64),
		AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
	require.NoError(t, dev.Save(t.Context()))
	_, cached := dev.Sessions.(*cachedStore)
	require.True(t, cached, "pairing installs the cache")
	return dev
}

func TestCachedStoreStaysTrueToTheDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := t.Context()
		wm, err := OpenDeviceStore(ctx, d, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		caching := newStoreCaching(wm)
		dev := pairedDevice(t, wm, caching, "15550001111")
		cs := dev.Sessions.(*cachedStore)
		raw := cs.SQLStore // the database, without the cache

		// Identities: saved once, then served and compared from memory.
		k1, k2 := [32]byte{1}, [32]byte{2}
		require.NoError(t, dev.Identities.PutIdentity(ctx, "peer:1", k1))
		trusted, err := dev.Identities.IsTrustedIdentity(ctx, "peer:1", k1)
		require.NoError(t, err)
		require.True(t, trusted)
		trusted, err = dev.Identities.IsTrustedIdentity(ctx, "peer:1", k2)
		require.NoError(t, err)
		require.False(t, trusted, "a changed identity is not trusted")
		require.NoError(t, dev.Identities.PutIdentity(ctx, "peer:1", k2))
		trusted, err = raw.IsTrustedIdentity(ctx, "peer:1", k2)
		require.NoError(t, err)
		require.True(t, trusted, "a changed identity reaches the database")
		require.NoError(t, dev.Identities.DeleteIdentity(ctx, "peer:1"))
		trusted, err = dev.Identities.IsTrustedIdentity(ctx, "peer:1", k1)
		require.NoError(t, err)
		require.True(t, trusted, "deleted: unknown again, so trusted")

		// Sessions: written through, read from memory.
		require.NoError(t, dev.Sessions.PutManySessions(ctx, map[string][]byte{"peer:1": []byte("a1"), "peer:2": []byte("b1")}))
		got, err := raw.GetManySessions(ctx, []string{"peer:1", "peer:2"})
		require.NoError(t, err)
		require.Equal(t, map[string][]byte{"peer:1": []byte("a1"), "peer:2": []byte("b1")}, got)
		got, err = dev.Sessions.GetManySessions(ctx, []string{"peer:1", "peer:2", "peer:3"})
		require.NoError(t, err)
		require.Equal(t, map[string][]byte{"peer:1": []byte("a1"), "peer:2": []byte("b1"), "peer:3": nil}, got)

		// A decryption transaction that rolls back leaves nothing of its writes behind.
		boom := errors.New("decryption failed")
		err = dev.EventBuffer.DoDecryptionTxn(ctx, func(ctx context.Context) error {
			require.NoError(t, dev.Sessions.PutSession(ctx, "peer:1", []byte("a2")))
			sess, err := dev.Sessions.GetSession(ctx, "peer:1")
			require.NoError(t, err)
			require.Equal(t, []byte("a2"), sess, "the transaction reads its own write")
			return boom
		})
		require.ErrorIs(t, err, boom)
		sess, err := dev.Sessions.GetSession(ctx, "peer:1")
		require.NoError(t, err)
		require.Equal(t, []byte("a1"), sess, "rolled back: the old session")

		// One that commits is seen after it.
		require.NoError(t, dev.EventBuffer.DoDecryptionTxn(ctx, func(ctx context.Context) error {
			return dev.Sessions.PutSession(ctx, "peer:1", []byte("a3"))
		}))
		sess, err = dev.Sessions.GetSession(ctx, "peer:1")
		require.NoError(t, err)
		require.Equal(t, []byte("a3"), sess)

		require.NoError(t, dev.Sessions.DeleteAllSessions(ctx, "peer"))
		has, err := dev.Sessions.HasSession(ctx, "peer:2")
		require.NoError(t, err)
		require.False(t, has, "deleted sessions are gone from the cache too")

		// Salt and privacy tokens: cached, and replaced by writes.
		require.NoError(t, dev.NCTSalt.PutNCTSalt(ctx, []byte("salt-1")))
		salt, err := dev.NCTSalt.GetNCTSalt(ctx)
		require.NoError(t, err)
		require.Equal(t, []byte("salt-1"), salt)
		require.NoError(t, dev.NCTSalt.PutNCTSalt(ctx, []byte("salt-2")))
		salt, err = dev.NCTSalt.GetNCTSalt(ctx)
		require.NoError(t, err)
		require.Equal(t, []byte("salt-2"), salt)
		peer := types.NewJID("15550002222", types.DefaultUserServer)
		tok, err := dev.PrivacyTokens.GetPrivacyToken(ctx, peer)
		require.NoError(t, err)
		require.Nil(t, tok)
		require.NoError(t, dev.PrivacyTokens.PutPrivacyTokens(ctx, store.PrivacyToken{User: peer, Token: []byte("tok")}))
		tok, err = dev.PrivacyTokens.GetPrivacyToken(ctx, peer)
		require.NoError(t, err)
		require.NotNil(t, tok, "a stored token is not hidden by a cached absence")
		require.Equal(t, []byte("tok"), tok.Token)
	}, migrations.Whatsapp)
}

func TestSessionWritesOfSeveralDevicesShareAStatement(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := t.Context()
		wm, err := OpenDeviceStore(ctx, d, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		a := pairedDevice(t, wm, newStoreCaching(wm), "15550003333")
		b := pairedDevice(t, wm, newStoreCaching(wm), "15550004444")
		require.NoError(t, upsertSessions(ctx, wm.DB, []sessionPut{
			{device: a.ID.String(), sessions: map[string][]byte{"peer:1": []byte("old"), "peer:2": []byte("x")}},
			{device: b.ID.String(), sessions: map[string][]byte{"peer:1": []byte("b")}},
			{device: a.ID.String(), sessions: map[string][]byte{"peer:1": []byte("new")}},
		}))
		raw := a.Sessions.(*cachedStore).SQLStore
		got, err := raw.GetManySessions(ctx, []string{"peer:1", "peer:2"})
		require.NoError(t, err)
		require.Equal(t, map[string][]byte{"peer:1": []byte("new"), "peer:2": []byte("x")}, got, "the later put wins")
		got, err = b.Sessions.(*cachedStore).SQLStore.GetManySessions(ctx, []string{"peer:1"})
		require.NoError(t, err)
		require.Equal(t, []byte("b"), got["peer:1"])
	}, migrations.Whatsapp)
}
