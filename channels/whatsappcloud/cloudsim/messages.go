package cloudsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const maxMessageBody = 1 << 20

type sendResponse struct {
	MessagingProduct string        `json:"messaging_product"`
	Contacts         []sendContact `json:"contacts"`
	Messages         []sentMessage `json:"messages"`
}

type sendContact struct {
	Input string `json:"input"`
	WaID  string `json:"wa_id"`
}

type sentMessage struct {
	ID            string `json:"id"`
	MessageStatus string `json:"message_status,omitempty"`
}

func unixString(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// postMessages serves both sends and mark-as-read, which share the endpoint.
func (s *Server) postMessages(w http.ResponseWriter, r *http.Request, obj object) *graphError {
	body, gerr := readJSONObject(w, r)
	if gerr != nil {
		return gerr
	}
	if _, ok := body["status"]; ok {
		return s.markRead(w, obj.phone, body)
	}
	resp, release, gerr := s.acceptSend(obj.phone, body)
	if gerr != nil {
		return gerr
	}
	// The statuses wait until the answer is on the wire, so a client learns the wamid first.
	defer release()
	writeJSON(w, http.StatusOK, resp)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

func readJSONObject(w http.ResponseWriter, r *http.Request) (map[string]any, *graphError) {
	var body map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxMessageBody)).Decode(&body); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, invalidParam("request body must be at most %d bytes", maxMessageBody)
		}
		return nil, invalidParam("request body must be a JSON object: %v", err)
	}
	if body == nil {
		return nil, invalidParam("request body must be a JSON object")
	}
	return body, nil
}

// acceptSend applies injected faults, validation, throughput and pair rate, then records the
// message and queues its statuses (held until release).
func (s *Server) acceptSend(p *phone, body map[string]any) (sendResponse, func(), *graphError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.takeFaultLocked(p.id); ok {
		return sendResponse{}, nil, newGraphError(f.status, f.code, "")
	}
	req, gerr := s.validateSendLocked(p, body)
	if gerr != nil {
		return sendResponse{}, nil, gerr
	}
	now := s.now()
	if !p.bucket.allow(now, s.cfg.Throughput) {
		return sendResponse{}, nil, newGraphError(http.StatusTooManyRequests, 130429, "")
	}
	sends, ok := allowPair(p.pairSends[req.waID], now, s.cfg.PairRateBurst, s.cfg.PairRateWindow)
	p.pairSends[req.waID] = sends
	if !ok {
		return sendResponse{}, nil, newGraphError(http.StatusBadRequest, 131056, "")
	}

	rec := &messageRecord{id: newWamid(), phoneID: p.id, waID: req.waID}
	s.messages[rec.id] = rec
	ts := unixString(now)
	var statuses []status
	outcome := "sent"
	switch cust := s.customers[req.waID]; {
	case cust == nil:
		rec.failed, outcome = true, "failed: unknown recipient"
		statuses = append(statuses, failedStatus(rec, ts, 131026))
	case req.template == nil && !p.windowOpenLocked(req.waID, now):
		rec.failed, outcome = true, "failed: outside the 24h window"
		statuses = append(statuses, failedStatus(rec, ts, 131047))
	default:
		category := "service"
		if req.template != nil {
			category = strings.ToLower(req.template.Category)
		}
		conv := p.conversationLocked(req.waID, category, now)
		sent := status{
			ID: rec.id, Status: "sent", Timestamp: ts, RecipientID: req.waID,
			Conversation: &conversationInfo{ID: conv.id, ExpirationTimestamp: unixString(conv.expires), Origin: conversationOrigin{Type: conv.origin}},
			Pricing:      &pricing{Billable: true, PricingModel: "CBP", Category: category},
		}
		statuses = append(statuses, sent)
		if s.cfg.AutoDeliver {
			delivered := sent
			delivered.Status = "delivered"
			delivered.Conversation = &conversationInfo{ID: conv.id, Origin: conversationOrigin{Type: conv.origin}}
			statuses = append(statuses, delivered)
		}
		cust.received = append(cust.received, Received{ID: rec.id, PhoneNumberID: p.id, Type: req.msgType, Body: body, At: now})
	}
	bodies := make([][]byte, 0, len(statuses))
	for _, st := range statuses {
		b, err := p.notificationBody(changeValue{Statuses: []status{st}})
		if err != nil {
			s.log.Error("status notification", slog.Any("error", err))
			continue
		}
		bodies = append(bodies, b)
	}
	release := p.pusher.enqueue(true, bodies...)
	s.log.Info("message accepted", slog.String("phoneNumberId", p.id), slog.String("wamid", rec.id),
		slog.String("type", req.msgType), slog.String("outcome", outcome))

	resp := sendResponse{
		MessagingProduct: "whatsapp",
		Contacts:         []sendContact{{Input: req.to, WaID: req.waID}},
		Messages:         []sentMessage{{ID: rec.id}},
	}
	if req.template != nil {
		resp.Messages[0].MessageStatus = "accepted"
	}
	return resp, release, nil
}

func failedStatus(rec *messageRecord, ts string, code int) status {
	return status{ID: rec.id, Status: "failed", Timestamp: ts, RecipientID: rec.waID, Errors: []statusError{newStatusError(code)}}
}

// markRead handles {"status":"read","message_id":...}, optionally with a typing indicator.
func (s *Server) markRead(w http.ResponseWriter, p *phone, body map[string]any) *graphError {
	if product, _, _ := field[string](body, "messaging_product", "messaging_product"); product != "whatsapp" {
		return invalidParam("Param messaging_product must be 'whatsapp'")
	}
	if st, _, _ := field[string](body, "status", "status"); st != "read" {
		return invalidParam("Param status must be 'read'")
	}
	id, gerr := requiredString(body, "message_id", "message_id")
	if gerr != nil {
		return gerr
	}
	if ti, present, gerr := field[map[string]any](body, "typing_indicator", "typing_indicator"); gerr != nil {
		return gerr
	} else if present {
		if typ, _, _ := field[string](ti, "type", "typing_indicator['type']"); typ != "text" {
			return invalidParam("Param typing_indicator['type'] must be 'text'")
		}
	}
	s.mu.Lock()
	rec := s.messages[id]
	if rec == nil || !rec.inbound || rec.phoneID != p.id {
		s.mu.Unlock()
		return invalidParam("Param message_id is not a valid message id")
	}
	if c := s.customers[rec.waID]; c != nil {
		c.markRequests++
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	return nil
}

// CustomerRead makes customer waID read message wamid (sent to them and not failed), pushing
// a "read" status.
func (s *Server) CustomerRead(waID, wamid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.messages[wamid]
	if rec == nil || rec.inbound || rec.failed || rec.waID != waID {
		return fmt.Errorf("customer %s read %s: no such message delivered to them: %w", waID, wamid, ErrNotFound)
	}
	p := s.phones[rec.phoneID]
	body, err := p.notificationBody(changeValue{Statuses: []status{{
		ID: wamid, Status: "read", Timestamp: unixString(s.now()), RecipientID: waID,
	}}})
	if err != nil {
		return fmt.Errorf("customer %s read %s: %w", waID, wamid, err)
	}
	p.pusher.enqueue(false, body)
	return nil
}
