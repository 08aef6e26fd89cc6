package wasim

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/whatsmeow/appstate"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waServerSync"
	"go.mau.fi/whatsmeow/proto/waSyncAction"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"
	"google.golang.org/protobuf/proto"
)

// A phone owns its account's app state (settings such as the push name, contact names) as
// encrypted patches, like the real primary device: it shares the app state key with each new
// companion over Signal and the server hands the patches out (w:sync:app:state). Patches are
// built with whatsmeow's own appstate encoder, so MACs and LTHash are exactly what clients check.

type phoneAppState struct {
	mu      sync.Mutex
	keyID   []byte
	keyData []byte
	keys    *memAppStateKeys
	macs    *memAppStateMACs
	proc    *appstate.Processor
	states  map[appstate.WAPatchName]appstate.HashState
	patches map[appstate.WAPatchName][][]byte // patch i carries version i+1
}

func newPhoneAppState() *phoneAppState {
	a := &phoneAppState{
		keyID:   make([]byte, 6),
		keyData: make([]byte, 32),
		keys:    &memAppStateKeys{keys: make(map[string]store.AppStateSyncKey)},
		macs:    &memAppStateMACs{macs: make(map[string][]byte)},
		states:  make(map[appstate.WAPatchName]appstate.HashState),
		patches: make(map[appstate.WAPatchName][][]byte),
	}
	_, _ = rand.Read(a.keyID[4:])
	_, _ = rand.Read(a.keyData)
	a.keys.keys[string(a.keyID)] = store.AppStateSyncKey{Data: a.keyData, Timestamp: time.Now().UnixMilli()}
	a.proc = appstate.NewProcessor(&store.Device{AppStateKeys: a.keys, AppState: a.macs}, waLog.Noop)
	return a
}

// append encodes mutations as the next patch of a collection and returns its version.
func (a *phoneAppState) append(ctx context.Context, name appstate.WAPatchName, mutations ...appstate.MutationInfo) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	state := a.states[name]
	raw, err := a.proc.EncodePatch(ctx, a.keyID, state, appstate.PatchInfo{Type: name, Mutations: mutations})
	if err != nil {
		return 0, fmt.Errorf("encode %s patch: %w", name, err)
	}
	var patch waServerSync.SyncdPatch
	if err := proto.Unmarshal(raw, &patch); err != nil {
		return 0, fmt.Errorf("unmarshal %s patch: %w", name, err)
	}
	// The server numbers patches; the version is outside the MACed content.
	patch.Version = &waServerSync.SyncdVersion{Version: proto.Uint64(state.Version + 1)}
	// Decoding our own patch advances the hash state and records the value MACs, exactly as a
	// client will, and proves the patch verifies.
	_, newState, err := a.proc.DecodePatches(ctx, &appstate.PatchList{Name: name, Patches: []*waServerSync.SyncdPatch{&patch}}, state, true)
	if err != nil {
		return 0, fmt.Errorf("verify %s patch: %w", name, err)
	}
	if raw, err = proto.Marshal(&patch); err != nil {
		return 0, fmt.Errorf("marshal %s patch: %w", name, err)
	}
	a.states[name] = newState
	a.patches[name] = append(a.patches[name], raw)
	return newState.Version, nil
}

// collection answers one <collection name version/> of a w:sync:app:state query.
func (a *phoneAppState) collection(name string, from uint64) waBinary.Node {
	a.mu.Lock()
	defer a.mu.Unlock()
	all := a.patches[appstate.WAPatchName(name)]
	n := waBinary.Node{Tag: "collection", Attrs: waBinary.Attrs{
		"name": name, "version": len(all), "has_more_patches": false,
	}}
	if from < uint64(len(all)) {
		list := make([]waBinary.Node, 0, uint64(len(all))-from)
		for _, p := range all[from:] {
			list = append(list, waBinary.Node{Tag: "patch", Content: p})
		}
		n.Content = []waBinary.Node{{Tag: "patches", Content: list}}
	}
	return n
}

func (a *phoneAppState) keyShare() *waE2E.Message {
	return &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_APP_STATE_SYNC_KEY_SHARE.Enum(),
		AppStateSyncKeyShare: &waE2E.AppStateSyncKeyShare{Keys: []*waE2E.AppStateSyncKey{{
			KeyID: &waE2E.AppStateSyncKeyId{KeyID: a.keyID},
			KeyData: &waE2E.AppStateSyncKeyData{
				KeyData:     a.keyData,
				Fingerprint: &waE2E.AppStateSyncKeyFingerprint{RawID: proto.Uint32(1), CurrentIndex: proto.Uint32(0), DeviceIndexes: []uint32{0}},
				Timestamp:   proto.Int64(time.Now().UnixMilli()),
			},
		}}},
	}}
}

// handleAppStateSync serves w:sync:app:state from the account phone's patches.
func (s *Simulator) handleAppStateSync(c *conn, d *device, node *waBinary.Node) {
	s.mu.Lock()
	phone := d.acc.phone
	s.mu.Unlock()
	sync := node.GetChildByTag("sync")
	var out []waBinary.Node
	for _, coll := range sync.GetChildrenByTag("collection") {
		ag := coll.AttrGetter()
		name := ag.OptionalString("name")
		from := uint64(ag.OptionalInt("version"))
		if phone == nil {
			out = append(out, waBinary.Node{Tag: "collection", Attrs: waBinary.Attrs{"name": name, "version": 0}})
			continue
		}
		out = append(out, phone.app.collection(name, from))
	}
	c.send(iqResult(node, waBinary.Node{Tag: "sync", Content: out}))
}

// shareAppStateKey sends the app state key to a new companion.
func (p *Phone) shareAppStateKey(d *device) {
	if err := p.sendPeer(d, p.app.keyShare()); err != nil {
		p.sim.log.Warn("share app state key", slog.String("device", d.jid(types.DefaultUserServer).String()), slog.Any("error", err))
	}
}

// sendPeer sends a protocol message from the phone to one of its companions, the way a phone
// talks to its own devices (category=peer, one device, no DeviceSentMessage wrapping).
func (p *Phone) sendPeer(d *device, msg *waE2E.Message) error {
	ctx := context.Background()
	s := p.sim
	p.mu.Lock()
	defer p.mu.Unlock()
	var ds deliveries
	var bundle *prekey.Bundle
	hasSession, _ := p.store.ContainsSession(ctx, signalAddr(d.acc, d.id))
	s.mu.Lock()
	if !hasSession {
		bundle = bundleFromDeviceLocked(s, d, &ds)
	}
	to := d.jid(types.DefaultUserServer)
	s.mu.Unlock()
	ds.run()
	plain, err := proto.Marshal(msg)
	if err != nil {
		return fmt.Errorf("marshal: %w", err)
	}
	enc, err := p.encryptFor(ctx, d, bundle, plain, nil)
	if err != nil {
		return err
	}
	s.handleMessage(p.dev, nil, &waBinary.Node{
		Tag:     "message",
		Attrs:   waBinary.Attrs{"id": newMessageID(), "to": to, "type": "text", "category": "peer"},
		Content: []waBinary.Node{enc},
	})
	return nil
}

// appStateChanged tells the account's connected companions that a collection moved on.
func (s *Simulator) appStateChanged(a *account, name appstate.WAPatchName, version uint64) {
	var ds deliveries
	s.mu.Lock()
	for _, d := range a.devices {
		if d.id == 0 || d.state != DeviceActive || !d.keyShared {
			continue
		}
		s.enqueueLocked(d, waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
			"from": types.ServerJID, "id": s.newID(), "t": time.Now().Unix(), "type": "server_sync",
		}, Content: []waBinary.Node{{Tag: "collection", Attrs: waBinary.Attrs{"name": string(name), "version": version}}}}, &ds)
	}
	s.mu.Unlock()
	ds.run()
}

// setAppStateMutation records a mutation in the phone's app state and notifies companions.
func (p *Phone) setAppStateMutation(name appstate.WAPatchName, m appstate.MutationInfo) error {
	version, err := p.app.append(context.Background(), name, m)
	if err != nil {
		return err
	}
	p.sim.appStateChanged(p.acc, name, version)
	return nil
}

func pushNameMutation(name string) appstate.MutationInfo {
	return appstate.MutationInfo{
		Index:   []string{appstate.IndexSettingPushName},
		Version: 1,
		Value:   &waSyncAction.SyncActionValue{PushNameSetting: &waSyncAction.PushNameSetting{Name: proto.String(name)}},
	}
}

// SetContactName stores how this account's owner named a contact (app state "contact"
// mutation): companions learn it as events.Contact and in their contact store.
func (p *Phone) SetContactName(contact types.JID, firstName, fullName string) error {
	return p.setAppStateMutation(appstate.WAPatchCriticalUnblockLow, appstate.MutationInfo{
		Index:   []string{appstate.IndexContact, contact.ToNonAD().String()},
		Version: 2,
		Value: &waSyncAction.SyncActionValue{ContactAction: &waSyncAction.ContactAction{
			FirstName: proto.String(firstName), FullName: proto.String(fullName),
		}},
	})
}

// memAppStateKeys is the phone's app state key store.
type memAppStateKeys struct {
	mu   sync.Mutex
	keys map[string]store.AppStateSyncKey
}

var _ store.AppStateSyncKeyStore = (*memAppStateKeys)(nil)

func (m *memAppStateKeys) PutAppStateSyncKey(_ context.Context, id []byte, key store.AppStateSyncKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[string(id)] = key
	return nil
}

func (m *memAppStateKeys) GetAppStateSyncKey(_ context.Context, id []byte) (*store.AppStateSyncKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[string(id)]
	if !ok {
		return nil, nil
	}
	return &k, nil
}

func (m *memAppStateKeys) GetLatestAppStateSyncKeyID(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.keys {
		return []byte(id), nil
	}
	return nil, nil
}

func (m *memAppStateKeys) GetAllAppStateSyncKeys(context.Context) ([]*store.AppStateSyncKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*store.AppStateSyncKey, 0, len(m.keys))
	for _, k := range m.keys {
		out = append(out, &k)
	}
	return out, nil
}

// memAppStateMACs keeps the value MAC of every index (versions live in phoneAppState.states).
type memAppStateMACs struct {
	mu   sync.Mutex
	macs map[string][]byte // name|indexMAC -> valueMAC
}

var _ store.AppStateStore = (*memAppStateMACs)(nil)

func (m *memAppStateMACs) PutAppStateVersion(context.Context, string, uint64, [128]byte) error {
	return nil
}

func (m *memAppStateMACs) GetAppStateVersion(context.Context, string) (uint64, [128]byte, error) {
	return 0, [128]byte{}, errors.New("versions are kept by the phone")
}

func (m *memAppStateMACs) DeleteAppStateVersion(context.Context, string) error { return nil }

func (m *memAppStateMACs) PutAppStateMutationMACs(_ context.Context, name string, _ uint64, mutations []store.AppStateMutationMAC) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mm := range mutations {
		m.macs[name+"|"+string(mm.IndexMAC)] = bytes.Clone(mm.ValueMAC)
	}
	return nil
}

func (m *memAppStateMACs) DeleteAppStateMutationMACs(_ context.Context, name string, indexMACs [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, im := range indexMACs {
		delete(m.macs, name+"|"+string(im))
	}
	return nil
}

func (m *memAppStateMACs) GetAppStateMutationMAC(_ context.Context, name string, indexMAC []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.macs[name+"|"+string(indexMAC)], nil
}
