package cloudsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Template is a message template of a WABA. Components are shared with the server; do not
// modify them.
type Template struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Language   string           `json:"language"`
	Category   string           `json:"category"`
	Status     string           `json:"status"`
	Components []map[string]any `json:"components"`
}

var (
	templateNameRE     = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	languageCodeRE     = regexp.MustCompile(`^[a-z]{2,3}(_[A-Za-z]{2,4})?$`)
	placeholderRE      = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)
	templateStatus     = map[string]bool{"APPROVED": true, "PENDING": true, "REJECTED": true, "PAUSED": true}
	templateCategories = map[string]bool{"MARKETING": true, "UTILITY": true, "AUTHENTICATION": true}
)

func (w *waba) findTemplate(name, language string) *Template {
	for _, t := range w.templates {
		if t.Name == name && t.Language == language {
			return t
		}
	}
	return nil
}

func (t *Template) bodyText() string {
	for _, c := range t.Components {
		if typ, _ := c["type"].(string); strings.EqualFold(typ, "BODY") {
			text, _ := c["text"].(string)
			return text
		}
	}
	return ""
}

// placeholderCount counts distinct {{n}} (or named {{x}}) placeholders.
func placeholderCount(text string) int {
	seen := map[string]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(text, -1) {
		seen[m[1]] = true
	}
	return len(seen)
}

type templateCreate struct {
	Name       string           `json:"name"`
	Language   string           `json:"language"`
	Category   string           `json:"category"`
	Components []map[string]any `json:"components"`
}

func (s *Server) createTemplate(w http.ResponseWriter, r *http.Request, obj object) *graphError {
	var req templateCreate
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		return invalidParam("request body must be a JSON object: %v", err)
	}
	req.Category = strings.ToUpper(req.Category)
	if gerr := validateTemplateCreate(&req); gerr != nil {
		return gerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if obj.waba.findTemplate(req.Name, req.Language) != nil {
		return &graphError{
			status: http.StatusBadRequest, code: 100, subcode: 2388024,
			details:   "Content in this language already exists",
			userTitle: "Content in this language already exists",
			userMsg:   fmt.Sprintf("There is already %s content for this template (%s).", req.Language, req.Name),
		}
	}
	status := "PENDING"
	if s.cfg.AutoApproveTemplates {
		status = "APPROVED"
	}
	t := &Template{
		ID: s.newObjectIDLocked(), Name: req.Name, Language: req.Language,
		Category: req.Category, Status: status, Components: req.Components,
	}
	obj.waba.templates = append(obj.waba.templates, t)
	s.log.Info("template created", slog.String("wabaId", obj.waba.id), slog.String("name", t.Name),
		slog.String("language", t.Language), slog.String("status", status))
	writeJSON(w, http.StatusOK, map[string]string{"id": t.ID, "status": t.Status, "category": t.Category})
	return nil
}

func validateTemplateCreate(req *templateCreate) *graphError {
	switch {
	case !templateNameRE.MatchString(req.Name):
		return invalidParam("Param name must be 1 to 512 lowercase letters, digits or underscores")
	case !languageCodeRE.MatchString(req.Language):
		return invalidParam("Param language must be a language code such as en_US")
	case !templateCategories[req.Category]:
		return invalidParam("Param category must be one of {MARKETING, UTILITY, AUTHENTICATION}")
	case len(req.Components) == 0:
		return invalidParam("Param components is required")
	}
	bodies := 0
	for i, c := range req.Components {
		path := fmt.Sprintf("components[%d]", i)
		typ, gerr := requiredString(c, "type", path+"['type']")
		if gerr != nil {
			return gerr
		}
		typ = strings.ToUpper(typ)
		c["type"] = typ // Meta answers with upper-case component types
		switch typ {
		case "BODY":
			bodies++
			if gerr := requiredText(c, "text", path+"['text']", 1024); gerr != nil {
				return gerr
			}
		case "HEADER":
			format, _, gerr := field[string](c, "format", path+"['format']")
			if gerr != nil {
				return gerr
			}
			if format == "" || strings.EqualFold(format, "TEXT") {
				if gerr := requiredText(c, "text", path+"['text']", 60); gerr != nil {
					return gerr
				}
			}
		case "FOOTER":
			if gerr := requiredText(c, "text", path+"['text']", 60); gerr != nil {
				return gerr
			}
		case "BUTTONS":
			buttons, _, gerr := field[[]any](c, "buttons", path+"['buttons']")
			if gerr != nil {
				return gerr
			}
			if len(buttons) < 1 || len(buttons) > 10 {
				return invalidParam("Param %s['buttons'] must have 1 to 10 buttons", path)
			}
		default:
			return invalidParam("Param %s['type'] must be one of {HEADER, BODY, FOOTER, BUTTONS}", path)
		}
	}
	if bodies != 1 {
		return invalidParam("Param components must contain exactly one BODY component")
	}
	return nil
}

type templateList struct {
	Data   []Template `json:"data"`
	Paging paging     `json:"paging"`
}

type paging struct {
	Cursors cursors `json:"cursors"`
	Next    string  `json:"next,omitempty"`
}

type cursors struct {
	Before string `json:"before"`
	After  string `json:"after"`
}

func encodeCursor(i int) string { return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(i))) }

func decodeCursor(c string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	i, err := strconv.Atoi(string(b))
	return i, err == nil && i >= 0
}

// listTemplates filters by exact name, status and language, and pages with opaque cursors.
func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request, obj object) *graphError {
	q := r.URL.Query()
	limit := 25
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return invalidParam("Param limit must be a positive integer")
		}
		limit = min(n, 1000)
	}
	start := 0
	if v := q.Get("after"); v != "" {
		i, ok := decodeCursor(v)
		if !ok {
			return invalidParam("Param after is not a valid cursor")
		}
		start = i
	}
	s.mu.Lock()
	var matched []Template
	for _, t := range obj.waba.templates {
		if (q.Get("name") == "" || t.Name == q.Get("name")) &&
			(q.Get("status") == "" || strings.EqualFold(t.Status, q.Get("status"))) &&
			(q.Get("language") == "" || t.Language == q.Get("language")) {
			matched = append(matched, *t)
		}
	}
	s.mu.Unlock()
	start = min(start, len(matched))
	end := min(start+limit, len(matched))
	out := templateList{Data: append([]Template{}, matched[start:end]...)}
	if end > start {
		out.Paging.Cursors = cursors{Before: encodeCursor(start), After: encodeCursor(end)}
	}
	if end < len(matched) {
		next := *r.URL
		nq := next.Query()
		nq.Set("after", encodeCursor(end))
		next.RawQuery = nq.Encode()
		out.Paging.Next = mediaBaseURL(r) + next.RequestURI()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// deleteTemplates removes every language of a name (or one template when hsm_id is given).
func (s *Server) deleteTemplates(w http.ResponseWriter, r *http.Request, obj object) *graphError {
	name, hsmID := r.URL.Query().Get("name"), r.URL.Query().Get("hsm_id")
	if name == "" {
		return invalidParam("Param name is required")
	}
	s.mu.Lock()
	kept := obj.waba.templates[:0:0]
	for _, t := range obj.waba.templates {
		if t.Name != name || (hsmID != "" && t.ID != hsmID) {
			kept = append(kept, t)
		}
	}
	removed := len(obj.waba.templates) - len(kept)
	obj.waba.templates = kept
	s.mu.Unlock()
	if removed == 0 {
		return invalidParam("Message template %q not found", name)
	}
	s.log.Info("template deleted", slog.String("wabaId", obj.waba.id), slog.String("name", name), slog.Int("count", removed))
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	return nil
}

// SetTemplateStatus sets the status of every language of a template: APPROVED, PENDING,
// REJECTED or PAUSED. It returns ErrNotFound for an unknown WABA or name.
func (s *Server) SetTemplateStatus(wabaID, name, status string) error {
	status = strings.ToUpper(status)
	if !templateStatus[status] {
		return fmt.Errorf("set template status %q: %w", status, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.wabas[wabaID]
	if w == nil {
		return fmt.Errorf("set template status: waba %s: %w", wabaID, ErrNotFound)
	}
	found := false
	for _, t := range w.templates {
		if t.Name == name {
			t.Status, found = status, true
		}
	}
	if !found {
		return fmt.Errorf("set template status: template %s in waba %s: %w", name, wabaID, ErrNotFound)
	}
	return nil
}

// Templates lists a WABA's templates in creation order.
func (s *Server) Templates(wabaID string) []Template {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.wabas[wabaID]
	if w == nil {
		return nil
	}
	out := make([]Template, 0, len(w.templates))
	for _, t := range w.templates {
		out = append(out, *t)
	}
	return out
}
