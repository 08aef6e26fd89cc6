// Package wasim is a WhatsApp network simulator: the server side of the WhatsApp multi-device
// protocol, complete enough that unmodified whatsmeow clients pair with it, log in, and
// exchange Signal-encrypted messages through it. The server only relays ciphertext; simulated
// phones (primary devices) hold real libsignal sessions, so both ends really encrypt and
// decrypt. See docs/whatsapp-protocol.md for the stanzas.
//
// # Using it in tests
//
//	sim, err := wasim.New(wasim.Options{Logger: logger})
//	err = sim.Start(ctx)                      // listens on 127.0.0.1:0; sim.Addr()
//	defer sim.Close()
//
//	cli := whatsmeow.NewClient(deviceStore, waLog.Noop)
//	wasim.ConfigureClient(cli, sim)           // HTTP clients + whatsmeow.WACertPubKey (process-global)
//
//	phone, err := sim.NewPhone("5511999990001") // an account: number, LID, account key, device 0
//	dev, err := phone.PairClient(ctx, cli)      // connect + QR + scan + wait for Connected, or:
//	dev, err := phone.ScanQR(ctx, qrText)       // either QR form, from events.QR / GetQRChannel
//	dev, err := phone.PairWithCode(ctx, code)   // after cli.PairPhone(ctx, phone.Number(), ...)
//
//	id, err := phone.SendText(ctx, otherPhone.JID(), "hi")  // also SendImage, Edit, Revoke, React, Send
//	m, err := phone.WaitMessage(ctx, func(m wasim.Message) bool { return m.Text == "hello" })
//	err = phone.SendReceipt(ctx, chat, []string{id}, types.ReceiptTypeRead)
//	phone.SetPushName("Ana"); phone.SetContactName(jid, "Bo", "Bo B."); phone.SetAvailable(true)
//
//	sim.Faults.DropConnection(dev)            // Disconnected + reconnect
//	sim.Faults.Replace(dev)                   // StreamReplaced
//	sim.Faults.DeviceRemoved(dev)             // LoggedOut{OnConnect: false}
//	sim.Faults.RefuseLogins(dev, 402, 1, map[string]any{"code": 101, "expire": 3600}) // TemporaryBan
//	sim.Faults.Fail(dev, 405, nil)            // <failure> now; ClientOutdated
//	sim.Faults.DelayAcks / DropAcks / SlowLink / CorruptNext (retry receipts)
//
//	sim.Routed(); sim.Devices(); sim.Stats()  // observability
//
// A simulator in another process (cmd/wasim) is reached with DialRemote(ctx, "http://host:port")
// and Remote.ConfigureClient; its JSON control API is documented on ControlHandler.
//
// # Root key
//
// whatsmeow.WACertPubKey is process-global, so every simulator in a process uses the same root
// key pair, derived from DefaultRootSeed (override with Options.RootSeed or RootPrivateKey).
// ConfigureClient sets it: use it in simulator mode only.
//
// # Behaviour worth knowing
//   - Addressing: a whatsmeow client sends to LIDs (it asks usync for the LID first); the
//     server delivers in the form the sender used, with sender_pn / sender_lid. Phones send in
//     PN form, so their messages arrive with Info.Chat = the phone's PN JID.
//   - Queues: stanzas to a device wait until it is connected and active (after <active/>), then
//     stay queued until acknowledged (an <ack>, or for messages the receipt whatsmeow sends
//     instead); unacknowledged ones are resent on the next login, followed by
//     <ib><offline count/>. Resent <message>s are deduplicated by (sender device, id).
//   - Receipts: retry receipts go to the one device named in `to`; all others fan out to every
//     device of the `to` account. "inactive" delivery receipts are forwarded as plain delivery.
//   - Phones are always online, decrypt what they receive, answer with a delivery receipt
//     (SetAutoDeliveryReceipts) and answer retry receipts by re-encrypting.
//   - Presence: SubscribePresence is answered with the current state and later changes;
//     chat states (typing) are relayed to the peer's connected devices. Neither is queued.
//   - App state: a phone keeps its account's settings as real encrypted app state patches
//     (SetPushName, SetContactName). Each new companion gets the app state key in a peer
//     protocol message (an events.Message with ProtocolMessage APP_STATE_SYNC_KEY_SHARE and
//     Info.Category "peer", as from a real phone: consumers should skip it), then fetches the
//     patches; later changes are announced with <notification type=server_sync>.
//   - Memory: no per-device goroutine or timer besides the websocket reader; phones use a
//     short-lived goroutine only while their inbox is non-empty. Writes to a device happen on
//     the routing goroutine under the connection's write lock; queued stanzas are flushed as
//     several whole frames per websocket message.
//   - State is in memory only: a restarted simulator knows no account (stored clients get 401).
//   - History sync is not sent on its own: Phone.SendHistorySync delivers a given blob (media
//     store + peer HistorySyncNotification) to the account's companions.
//
// Not simulated: groups, app state snapshots (patches only), calls, status
// broadcasts, newsletters, business features, profile pictures (always "not set").
package wasim
