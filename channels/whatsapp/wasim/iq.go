package wasim

import (
	"crypto/sha1"
	"encoding/binary"
	"log/slog"
	"slices"
	"strings"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// handleNode dispatches one stanza from a websocket client.
func (s *Simulator) handleNode(c *conn, node *waBinary.Node) {
	switch node.Tag {
	case "iq":
		s.stats.iqs.Add(1)
		s.handleIQ(c, node)
	case "message":
		if d := s.connDevice(c); d != nil {
			s.handleMessage(d, c, node)
		}
	case "receipt":
		if d := s.connDevice(c); d != nil {
			s.handleReceipt(d, c, node)
		}
	case "ack":
		s.handleAck(c, node)
	case "presence":
		s.handlePresence(c, node)
	case "chatstate":
		s.handleChatState(c, node)
	}
	// ib (unified_session telemetry) and call stanzas need no answer.
}

func (s *Simulator) connDevice(c *conn) *device {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.dev
}

func iqResult(req *waBinary.Node, content ...waBinary.Node) waBinary.Node {
	n := waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{"from": types.ServerJID, "type": "result", "id": req.Attrs["id"]}}
	if len(content) > 0 {
		n.Content = content
	}
	return n
}

func iqError(req *waBinary.Node, code int, text string) waBinary.Node {
	return waBinary.Node{
		Tag:     "iq",
		Attrs:   waBinary.Attrs{"from": types.ServerJID, "type": "error", "id": req.Attrs["id"]},
		Content: []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": code, "text": text}}},
	}
}

func (s *Simulator) handleIQ(c *conn, node *waBinary.Node) {
	ag := node.AttrGetter()
	typ := ag.OptionalString("type")
	xmlns := ag.OptionalString("xmlns")
	if typ == "result" || typ == "error" {
		s.handleIQResponse(c, node)
		return
	}
	var child waBinary.Node
	if ch := node.GetChildren(); len(ch) > 0 {
		child = ch[0]
	}
	d := s.connDevice(c)
	if xmlns == "w:p" {
		c.send(iqResult(node))
		return
	}
	if d == nil && (xmlns != "md" || child.Tag == "remove-companion-device") {
		// Unpaired connections only take part in pairing.
		c.send(iqError(node, 401, "not-authorized"))
		return
	}
	switch {
	case xmlns == "encrypt" && child.Tag == "count":
		s.mu.Lock()
		n := len(d.prekeys)
		s.mu.Unlock()
		c.send(iqResult(node, waBinary.Node{Tag: "count", Attrs: waBinary.Attrs{"value": n}}))
	case xmlns == "encrypt" && typ == "set":
		s.handlePreKeyUpload(c, d, node)
	case xmlns == "encrypt" && child.Tag == "key":
		c.send(iqResult(node, s.bundles(child)))
	case xmlns == "encrypt" && child.Tag == "digest":
		c.send(iqResult(node, s.digest(d)))
	case xmlns == "passive":
		s.mu.Lock()
		wasActive := d.active
		d.active = child.Tag == "active"
		s.mu.Unlock()
		c.send(iqResult(node))
		if child.Tag == "active" && !wasActive {
			s.deliverOffline(c)
		}
	case xmlns == "usync":
		c.send(iqResult(node, s.usync(child)))
	case xmlns == "privacy":
		c.send(iqResult(node, privacyReply(typ, child)))
	case xmlns == "w:m" && child.Tag == "media_conn":
		c.send(iqResult(node, s.mediaConn()))
	case xmlns == "w:sync:app:state":
		s.handleAppStateSync(c, d, node)
	case xmlns == "w:profile:picture" && typ == "get":
		// Nobody has a profile picture here: whatsmeow maps 404 to ErrProfilePictureNotSet.
		c.send(iqError(node, 404, "item-not-found"))
	case xmlns == "md" && child.Tag == "remove-companion-device":
		s.handleLogout(c, d, node, child)
	case xmlns == "md" && child.Tag == "link_code_companion_reg":
		s.handleLinkCode(c, node, child)
	default:
		// Every IQ gets an answer: an unanswered one stalls whatsmeow for 75 s.
		s.log.Debug("unhandled iq", slog.String("xmlns", xmlns), slog.String("type", typ), slog.String("child", child.Tag))
		c.send(iqResult(node))
	}
}

func (s *Simulator) handlePreKeyUpload(c *conn, d *device, node *waBinary.Node) {
	var keys []preKeyPub
	reg, _ := node.GetChildByTag("registration").Content.([]byte)
	ident, _ := node.GetChildByTag("identity").Content.([]byte)
	list := node.GetChildByTag("list")
	for _, k := range list.GetChildren() {
		if pk, ok := parseKeyNode(k); ok {
			keys = append(keys, pk)
		}
	}
	skey := node.GetChildByTag("skey")
	sk, skOK := parseKeyNode(skey)
	sig, _ := skey.GetChildByTag("signature").Content.([]byte)
	s.mu.Lock()
	if len(reg) == 4 {
		d.regID = binary.BigEndian.Uint32(reg)
	}
	if len(ident) == 32 {
		d.identity = [32]byte(ident)
	}
	if skOK && len(sig) == 64 {
		d.skeyID, d.skeyPub, d.skeySig = sk.id, sk.pub, [64]byte(sig)
	}
	d.prekeys = slices.Concat(d.prekeys, keys) // exact capacity: 812 keys are most of a device's memory
	// With prekeys on the server the phone can reach the new companion: share the app state key.
	phone := d.acc.phone
	share := phone != nil && d.id != 0 && !d.keyShared && len(d.prekeys) > 0
	if share {
		d.keyShared = true
	}
	s.mu.Unlock()
	c.send(iqResult(node))
	if share {
		go phone.shareAppStateKey(d)
	}
}

func parseKeyNode(n waBinary.Node) (preKeyPub, bool) {
	id, _ := n.GetChildByTag("id").Content.([]byte)
	val, _ := n.GetChildByTag("value").Content.([]byte)
	if len(id) != 3 || len(val) != 32 {
		return preKeyPub{}, false
	}
	return preKeyPub{id: uint32(id[0])<<16 | uint32(id[1])<<8 | uint32(id[2]), pub: [32]byte(val)}, true
}

func keyID3(id uint32) []byte { return []byte{byte(id >> 16), byte(id >> 8), byte(id)} }

func be32(v uint32) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, v)
	return b
}

// bundles answers <key><user jid=DEV/>...</key>, consuming one one-time prekey per device.
func (s *Simulator) bundles(req waBinary.Node) waBinary.Node {
	var users []waBinary.Node
	var ds deliveries
	defer ds.run()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range req.GetChildren() {
		jid, ok := u.Attrs["jid"].(types.JID)
		if !ok {
			continue
		}
		d := s.deviceFor(jid)
		if d == nil {
			users = append(users, waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid},
				Content: []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": 404, "text": "item-not-found"}}}})
			continue
		}
		users = append(users, waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: s.bundleNodesLocked(d, &ds)})
	}
	return waBinary.Node{Tag: "list", Content: users}
}

// minPreKeys is the count below which a companion is told to upload more (whatsmeow's MinPreKeyCount).
const minPreKeys = 5

// bundleNodesLocked builds a prekey bundle and consumes its one-time key; a companion that runs
// low gets <notification type=encrypt><count/>. Caller holds s.mu.
func (s *Simulator) bundleNodesLocked(d *device, ds *deliveries) []waBinary.Node {
	if d.acc.phone != nil && d.id == 0 && len(d.prekeys) < 10 {
		d.prekeys = append(d.prekeys, d.acc.phone.generatePreKeys(100)...)
	}
	content := []waBinary.Node{
		{Tag: "registration", Content: be32(d.regID)},
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: d.identity[:]},
		{Tag: "skey", Content: []waBinary.Node{
			{Tag: "id", Content: keyID3(d.skeyID)},
			{Tag: "value", Content: d.skeyPub[:]},
			{Tag: "signature", Content: d.skeySig[:]},
		}},
	}
	if len(d.prekeys) > 0 {
		pk := d.prekeys[0]
		d.prekeys = d.prekeys[1:]
		if len(d.prekeys) == minPreKeys-1 && d.id != 0 {
			s.enqueueLocked(d, waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
				"from": types.ServerJID, "id": s.newID(), "t": time.Now().Unix(), "type": "encrypt",
			}, Content: []waBinary.Node{{Tag: "count", Attrs: waBinary.Attrs{"value": len(d.prekeys)}}}}, ds)
		}
		content = append(content, waBinary.Node{Tag: "key", Content: []waBinary.Node{
			{Tag: "id", Content: keyID3(pk.id)},
			{Tag: "value", Content: pk.pub[:]},
		}})
	}
	return content
}

// digest summarises the keys the server holds for a device, so clients can validate them.
func (s *Simulator) digest(d *device) waBinary.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := sha1.New()
	h.Write(d.identity[:])
	h.Write(d.skeyPub[:])
	h.Write(d.skeySig[:])
	ids := make([]waBinary.Node, 0, len(d.prekeys))
	for _, pk := range d.prekeys {
		h.Write(pk.pub[:])
		ids = append(ids, waBinary.Node{Tag: "id", Content: keyID3(pk.id)})
	}
	return waBinary.Node{Tag: "digest", Content: []waBinary.Node{
		{Tag: "registration", Content: be32(d.regID)},
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: d.identity[:]},
		{Tag: "skey", Content: []waBinary.Node{
			{Tag: "id", Content: keyID3(d.skeyID)},
			{Tag: "value", Content: d.skeyPub[:]},
			{Tag: "signature", Content: d.skeySig[:]},
		}},
		{Tag: "list", Content: ids},
		{Tag: "hash", Content: h.Sum(nil)},
	}}
}

var privacyDefaults = [][2]string{
	{"last", "all"}, {"online", "all"}, {"profile", "all"}, {"status", "all"},
	{"groupadd", "all"}, {"readreceipts", "all"}, {"calladd", "all"}, {"messages", "all"},
}

func privacyReply(typ string, req waBinary.Node) waBinary.Node {
	if typ == "set" {
		// Token issuance and setting changes: echo what was set.
		return waBinary.Node{Tag: req.Tag, Content: req.Content}
	}
	cats := make([]waBinary.Node, 0, len(privacyDefaults))
	for _, c := range privacyDefaults {
		cats = append(cats, waBinary.Node{Tag: "category", Attrs: waBinary.Attrs{"name": c[0], "value": c[1]}})
	}
	return waBinary.Node{Tag: "privacy", Content: cats}
}

// usync answers device, contact (IsOnWhatsApp), lid, status, picture and business queries.
func (s *Simulator) usync(req waBinary.Node) waBinary.Node {
	query := req.GetChildByTag("query")
	wanted := map[string]waBinary.Node{}
	for _, q := range query.GetChildren() {
		wanted[q.Tag] = q
	}
	contactQ, hasContact := wanted["contact"]
	lidAddressing := hasContact && contactQ.AttrGetter().OptionalString("addressing_mode") == "lid"
	var users []waBinary.Node
	s.mu.Lock()
	list := req.GetChildByTag("list")
	for _, u := range list.GetChildren() {
		var a *account
		var queryText string
		jid, hasJID := u.Attrs["jid"].(types.JID)
		if hasJID {
			a = s.accountFor(jid)
		} else if c, ok := u.GetOptionalChildByTag("contact"); ok {
			queryText = contentString(c.Content)
			digits := onlyDigits(queryText)
			a = s.accounts[digits]
			jid = types.NewJID(digits, types.DefaultUserServer)
		}
		attrs := waBinary.Attrs{}
		switch {
		case hasJID:
			attrs["jid"] = jid.ToNonAD()
		case a != nil && lidAddressing:
			attrs["jid"] = a.lidJID()
			attrs["pn_jid"] = a.pnJID()
		case a != nil:
			attrs["jid"] = a.pnJID()
		default:
			attrs["pn_jid"] = jid
		}
		var children []waBinary.Node
		for tag := range wanted {
			switch tag {
			case "devices":
				children = append(children, s.deviceListLocked(a))
			case "contact":
				typ := "out"
				if a != nil {
					typ = "in"
				}
				children = append(children, waBinary.Node{Tag: "contact", Attrs: waBinary.Attrs{"type": typ}, Content: []byte(queryText)})
			case "lid":
				n := waBinary.Node{Tag: "lid"}
				if a != nil {
					n.Attrs = waBinary.Attrs{"val": a.lidJID()}
				}
				children = append(children, n)
			case "status":
				n := waBinary.Node{Tag: "status"}
				if a != nil && a.status != "" {
					n.Attrs = waBinary.Attrs{"t": a.created.Unix()}
					n.Content = []byte(a.status)
				}
				children = append(children, n)
			case "picture", "business", "username":
				children = append(children, waBinary.Node{Tag: tag})
			case "disappearing_mode":
				children = append(children, waBinary.Node{Tag: tag, Attrs: waBinary.Attrs{"duration": 0, "t": 0}})
			}
		}
		users = append(users, waBinary.Node{Tag: "user", Attrs: attrs, Content: children})
	}
	s.mu.Unlock()
	resultChildren := make([]waBinary.Node, 0, len(wanted))
	for tag := range wanted {
		resultChildren = append(resultChildren, waBinary.Node{Tag: tag, Attrs: waBinary.Attrs{"refresh": 604800}})
	}
	attrs := waBinary.Attrs{}
	for _, k := range []string{"sid", "mode", "context", "index", "last"} {
		if v, ok := req.Attrs[k]; ok {
			attrs[k] = v
		}
	}
	return waBinary.Node{Tag: "usync", Attrs: attrs, Content: []waBinary.Node{
		{Tag: "result", Content: resultChildren},
		{Tag: "list", Content: users},
	}}
}

// deviceListLocked lists an account's devices, primary first; companions carry key-index.
func (s *Simulator) deviceListLocked(a *account) waBinary.Node {
	var list []waBinary.Node
	if a != nil {
		for _, d := range a.sortedDevices() {
			attrs := waBinary.Attrs{"id": int(d.id)}
			if d.id != 0 {
				attrs["key-index"] = int(d.id)
			}
			list = append(list, waBinary.Node{Tag: "device", Attrs: attrs})
		}
	}
	return waBinary.Node{Tag: "devices", Content: []waBinary.Node{
		{Tag: "device-list", Content: list},
		{Tag: "key-index-list", Attrs: waBinary.Attrs{"ts": time.Now().Unix()}},
	}}
}

func contentString(c any) string {
	switch v := c.(type) {
	case []byte:
		return string(v)
	case string:
		return v
	case types.JID:
		return v.String()
	}
	return ""
}

func onlyDigits(s string) string {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (s *Simulator) handleLogout(c *conn, d *device, node *waBinary.Node, child waBinary.Node) {
	target, ok := child.Attrs["jid"].(types.JID)
	s.mu.Lock()
	victim := d
	if ok {
		if t := s.deviceFor(target); t != nil && t.acc == d.acc {
			victim = t
		}
	}
	victim.state = DeviceRemoved
	victim.queue, victim.sent, victim.prekeys = nil, 0, nil
	vc := victim.conn
	s.mu.Unlock()
	c.send(iqResult(node))
	if vc != nil && vc != c {
		vc.sendAndClose(streamError(401, "device_removed"))
	}
	s.notifyDeviceChange(victim, "remove")
	s.log.Info("device logged out", slog.String("device", victim.jid(types.DefaultUserServer).String()))
}
