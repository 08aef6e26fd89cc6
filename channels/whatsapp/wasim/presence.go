package wasim

import (
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// Presence and chat states are ephemeral: pushed to connected, active devices only, never
// queued, never acknowledged.

type presenceState struct {
	available   bool
	lastSeen    time.Time
	subscribers map[*device]struct{}
}

func (s *Simulator) handlePresence(c *conn, node *waBinary.Node) {
	ag := node.AttrGetter()
	typ := ag.OptionalString("type")
	s.mu.Lock()
	d := c.dev
	if d == nil {
		s.mu.Unlock()
		return
	}
	if name := ag.OptionalString("name"); name != "" {
		d.acc.pushName = name
	}
	switch typ {
	case "available", "unavailable":
		s.mu.Unlock()
		s.setPresence(d.acc, typ == "available")
	case "subscribe":
		to, ok := node.Attrs["to"].(types.JID)
		target := s.accountFor(to)
		if !ok || target == nil {
			s.mu.Unlock()
			return
		}
		if target.presence.subscribers == nil {
			target.presence.subscribers = make(map[*device]struct{})
		}
		target.presence.subscribers[d] = struct{}{}
		p := presenceNode(target.userJID(to.Server), target.presence)
		s.mu.Unlock()
		c.send(p)
	default:
		s.mu.Unlock()
	}
}

func presenceNode(from types.JID, st presenceState) waBinary.Node {
	attrs := waBinary.Attrs{"from": from}
	if !st.available {
		attrs["type"] = "unavailable"
		if !st.lastSeen.IsZero() {
			attrs["last"] = st.lastSeen.Unix()
		}
	}
	return waBinary.Node{Tag: "presence", Attrs: attrs}
}

// setPresence records an account's availability and tells its subscribers.
func (s *Simulator) setPresence(a *account, available bool) {
	s.mu.Lock()
	if !available && a.presence.available {
		a.presence.lastSeen = time.Now()
	}
	a.presence.available = available
	type push struct {
		c    *conn
		node waBinary.Node
	}
	var pushes []push
	for sub := range a.presence.subscribers {
		if sub.state != DeviceActive {
			delete(a.presence.subscribers, sub)
			continue
		}
		if sub.conn != nil && sub.active {
			pushes = append(pushes, push{sub.conn, presenceNode(a.pnJID(), a.presence)})
		}
	}
	s.mu.Unlock()
	for _, p := range pushes {
		p.c.send(p.node)
	}
}

// handleChatState relays typing indicators to the peer's connected devices.
func (s *Simulator) handleChatState(c *conn, node *waBinary.Node) {
	to, ok := node.Attrs["to"].(types.JID)
	if !ok {
		return
	}
	s.mu.Lock()
	src := c.dev
	target := s.accountFor(to)
	if src == nil || target == nil {
		s.mu.Unlock()
		return
	}
	fwd := waBinary.Node{Tag: "chatstate", Attrs: waBinary.Attrs{"from": src.acc.userJID(to.Server)}, Content: node.Content}
	var conns []*conn
	for _, d := range target.devices {
		if d.conn != nil && d.active && d.state == DeviceActive && d != src {
			conns = append(conns, d.conn)
		}
	}
	s.mu.Unlock()
	for _, tc := range conns {
		tc.send(fwd)
	}
}

// SetAvailable marks the phone's account online or offline for presence subscribers.
func (p *Phone) SetAvailable(available bool) { p.sim.setPresence(p.acc, available) }
