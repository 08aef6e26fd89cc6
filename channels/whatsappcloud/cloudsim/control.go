package cloudsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// controlRoutes adds the JSON control API for the cmd/cloudsim process (no auth: loopback use).
// Errors are {"error": "..."} with 404 (unknown object), 409 (exists) or 400.
//
//	POST /_sim/businesses                   Business (snake_case fields)          -> 201
//	POST /_sim/subscriptions                {phone_number_id, callback_url, verify_token} -> 204
//	POST /_sim/customers                    {wa_id, profile_name}                  -> 204
//	POST /_sim/customers/{wa_id}/messages   {phone_number_id, text, context_id?}   -> 201 {id}
//	                                        or {phone_number_id, image (base64), mime_type?, caption?}
//	POST /_sim/customers/{wa_id}/read       {message_id}                           -> 204
//	GET  /_sim/customers/{wa_id}/received                                          -> [Received]
//	POST /_sim/faults                       {phone_number_id, count, http_status, code} -> 204
//	POST /_sim/clock                        {advance_seconds}                      -> {now}
//	PUT  /_sim/templates/{waba_id}/{name}   {status}                               -> 204
//	GET  /_sim/stats                                                               -> {deliveries, now}
func (s *Server) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_sim/businesses", func(w http.ResponseWriter, r *http.Request) {
		b, ok := decodeControl[Business](w, r)
		if ok {
			reply(w, http.StatusCreated, s.AddBusiness(b))
		}
	})
	mux.HandleFunc("POST /_sim/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		req, ok := decodeControl[struct {
			PhoneNumberID string `json:"phone_number_id"`
			CallbackURL   string `json:"callback_url"`
			VerifyToken   string `json:"verify_token"`
		}](w, r)
		if ok {
			reply(w, http.StatusNoContent, s.Subscribe(req.PhoneNumberID, req.CallbackURL, req.VerifyToken))
		}
	})
	mux.HandleFunc("POST /_sim/customers", func(w http.ResponseWriter, r *http.Request) {
		req, ok := decodeControl[struct {
			WaID        string `json:"wa_id"`
			ProfileName string `json:"profile_name"`
		}](w, r)
		if !ok {
			return
		}
		if !isDigits(req.WaID) {
			reply(w, 0, fmt.Errorf("wa_id %q must be digits: %w", req.WaID, ErrInvalid))
			return
		}
		s.AddCustomer(req.WaID, req.ProfileName)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/customers/{wa_id}/messages", s.ctlCustomerMessage)
	mux.HandleFunc("POST /_sim/customers/{wa_id}/read", func(w http.ResponseWriter, r *http.Request) {
		req, ok := decodeControl[struct {
			MessageID string `json:"message_id"`
		}](w, r)
		if ok {
			reply(w, http.StatusNoContent, s.CustomerRead(r.PathValue("wa_id"), req.MessageID))
		}
	})
	mux.HandleFunc("GET /_sim/customers/{wa_id}/received", func(w http.ResponseWriter, r *http.Request) {
		waID := r.PathValue("wa_id")
		if !s.hasCustomer(waID) {
			reply(w, 0, fmt.Errorf("customer %s: %w", waID, ErrNotFound))
			return
		}
		writeJSON(w, http.StatusOK, append([]Received{}, s.Received(waID)...))
	})
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		req, ok := decodeControl[struct {
			PhoneNumberID string `json:"phone_number_id"`
			Count         int    `json:"count"`
			HTTPStatus    int    `json:"http_status"`
			Code          int    `json:"code"`
		}](w, r)
		if !ok {
			return
		}
		if req.Count < 1 || req.HTTPStatus < 400 || req.HTTPStatus > 599 || req.Code == 0 {
			reply(w, 0, fmt.Errorf("fault needs count ≥ 1, http_status 4xx/5xx and a code: %w", ErrInvalid))
			return
		}
		s.Inject(req.PhoneNumberID, req.Count, req.HTTPStatus, req.Code)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/clock", func(w http.ResponseWriter, r *http.Request) {
		req, ok := decodeControl[struct {
			AdvanceSeconds float64 `json:"advance_seconds"`
		}](w, r)
		if !ok {
			return
		}
		if req.AdvanceSeconds < 0 {
			reply(w, 0, fmt.Errorf("advance_seconds must not be negative: %w", ErrInvalid))
			return
		}
		now := s.AdvanceClock(time.Duration(req.AdvanceSeconds * float64(time.Second)))
		writeJSON(w, http.StatusOK, map[string]time.Time{"now": now})
	})
	mux.HandleFunc("PUT /_sim/templates/{waba_id}/{name}", func(w http.ResponseWriter, r *http.Request) {
		req, ok := decodeControl[struct {
			Status string `json:"status"`
		}](w, r)
		if ok {
			reply(w, http.StatusNoContent, s.SetTemplateStatus(r.PathValue("waba_id"), r.PathValue("name"), req.Status))
		}
	})
	mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"deliveries": s.Deliveries(), "now": s.now()})
	})
}

func (s *Server) ctlCustomerMessage(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeControl[struct {
		PhoneNumberID string `json:"phone_number_id"`
		Text          string `json:"text"`
		ContextID     string `json:"context_id"`
		Image         []byte `json:"image"`
		MimeType      string `json:"mime_type"`
		Caption       string `json:"caption"`
	}](w, r)
	if !ok {
		return
	}
	waID := r.PathValue("wa_id")
	var id string
	var err error
	switch {
	case len(req.Image) > 0 && (req.Text != "" || req.ContextID != ""):
		err = fmt.Errorf("send either image or text: %w", ErrInvalid)
	case len(req.Image) > 0:
		id, err = s.CustomerSendImage(req.PhoneNumberID, waID, req.Image, req.MimeType, req.Caption)
	case req.ContextID != "":
		id, err = s.CustomerReply(req.PhoneNumberID, waID, req.Text, req.ContextID)
	default:
		id, err = s.CustomerSendText(req.PhoneNumberID, waID, req.Text)
	}
	if err != nil {
		reply(w, 0, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

func (s *Server) hasCustomer(waID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.customers[waID] != nil
}

// decodeControl reads a strict JSON body, answering 400 itself when it cannot.
func decodeControl[T any](w http.ResponseWriter, r *http.Request) (T, bool) {
	var v T
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxMediaSize*2))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		reply(w, 0, fmt.Errorf("decode body: %w: %w", ErrInvalid, err))
		return v, false
	}
	return v, true
}

// reply writes an empty success with status, or err mapped to a 4xx JSON answer.
func reply(w http.ResponseWriter, status int, err error) {
	switch {
	case err == nil && status == http.StatusNoContent:
		w.WriteHeader(status)
	case err == nil:
		writeJSON(w, status, map[string]bool{"ok": true})
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, ErrExists):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
}
