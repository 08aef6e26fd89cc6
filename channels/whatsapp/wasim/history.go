package wasim

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"google.golang.org/protobuf/proto"
)

// SendHistorySync hands a history sync blob to every linked companion of this account, as the
// phone does after pairing: the blob is zlib-compressed, encrypted into the media store and
// announced by a peer HistorySyncNotification; whatsmeow downloads it and emits
// events.HistorySync (PUSH_NAME syncs also fill its push name store). It returns how many
// companions were notified.
func (p *Phone) SendHistorySync(ctx context.Context, hs *waHistorySync.HistorySync) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	raw, err := proto.Marshal(hs)
	if err != nil {
		return 0, fmt.Errorf("marshal history sync: %w", err)
	}
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return 0, fmt.Errorf("compress history sync: %w", err)
	}
	if err := zw.Close(); err != nil {
		return 0, fmt.Errorf("compress history sync: %w", err)
	}
	up, err := p.sim.uploadMedia(buf.Bytes(), whatsmeow.MediaHistory)
	if err != nil {
		return 0, err
	}
	notif := &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_HISTORY_SYNC_NOTIFICATION.Enum(),
		HistorySyncNotification: &waE2E.HistorySyncNotification{
			FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength), MediaKey: up.MediaKey,
			FileEncSHA256: up.FileEncSHA256, DirectPath: proto.String(up.DirectPath),
			SyncType:   waE2E.HistorySyncType(hs.GetSyncType()).Enum(),
			ChunkOrder: proto.Uint32(hs.GetChunkOrder()), Progress: proto.Uint32(hs.GetProgress()),
		},
	}}
	p.sim.mu.Lock()
	var companions []*device
	for _, d := range p.acc.sortedDevices() {
		if d.id != 0 {
			companions = append(companions, d)
		}
	}
	p.sim.mu.Unlock()
	var errs []error
	for _, d := range companions {
		if err := p.sendPeer(d, notif); err != nil {
			errs = append(errs, fmt.Errorf("notify %d: %w", d.id, err))
		}
	}
	return len(companions) - len(errs), errors.Join(errs...)
}
