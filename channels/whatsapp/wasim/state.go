package wasim

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"go.mau.fi/whatsmeow/types"
)

type account struct {
	pn       string
	lid      string
	pushName string
	status   string
	created  time.Time
	phone    *Phone
	devices  map[uint16]*device // includes the phone as device 0
	presence presenceState
	nextDev  uint16
	// peers are the accounts this one exchanged messages with: they hold Signal sessions with
	// its devices, so they are the ones told when its device list changes.
	peers map[*account]bool
}

func (a *account) pnJID() types.JID  { return types.NewJID(a.pn, types.DefaultUserServer) }
func (a *account) lidJID() types.JID { return types.NewJID(a.lid, types.HiddenUserServer) }

// userJID returns the account's user JID in the addressing form of server.
func (a *account) userJID(server string) types.JID {
	if server == types.HiddenUserServer {
		return a.lidJID()
	}
	return a.pnJID()
}

// addPeerLocked records that a exchanged messages with other. Call with the simulator's lock.
func (a *account) addPeerLocked(other *account) {
	if a.peers == nil {
		a.peers = map[*account]bool{}
	}
	a.peers[other] = true
}

// sortedDevices lists the account's live devices (phone first, removed ones skipped).
func (a *account) sortedDevices() []*device {
	out := make([]*device, 0, len(a.devices))
	for id := uint16(0); id < a.nextDev; id++ {
		if d, ok := a.devices[id]; ok && d.state == DeviceActive {
			out = append(out, d)
		}
	}
	return out
}

// DeviceState is the lifecycle state of a registered device.
type DeviceState string

// Device states.
const (
	DevicePairing DeviceState = "pairing"
	DeviceActive  DeviceState = "active"
	DeviceRemoved DeviceState = "removed"
)

type preKeyPub struct {
	id  uint32
	pub [32]byte
}

type device struct {
	acc      *account
	id       uint16
	state    DeviceState
	noisePub [32]byte
	identity [32]byte
	regID    uint32
	skeyID   uint32
	skeyPub  [32]byte
	skeySig  [64]byte
	prekeys  []preKeyPub
	platform string
	pairedAt time.Time
	lastSeen time.Time

	// keyShared is set once the phone sent this companion the app state key.
	keyShared bool

	conn   *conn // nil when offline; phones are never connected
	active bool  // the connection sent <active/>: stanzas may be pushed
	// queue holds stanzas not yet acknowledged by the device, in order; the first `sent` of them
	// were written on the current connection.
	queue []*outStanza
	sent  int
}

func (d *device) jid(server string) types.JID {
	j := d.acc.userJID(server)
	j.Device = d.id
	return j
}

// outStanza is an encoded stanza waiting for the device's <ack>.
type outStanza struct {
	key  string // ack key: tag|id|from|type
	data []byte // binary XML (waBinary.Marshal output)
}

func ackKey(tag, id string, from types.JID, typ string) string {
	return tag + "|" + id + "|" + from.String() + "|" + typ
}

// accountFor resolves a user or device JID (PN, LID, legacy c.us) to its account. Caller holds s.mu.
func (s *Simulator) accountFor(j types.JID) *account {
	switch j.Server {
	case types.HiddenUserServer, types.HostedLIDServer:
		return s.lids[j.User]
	case types.DefaultUserServer, types.LegacyUserServer, types.HostedServer:
		return s.accounts[j.User]
	}
	return nil
}

// deviceFor resolves a device JID. Caller holds s.mu.
func (s *Simulator) deviceFor(j types.JID) *device {
	a := s.accountFor(j)
	if a == nil {
		return nil
	}
	d := a.devices[j.Device]
	if d == nil || d.state != DeviceActive {
		return nil
	}
	return d
}

// ensureAccount creates the account for number if needed. Caller holds s.mu.
func (s *Simulator) ensureAccount(number string) *account {
	if a, ok := s.accounts[number]; ok {
		return a
	}
	a := &account{
		pn:      number,
		lid:     strconv.FormatUint(s.nextLID, 10),
		created: time.Now(),
		devices: make(map[uint16]*device),
		nextDev: 1,
	}
	s.nextLID++
	s.accounts[number] = a
	s.lids[a.lid] = a
	return a
}

// DeviceInfo describes one registered device.
type DeviceInfo struct {
	JID       types.JID   `json:"jid"`
	LID       types.JID   `json:"lid"`
	State     DeviceState `json:"state"`
	Phone     bool        `json:"phone"`
	Connected bool        `json:"connected"`
	Active    bool        `json:"active"`
	Queued    int         `json:"queued"`
	PreKeys   int         `json:"prekeys"`
	Platform  string      `json:"platform,omitempty"`
	PairedAt  time.Time   `json:"paired_at"`
	LastSeen  time.Time   `json:"last_seen"`
}

// Devices lists every device of every account, phones included, sorted by JID.
func (s *Simulator) Devices() []DeviceInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []DeviceInfo
	for _, a := range s.accounts {
		for id := uint16(0); id < a.nextDev; id++ {
			d, ok := a.devices[id]
			if !ok {
				continue
			}
			out = append(out, DeviceInfo{
				JID: d.jid(types.DefaultUserServer), LID: d.jid(types.HiddenUserServer),
				State: d.state, Phone: d.id == 0, Connected: d.conn != nil || d.id == 0,
				Active: d.active || d.id == 0, Queued: len(d.queue), PreKeys: len(d.prekeys),
				Platform: d.platform, PairedAt: d.pairedAt, LastSeen: d.lastSeen,
			})
		}
	}
	slices.SortFunc(out, func(a, b DeviceInfo) int {
		if c := cmp.Compare(a.JID.User, b.JID.User); c != 0 {
			return c
		}
		return cmp.Compare(a.JID.Device, b.JID.Device)
	})
	return out
}

// Device returns the state of one device (PN or LID form).
func (s *Simulator) Device(j types.JID) (DeviceInfo, bool) {
	for _, d := range s.Devices() {
		if (d.JID.User == j.User || d.LID.User == j.User) && d.JID.Device == j.Device {
			return d, true
		}
	}
	return DeviceInfo{}, false
}

// LID returns the LID user JID of a simulated number.
func (s *Simulator) LID(number string) (types.JID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[number]
	if !ok {
		return types.EmptyJID, false
	}
	return a.lidJID(), true
}
