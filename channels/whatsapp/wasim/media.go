package wasim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"go.mau.fi/whatsmeow"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/cbcutil"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"google.golang.org/protobuf/proto"
)

// MediaHost is the hostname announced in media_conn; every host resolves to the simulator for a
// client configured with ConfigureClient.
const MediaHost = "mmg.whatsapp.net"

const maxMediaSize = 64 << 20

type mediaStore struct {
	mu    sync.Mutex
	blobs map[string][]byte // by blob id
}

func (m *mediaStore) put(data []byte) string {
	id := randomString(32)
	m.mu.Lock()
	m.blobs[id] = data
	m.mu.Unlock()
	return id
}

func (m *mediaStore) get(id string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[id]
	return b, ok
}

func directPath(id string) string { return "/m/" + id + ".enc?ccb=11-4&oh=sim" }

// blobID extracts the blob id from a direct path or URL.
func blobID(path string) string {
	if i := strings.Index(path, "/m/"); i >= 0 {
		path = path[i+3:]
	}
	if i := strings.IndexAny(path, "?&"); i >= 0 {
		path = path[:i]
	}
	return strings.TrimSuffix(path, ".enc")
}

func (s *Simulator) mediaConn() waBinary.Node {
	return waBinary.Node{Tag: "media_conn", Attrs: waBinary.Attrs{
		"auth": randomString(32), "ttl": 300, "auth_ttl": 21600, "max_buckets": 12,
	}, Content: []waBinary.Node{{Tag: "host", Attrs: waBinary.Attrs{"hostname": MediaHost}}}}
}

// serveUpload stores an (already encrypted) upload: POST /mms/<type>/<token>?auth=&token=.
func (s *Simulator) serveUpload(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("auth") == "" {
		http.Error(w, "missing auth", http.StatusUnauthorized)
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxMediaSize+1))
	if err != nil || len(data) > maxMediaSize {
		http.Error(w, "bad upload", http.StatusBadRequest)
		return
	}
	id := s.media.put(data)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"url":         "https://" + MediaHost + directPath(id),
		"direct_path": directPath(id),
		"handle":      id,
	})
}

// serveDownload returns a stored blob: GET /m/<id>.enc?...
func (s *Simulator) serveDownload(w http.ResponseWriter, r *http.Request) {
	data, ok := s.media.get(blobID(r.URL.Path))
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(data)
}

func mediaKeys(mediaKey []byte, appInfo whatsmeow.MediaType) (iv, cipherKey, macKey []byte) {
	expanded := hkdfutil.SHA256(mediaKey, nil, []byte(appInfo), 112)
	return expanded[:16], expanded[16:48], expanded[48:80]
}

// uploadMedia encrypts like a WhatsApp client and stores the blob.
func (s *Simulator) uploadMedia(plain []byte, appInfo whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	var resp whatsmeow.UploadResponse
	resp.MediaKey = make([]byte, 32)
	_, _ = rand.Read(resp.MediaKey)
	iv, cipherKey, macKey := mediaKeys(resp.MediaKey, appInfo)
	ct, err := cbcutil.Encrypt(cipherKey, iv, plain)
	if err != nil {
		return resp, fmt.Errorf("encrypt media: %w", err)
	}
	h := hmac.New(sha256.New, macKey)
	h.Write(iv)
	h.Write(ct)
	file := append(ct, h.Sum(nil)[:10]...)
	fileSHA := sha256.Sum256(plain)
	encSHA := sha256.Sum256(file)
	id := s.media.put(file)
	resp.URL = "https://" + MediaHost + directPath(id)
	resp.DirectPath = directPath(id)
	resp.Handle = id
	resp.FileSHA256 = fileSHA[:]
	resp.FileEncSHA256 = encSHA[:]
	resp.FileLength = uint64(len(plain))
	return resp, nil
}

// ErrMediaNotFound is returned when a blob is not in the store.
var ErrMediaNotFound = errors.New("media not found")

// DownloadMedia fetches and decrypts a blob referenced by a media message (what a phone does
// when it opens an image a companion sent).
func (s *Simulator) DownloadMedia(msg whatsmeow.DownloadableMessage, appInfo whatsmeow.MediaType) ([]byte, error) {
	file, ok := s.media.get(blobID(msg.GetDirectPath()))
	if !ok || len(file) <= 10 {
		return nil, ErrMediaNotFound
	}
	if sum := sha256.Sum256(file); len(msg.GetFileEncSHA256()) > 0 && !bytes.Equal(sum[:], msg.GetFileEncSHA256()) {
		return nil, errors.New("media: encrypted hash mismatch")
	}
	iv, cipherKey, macKey := mediaKeys(msg.GetMediaKey(), appInfo)
	ct, mac := file[:len(file)-10], file[len(file)-10:]
	h := hmac.New(sha256.New, macKey)
	h.Write(iv)
	h.Write(ct)
	if !hmac.Equal(h.Sum(nil)[:10], mac) {
		return nil, errors.New("media: mac mismatch")
	}
	plain, err := cbcutil.Decrypt(cipherKey, iv, ct)
	if err != nil {
		return nil, fmt.Errorf("decrypt media: %w", err)
	}
	if sum := sha256.Sum256(plain); len(msg.GetFileSHA256()) > 0 && !bytes.Equal(sum[:], msg.GetFileSHA256()) {
		return nil, errors.New("media: plaintext hash mismatch")
	}
	return plain, nil
}

// SendImage uploads an image to the blob store and sends it; returns the message id.
func (p *Phone) SendImage(ctx context.Context, to types.JID, data []byte, mimetype, caption string) (string, error) {
	up, err := p.sim.uploadMedia(data, whatsmeow.MediaImage)
	if err != nil {
		return "", err
	}
	img := &waE2E.ImageMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		Mimetype: proto.String(mimetype), FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256,
		FileLength: proto.Uint64(up.FileLength),
	}
	if caption != "" {
		img.Caption = proto.String(caption)
	}
	return p.Send(ctx, to, &waE2E.Message{ImageMessage: img})
}
