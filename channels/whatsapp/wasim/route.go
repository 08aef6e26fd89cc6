package wasim

import (
	"log/slog"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// delivery is a stanza to hand over after Simulator.mu is released.
type delivery struct {
	conn  *conn
	phone *Phone
	node  waBinary.Node
}

type deliveries []delivery

func (ds deliveries) run() {
	flushed := make(map[*conn]bool, len(ds))
	for _, d := range ds {
		switch {
		case d.phone != nil:
			d.phone.enqueue(d.node)
		case d.conn != nil && !flushed[d.conn]:
			flushed[d.conn] = true
			d.conn.flush()
		}
	}
}

// enqueueLocked queues a stanza for a device (phones get it directly). Caller holds s.mu.
func (s *Simulator) enqueueLocked(d *device, node waBinary.Node, ds *deliveries) (queued bool) {
	data, err := waBinary.Marshal(node)
	if err != nil {
		s.log.Error("marshal stanza", slog.Any("error", err))
		return false
	}
	if d.id == 0 && d.acc.phone != nil {
		// The phone gets the stanza as decoded from the wire (string attributes), like a device.
		wire, err := decodeWire(data)
		if err != nil {
			s.log.Error("decode stanza for phone", slog.Any("error", err))
			return false
		}
		*ds = append(*ds, delivery{phone: d.acc.phone, node: *wire})
		return false
	}
	typ, _ := node.Attrs["type"].(string)
	if node.Tag == "message" {
		typ = ""
	}
	id, _ := node.Attrs["id"].(string)
	from, _ := node.Attrs["from"].(types.JID)
	if len(d.queue) >= s.opts.MaxQueue {
		d.queue[0] = nil
		d.queue = d.queue[1:]
		if d.sent > 0 {
			d.sent--
		}
		s.stats.dropped.Add(1)
	}
	d.queue = append(d.queue, &outStanza{key: ackKey(node.Tag, id, from, typ), data: data})
	if d.conn != nil && d.active {
		*ds = append(*ds, delivery{conn: d.conn})
		return false
	}
	s.stats.queued.Add(1)
	return true
}

func decodeWire(data []byte) (*waBinary.Node, error) {
	unpacked, err := waBinary.Unpack(data)
	if err != nil {
		return nil, err
	}
	return waBinary.Unmarshal(unpacked)
}

// handleMessage routes a <message> from src (a connected device or a phone) and returns after
// answering the sender with an <ack>. c is nil for phones.
func (s *Simulator) handleMessage(src *device, c *conn, node *waBinary.Node) {
	s.stats.messagesIn.Add(1)
	ag := node.AttrGetter()
	id := ag.OptionalString("id")
	to, toOK := node.Attrs["to"].(types.JID)
	if id == "" || !toOK {
		if c != nil && id != "" {
			c.send(waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{"class": "message", "id": id, "error": 400}})
		}
		return
	}
	now := time.Now()
	msgType := ag.OptionalString("type")
	edit := ag.OptionalString("edit")
	category := ag.OptionalString("category")
	// A retry resend targets one device and reuses the message id: never deduplicated.
	isRetry := ag.OptionalString("device_fanout") == "false"

	type target struct {
		jid types.JID
		enc waBinary.Node
	}
	var targets []target
	if parts, ok := node.GetOptionalChildByTag("participants"); ok {
		for _, p := range parts.GetChildren() {
			j, ok := p.Attrs["jid"].(types.JID)
			encs := p.GetChildrenByTag("enc")
			if p.Tag == "to" && ok && len(encs) > 0 {
				targets = append(targets, target{j, encs[0]})
			}
		}
	} else if encs := node.GetChildrenByTag("enc"); len(encs) > 0 {
		targets = append(targets, target{to, encs[0]})
	}
	var extra []waBinary.Node
	var deviceIdentity *waBinary.Node
	for _, ch := range node.GetChildren() {
		switch ch.Tag {
		case "device-identity":
			di := ch
			deviceIdentity = &di
		case "meta", "biz", "bot":
			extra = append(extra, ch)
		}
	}

	ack := waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{"class": "message", "id": id, "from": to, "t": now.Unix()}}
	if len(targets) == 0 {
		// A message for nobody is an error, and must not poison the dedupe window.
		ack.Attrs["error"] = 400
		s.sendAck(src, c, ack)
		return
	}
	var ds deliveries
	s.mu.Lock()
	senderKey := dedupeKey{src.jid(types.HiddenUserServer).String(), id}
	if !isRetry && s.seenBefore(senderKey) {
		s.mu.Unlock()
		s.stats.duplicates.Add(1)
		s.sendAck(src, c, ack)
		return
	}
	chatAcc := s.accountFor(to)
	if chatAcc != nil && chatAcc != src.acc {
		src.acc.addPeerLocked(chatAcc)
		chatAcc.addPeerLocked(src.acc)
	}
	if chatAcc != nil && category != "peer" && !isRetry && c != nil {
		// The device list the server expects the sender to have encrypted for.
		server := to.Server
		all := deviceJIDsLocked(chatAcc, server)
		if chatAcc != src.acc {
			all = append(all, deviceJIDsLocked(src.acc, server)...)
		}
		ack.Attrs["phash"] = participantHash(all)
	}
	routed := 0
	for _, t := range targets {
		td := s.deviceFor(t.jid)
		if td == nil || td == src {
			continue
		}
		form := t.jid.Server
		attrs := waBinary.Attrs{"id": id, "t": now.Unix(), "from": src.jid(form)}
		if msgType != "" {
			attrs["type"] = msgType
		}
		if edit != "" {
			attrs["edit"] = edit
		}
		if category != "" {
			attrs["category"] = category
		}
		if td.acc == src.acc {
			if category != "peer" && chatAcc != nil && chatAcc != src.acc {
				attrs["recipient"] = to.ToNonAD()
				if to.Server == types.HiddenUserServer {
					attrs["peer_recipient_pn"] = chatAcc.pnJID()
				} else {
					attrs["peer_recipient_lid"] = chatAcc.lidJID()
				}
			}
		} else {
			if src.acc.pushName != "" {
				attrs["notify"] = src.acc.pushName
			}
			if form == types.HiddenUserServer {
				attrs["sender_pn"] = src.acc.pnJID()
			} else {
				attrs["sender_lid"] = src.acc.lidJID()
			}
		}
		enc := s.Faults.maybeCorrupt(td, t.enc)
		content := []waBinary.Node{enc}
		if deviceIdentity != nil && enc.AttrGetter().OptionalString("type") == "pkmsg" {
			content = append(content, *deviceIdentity)
		}
		content = append(content, extra...)
		fwd := waBinary.Node{Tag: "message", Attrs: attrs, Content: content}
		queued := s.enqueueLocked(td, fwd, &ds)
		kind := "message"
		if isRetry {
			kind = "retry"
		}
		s.logRouted(Routed{Time: now, Kind: kind, ID: id, Type: msgType, From: src.jid(form), To: td.jid(form), Queued: queued})
		routed++
	}
	s.mu.Unlock()
	ds.run()
	s.stats.messagesRouted.Add(int64(routed))
	s.sendAck(src, c, ack)
}

// sendAck answers the sender, subject to the ack faults. Phones need no acks.
func (s *Simulator) sendAck(src *device, c *conn, ack waBinary.Node) {
	if c == nil {
		return
	}
	drop, delay := s.Faults.ackFault(src)
	switch {
	case drop:
		return
	case delay > 0:
		time.AfterFunc(delay, func() { c.send(ack) })
	default:
		c.send(ack)
	}
}

// handleReceipt forwards a receipt: retries to the one device named in `to`, everything else to
// every device of the `to` account except the sender itself.
func (s *Simulator) handleReceipt(src *device, c *conn, node *waBinary.Node) {
	ag := node.AttrGetter()
	id := ag.OptionalString("id")
	to, ok := node.Attrs["to"].(types.JID)
	if id == "" || !ok {
		return
	}
	typ := ag.OptionalString("type")
	fwdType := typ
	if typ == "inactive" {
		// The recipient's app was in background: for the sender it is a plain delivery.
		fwdType = ""
	}
	now := time.Now()
	var ds deliveries
	s.mu.Lock()
	// whatsmeow acknowledges a decrypted message with its receipt alone: the receipt is the ack.
	if len(src.queue) > 0 {
		s.ackLocked(src, ackKey("message", id, to, ""))
	}
	var targets []*device
	if typ == "retry" {
		if d := s.deviceFor(to); d != nil {
			targets = append(targets, d)
		}
	} else if a := s.accountFor(to); a != nil {
		for _, d := range a.sortedDevices() {
			if d != src {
				targets = append(targets, d)
			}
		}
	}
	for _, td := range targets {
		attrs := waBinary.Attrs{"id": id, "from": src.jid(to.Server), "t": now.Unix()}
		if t, ok := node.Attrs["t"]; ok {
			attrs["t"] = t
		}
		if fwdType != "" {
			attrs["type"] = fwdType
		}
		for _, k := range []string{"recipient", "participant", "category"} {
			if v, ok := node.Attrs[k]; ok {
				attrs[k] = v
			}
		}
		fwd := waBinary.Node{Tag: "receipt", Attrs: attrs, Content: node.Content}
		queued := s.enqueueLocked(td, fwd, &ds)
		s.logRouted(Routed{Time: now, Kind: "receipt", ID: id, Type: fwdType, From: src.jid(to.Server), To: td.jid(to.Server), Queued: queued})
	}
	s.mu.Unlock()
	ds.run()
	s.stats.receiptsRouted.Add(int64(len(targets)))
	if c != nil {
		ackAttrs := waBinary.Attrs{"class": "receipt", "id": id, "from": to}
		if typ != "" {
			ackAttrs["type"] = typ
		}
		c.send(waBinary.Node{Tag: "ack", Attrs: ackAttrs})
	}
}

// handleAck removes an acknowledged stanza from the device's queue.
func (s *Simulator) handleAck(c *conn, node *waBinary.Node) {
	ag := node.AttrGetter()
	class := ag.OptionalString("class")
	id := ag.OptionalString("id")
	to, _ := node.Attrs["to"].(types.JID)
	typ := ""
	if class != "message" {
		typ = ag.OptionalString("type")
	}
	key := ackKey(class, id, to, typ)
	s.stats.acks.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.dev != nil {
		s.ackLocked(c.dev, key)
	}
}

// ackLocked drops an acknowledged stanza from the device's queue. Caller holds s.mu.
func (s *Simulator) ackLocked(d *device, key string) {
	// Only what the device was sent can be acknowledged: a message may be acknowledged twice (its
	// receipt, then its ack), and a phone's retry resend reuses the id, so the second ack must
	// not take the resend still waiting in the queue with the same key.
	for i, st := range d.queue[:d.sent] {
		if st.key != key {
			continue
		}
		copy(d.queue[i:], d.queue[i+1:])
		d.queue[len(d.queue)-1] = nil
		d.queue = d.queue[:len(d.queue)-1]
		if len(d.queue) == 0 {
			d.queue = nil
		}
		if i < d.sent {
			d.sent--
		}
		return
	}
}
