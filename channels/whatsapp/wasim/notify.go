package wasim

import (
	"crypto/sha256"
	"encoding/base64"
	"sort"
	"strings"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// participantHash is the "2:" device-list hash clients compare with the server's (phash,
// device_hash).
func participantHash(jids []types.JID) string {
	strs := make([]string, len(jids))
	for i, j := range jids {
		strs[i] = j.ADString()
	}
	sort.Strings(strs)
	sum := sha256.Sum256([]byte(strings.Join(strs, "")))
	return "2:" + base64.RawStdEncoding.EncodeToString(sum[:6])
}

// deviceJIDsLocked lists the account's live device JIDs in one addressing form. Caller holds s.mu.
func deviceJIDsLocked(a *account, server string) []types.JID {
	devs := a.sortedDevices()
	out := make([]types.JID, len(devs))
	for i, d := range devs {
		out[i] = d.jid(server)
	}
	return out
}

// notifyDeviceChange tells every other companion that an account's device list changed
// (<notification type=devices>), so cached device lists are updated or dropped.
func (s *Simulator) notifyDeviceChange(changed *device, tag string) {
	var ds deliveries
	s.mu.Lock()
	a := changed.acc
	change := waBinary.Node{
		Tag: tag,
		Attrs: waBinary.Attrs{
			"device_hash":     participantHash(deviceJIDsLocked(a, types.DefaultUserServer)),
			"device_lid_hash": participantHash(deviceJIDsLocked(a, types.HiddenUserServer)),
		},
		Content: []waBinary.Node{{Tag: "device", Attrs: waBinary.Attrs{
			"jid": changed.jid(types.DefaultUserServer), "lid": changed.jid(types.HiddenUserServer),
		}}},
	}
	now := time.Now().Unix()
	// As the real server does, only those who hold Signal sessions with the account are told: its
	// own devices and the accounts it exchanged messages with (telling every account would make
	// pairing N devices cost N² notifications).
	told := make([]*account, 0, len(a.peers)+1)
	told = append(told, a)
	for p := range a.peers {
		told = append(told, p)
	}
	for _, other := range told {
		for _, d := range other.devices {
			if d == changed || d.id == 0 || d.state != DeviceActive {
				continue
			}
			s.enqueueLocked(d, waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
				"from": a.pnJID(), "lid": a.lidJID(), "id": s.newID(), "t": now, "type": "devices",
			}, Content: []waBinary.Node{change}}, &ds)
		}
	}
	s.mu.Unlock()
	ds.run()
}
