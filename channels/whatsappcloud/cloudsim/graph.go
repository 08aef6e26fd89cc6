package cloudsim

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

var versionRE = regexp.MustCompile(`^v\d+\.\d+$`)

type objectKind int

const (
	kindAny objectKind = iota
	kindPhone
	kindWABA
	kindMedia
)

// object is a resolved Graph path id. Its pointers reach state guarded by Server.mu.
type object struct {
	id    string
	kind  objectKind
	phone *phone
	waba  *waba // the owner, for every kind
	media *mediaObject
}

// graphHandler writes a success answer itself or returns the error to write.
type graphHandler func(w http.ResponseWriter, r *http.Request, obj object) *graphError

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{version}/{id}", s.graph(kindAny, s.getObject))
	mux.HandleFunc("DELETE /{version}/{id}", s.graph(kindMedia, s.deleteMedia))
	mux.HandleFunc("POST /{version}/{id}/messages", s.graph(kindPhone, s.postMessages))
	mux.HandleFunc("POST /{version}/{id}/media", s.graph(kindPhone, s.uploadMedia))
	mux.HandleFunc("GET /{version}/{id}/message_templates", s.graph(kindWABA, s.listTemplates))
	mux.HandleFunc("POST /{version}/{id}/message_templates", s.graph(kindWABA, s.createTemplate))
	mux.HandleFunc("DELETE /{version}/{id}/message_templates", s.graph(kindWABA, s.deleteTemplates))
	mux.HandleFunc("GET /{version}/{id}/phone_numbers", s.graph(kindWABA, s.listPhoneNumbers))
	mux.HandleFunc("GET /_media/{id}", s.downloadMedia)
	s.controlRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_sim/") {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such control route: " + r.Method + " " + r.URL.Path})
			return
		}
		s.writeGraphError(w, r, unknownPath(r.URL.Path))
	})
	return mux
}

// graph checks the version prefix and the access token, and resolves the path id.
func (s *Server) graph(want objectKind, h graphHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !versionRE.MatchString(r.PathValue("version")) {
			s.writeGraphError(w, r, unknownPath(r.URL.Path))
			return
		}
		obj, gerr := s.authorize(r, r.PathValue("id"))
		if gerr == nil && want != kindAny && obj.kind != want {
			gerr = unsupportedRequest(r.Method, obj.id)
		}
		if gerr == nil {
			gerr = h(w, r, obj)
		}
		if gerr != nil {
			s.writeGraphError(w, r, gerr)
		}
	}
}

// accessToken reads the bearer token, or the access_token query parameter Graph also accepts.
func accessToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
		return ""
	}
	return r.URL.Query().Get("access_token")
}

func (s *Server) authorize(r *http.Request, id string) (object, *graphError) {
	token := accessToken(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, ok := s.lookupLocked(id)
	if !ok {
		// A valid token learns the id does not exist; an invalid one learns nothing.
		if token != "" && s.tokenKnownLocked(token) {
			return object{}, unsupportedRequest(r.Method, id)
		}
		return object{}, errInvalidToken()
	}
	if token == "" || token != obj.waba.token {
		return object{}, errInvalidToken()
	}
	return obj, nil
}

func (s *Server) lookupLocked(id string) (object, bool) {
	if p := s.phones[id]; p != nil {
		return object{id: id, kind: kindPhone, phone: p, waba: p.waba}, true
	}
	if w := s.wabas[id]; w != nil {
		return object{id: id, kind: kindWABA, waba: w}, true
	}
	if m := s.media[id]; m != nil {
		return object{id: id, kind: kindMedia, waba: m.owner, media: m}, true
	}
	return object{}, false
}

func (s *Server) tokenKnownLocked(token string) bool {
	for _, w := range s.wabas {
		if w.token == token {
			return true
		}
	}
	return false
}

type phoneInfo struct {
	ID                     string `json:"id"`
	DisplayPhoneNumber     string `json:"display_phone_number"`
	VerifiedName           string `json:"verified_name"`
	QualityRating          string `json:"quality_rating"`
	CodeVerificationStatus string `json:"code_verification_status"`
	PlatformType           string `json:"platform_type"`
}

func (p *phone) info() phoneInfo {
	return phoneInfo{
		ID:                     p.id,
		DisplayPhoneNumber:     p.display,
		VerifiedName:           p.verifiedName,
		QualityRating:          "GREEN",
		CodeVerificationStatus: "VERIFIED",
		PlatformType:           "CLOUD_API",
	}
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, obj object) *graphError {
	switch obj.kind {
	case kindPhone:
		writeJSON(w, http.StatusOK, obj.phone.info())
	case kindWABA:
		writeJSON(w, http.StatusOK, map[string]string{"id": obj.waba.id, "name": s.wabaName(obj.waba)})
	case kindMedia:
		writeJSON(w, http.StatusOK, obj.media.info(mediaBaseURL(r)))
	}
	return nil
}

// wabaName borrows the verified name of one of its phone numbers.
func (s *Server) wabaName(w *waba) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.phones {
		if p.waba == w && p.verifiedName != "" {
			return p.verifiedName
		}
	}
	return w.id
}

func (s *Server) listPhoneNumbers(w http.ResponseWriter, _ *http.Request, obj object) *graphError {
	s.mu.Lock()
	data := []phoneInfo{}
	for _, p := range s.phones {
		if p.waba == obj.waba {
			data = append(data, p.info())
		}
	}
	s.mu.Unlock()
	slices.SortFunc(data, func(a, b phoneInfo) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
	return nil
}
