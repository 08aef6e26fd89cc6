package cloudsim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// maxMediaSize is the largest upload the Cloud API accepts (documents).
const maxMediaSize = 100 << 20

// mediaObject is an uploaded or customer-sent file. Every field is immutable once stored.
type mediaObject struct {
	id       string
	owner    *waba
	mimeType string
	data     []byte
	sha256   string // lowercase hex
	urlToken string // guards the download URL, like Meta's signed lookaside URLs
}

type mediaInfo struct {
	MessagingProduct string `json:"messaging_product"`
	URL              string `json:"url"`
	MimeType         string `json:"mime_type"`
	SHA256           string `json:"sha256"`
	FileSize         int    `json:"file_size"`
	ID               string `json:"id"`
}

func (m *mediaObject) info(baseURL string) mediaInfo {
	return mediaInfo{
		MessagingProduct: "whatsapp",
		URL:              baseURL + "/_media/" + m.id + "?token=" + m.urlToken,
		MimeType:         m.mimeType,
		SHA256:           m.sha256,
		FileSize:         len(m.data),
		ID:               m.id,
	}
}

// mediaBaseURL is the address the client used, so URLs work behind httptest or Start alike.
func mediaBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) storeMediaLocked(owner *waba, mimeType string, data []byte) *mediaObject {
	sum := sha256.Sum256(data)
	m := &mediaObject{
		id:       s.newObjectIDLocked(),
		owner:    owner,
		mimeType: mimeType,
		data:     data,
		sha256:   hex.EncodeToString(sum[:]),
		urlToken: newHexID(16),
	}
	s.media[m.id] = m
	return m
}

// uploadMedia streams the multipart form so a 100 MiB file is read once, without temp files.
func (s *Server) uploadMedia(w http.ResponseWriter, r *http.Request, obj object) *graphError {
	r.Body = http.MaxBytesReader(w, r.Body, maxMediaSize+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return invalidParam("media upload needs a multipart/form-data body: %v", err)
	}
	var product, typ, fileType string
	var data []byte
	hasFile := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return uploadReadError(err)
		}
		switch part.FormName() {
		case "messaging_product":
			product, err = readSmall(part)
		case "type":
			typ, err = readSmall(part)
		case "file":
			hasFile = true
			fileType = part.Header.Get("Content-Type")
			data, err = io.ReadAll(io.LimitReader(part, maxMediaSize+1))
			if err == nil && len(data) > maxMediaSize {
				return invalidParam("Param file must be at most %d bytes", maxMediaSize)
			}
		default:
			_, err = io.Copy(io.Discard, part)
		}
		if err != nil {
			return uploadReadError(err)
		}
	}
	if product != "whatsapp" {
		return invalidParam("Param messaging_product must be 'whatsapp'")
	}
	if !hasFile {
		return invalidParam("Param file is required")
	}
	mimeType := typ
	if mimeType == "" {
		mimeType = fileType
	}
	if mimeType == "" {
		mimeType = http.DetectContentType(data)
	}
	if _, _, err := mime.ParseMediaType(mimeType); err != nil {
		return invalidParam("Param type must be a MIME type: %v", err)
	}
	s.mu.Lock()
	m := s.storeMediaLocked(obj.waba, mimeType, data)
	s.mu.Unlock()
	s.log.Info("media uploaded", slog.String("phoneNumberId", obj.id), slog.String("mediaId", m.id),
		slog.String("mimeType", mimeType), slog.Int("size", len(data)))
	writeJSON(w, http.StatusOK, map[string]string{"id": m.id})
	return nil
}

func readSmall(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1024))
	return strings.TrimSpace(string(b)), err
}

func uploadReadError(err error) *graphError {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return invalidParam("Param file must be at most %d bytes", maxMediaSize)
	}
	return invalidParam("cannot read multipart body: %v", err)
}

func (s *Server) deleteMedia(w http.ResponseWriter, _ *http.Request, obj object) *graphError {
	s.mu.Lock()
	delete(s.media, obj.id) // the id stays reserved in objectIDs
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	return nil
}

// downloadMedia serves the URL from GET /{media-id}; like Meta it also wants the access token.
func (s *Server) downloadMedia(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m := s.media[r.PathValue("id")]
	s.mu.Unlock()
	if m == nil || r.URL.Query().Get("token") != m.urlToken {
		s.writeGraphError(w, r, &graphError{status: http.StatusNotFound, code: 100, details: "media URL is unknown or expired"})
		return
	}
	if accessToken(r) != m.owner.token {
		s.writeGraphError(w, r, errInvalidToken())
		return
	}
	w.Header().Set("Content-Type", m.mimeType)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
	_, _ = w.Write(m.data)
}
