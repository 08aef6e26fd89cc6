package wasim

import (
	"context"
	"sync"

	groupRecord "go.mau.fi/libsignal/groups/state/record"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/serialize"
	"go.mau.fi/libsignal/state/record"
	"go.mau.fi/libsignal/state/store"
)

var signalSerializer = serialize.NewProtoBufSerializer()

// memSignalStore is the phone's Signal state. Sessions are kept serialised so that a failed
// decryption never leaves a half-updated record behind, as with a database.
type memSignalStore struct {
	mu         sync.Mutex
	identity   *identity.KeyPair
	regID      uint32
	sessions   map[string][]byte
	preKeys    map[uint32]*record.PreKey
	signed     map[uint32]*record.SignedPreKey
	identities map[string][32]byte
	senderKeys map[string][]byte
}

var _ store.SignalProtocol = (*memSignalStore)(nil)

func newMemSignalStore(id *identity.KeyPair, regID uint32) *memSignalStore {
	return &memSignalStore{
		identity: id, regID: regID,
		sessions:   make(map[string][]byte),
		preKeys:    make(map[uint32]*record.PreKey),
		signed:     make(map[uint32]*record.SignedPreKey),
		identities: make(map[string][32]byte),
		senderKeys: make(map[string][]byte),
	}
}

func (m *memSignalStore) GetIdentityKeyPair() *identity.KeyPair { return m.identity }
func (m *memSignalStore) GetLocalRegistrationID() uint32        { return m.regID }

func (m *memSignalStore) SaveIdentity(_ context.Context, a *protocol.SignalAddress, k *identity.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.identities[a.String()] = k.PublicKey().PublicKey()
	return nil
}

// IsTrustedIdentity trusts on first use and accepts changes, like a phone that shows a
// "security code changed" notice instead of refusing.
func (m *memSignalStore) IsTrustedIdentity(context.Context, *protocol.SignalAddress, *identity.Key) (bool, error) {
	return true, nil
}

func (m *memSignalStore) LoadPreKey(_ context.Context, id uint32) (*record.PreKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.preKeys[id], nil
}

func (m *memSignalStore) StorePreKey(_ context.Context, id uint32, r *record.PreKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.preKeys[id] = r
	return nil
}

func (m *memSignalStore) ContainsPreKey(_ context.Context, id uint32) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.preKeys[id]
	return ok, nil
}

func (m *memSignalStore) RemovePreKey(_ context.Context, id uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.preKeys, id)
	return nil
}

func (m *memSignalStore) LoadSession(_ context.Context, a *protocol.SignalAddress) (*record.Session, error) {
	m.mu.Lock()
	raw, ok := m.sessions[a.String()]
	m.mu.Unlock()
	if !ok {
		return record.NewSession(signalSerializer.Session, signalSerializer.State), nil
	}
	return record.NewSessionFromBytes(raw, signalSerializer.Session, signalSerializer.State)
}

func (m *memSignalStore) GetSubDeviceSessions(_ context.Context, name string) ([]uint32, error) {
	return nil, nil
}

func (m *memSignalStore) StoreSession(_ context.Context, a *protocol.SignalAddress, r *record.Session) error {
	raw := r.Serialize()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[a.String()] = raw
	return nil
}

func (m *memSignalStore) ContainsSession(_ context.Context, a *protocol.SignalAddress) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.sessions[a.String()]
	return ok, nil
}

func (m *memSignalStore) DeleteSession(_ context.Context, a *protocol.SignalAddress) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, a.String())
	return nil
}

func (m *memSignalStore) DeleteAllSessions(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions = make(map[string][]byte)
	return nil
}

func (m *memSignalStore) LoadSignedPreKey(_ context.Context, id uint32) (*record.SignedPreKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.signed[id], nil
}

func (m *memSignalStore) LoadSignedPreKeys(context.Context) ([]*record.SignedPreKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*record.SignedPreKey, 0, len(m.signed))
	for _, r := range m.signed {
		out = append(out, r)
	}
	return out, nil
}

func (m *memSignalStore) StoreSignedPreKey(_ context.Context, id uint32, r *record.SignedPreKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.signed[id] = r
	return nil
}

func (m *memSignalStore) ContainsSignedPreKey(_ context.Context, id uint32) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.signed[id]
	return ok, nil
}

func (m *memSignalStore) RemoveSignedPreKey(_ context.Context, id uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.signed, id)
	return nil
}

func (m *memSignalStore) StoreSenderKey(_ context.Context, n *protocol.SenderKeyName, r *groupRecord.SenderKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.senderKeys[n.GroupID()+"|"+n.Sender().String()] = r.Serialize()
	return nil
}

func (m *memSignalStore) LoadSenderKey(_ context.Context, n *protocol.SenderKeyName) (*groupRecord.SenderKey, error) {
	m.mu.Lock()
	raw, ok := m.senderKeys[n.GroupID()+"|"+n.Sender().String()]
	m.mu.Unlock()
	if !ok {
		return groupRecord.NewSenderKey(signalSerializer.SenderKeyRecord, signalSerializer.SenderKeyState), nil
	}
	return groupRecord.NewSenderKeyFromBytes(raw, signalSerializer.SenderKeyRecord, signalSerializer.SenderKeyState)
}
