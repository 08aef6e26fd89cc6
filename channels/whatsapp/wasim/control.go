package wasim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/whatsmeow/types"
)

// ControlHandler serves the JSON control API (for cmd/wasim, demos, benchmarks and clients
// in other languages). Every route is under /_sim/; bodies and answers are JSON, errors are
// {"error": "..."} with a 4xx/5xx status.
//
//	GET  /_sim/info                          {addr, root_public_key (base64), media_host}
//	GET  /_sim/stats | /_sim/devices | /_sim/routed
//	POST /_sim/phones                        {number, push_name?, status?} -> {jid, lid}
//	POST /_sim/phones/bulk                   {prefix, count, start?, digits?} -> {numbers}
//	POST /_sim/phones/{number}/scan          {qr} -> {device}
//	POST /_sim/phones/{number}/pair-code     {code} -> {device}
//	POST /_sim/phones/{number}/send          {to, text} -> {id}
//	POST /_sim/phones/{number}/image         {to, data (base64), mimetype, caption?} -> {id}
//	POST /_sim/phones/{number}/edit          {to, id, text} -> {id}
//	POST /_sim/phones/{number}/revoke        {to, id} -> {id}
//	POST /_sim/phones/{number}/react         {to, id, sender?, reaction} -> {id}
//	POST /_sim/phones/{number}/receipt       {to, ids, type: read|played|delivered}
//	POST /_sim/phones/{number}/push-name     {text}
//	POST /_sim/phones/{number}/contact       {to, first_name, text (full name)}
//	POST /_sim/phones/{number}/presence      {available}
//	GET  /_sim/phones/{number}/messages | /_sim/phones/{number}/receipts
//	POST /_sim/faults/{kind}                 {jid, reason?, count?, extra?, duration_ms?}
//	     kind: drop | replace | device-removed | fail | refuse-logins | clear-refusal |
//	           delay-acks | drop-acks | slow-link | corrupt
//
// "to", "jid" and "sender" take a JID or a bare phone number; for the faults that act on one
// linked device, a phone number (or account JID) means that account's linked device. See
// README.md for every fault with curl lines.
func (s *Simulator) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/info", func(w http.ResponseWriter, r *http.Request) {
		root := s.RootPublicKey()
		writeJSON(w, http.StatusOK, map[string]string{
			"addr": s.Addr(), "root_public_key": base64.StdEncoding.EncodeToString(root[:]), "media_host": MediaHost,
		})
	})
	mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Stats()) })
	mux.HandleFunc("GET /_sim/devices", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Devices()) })
	mux.HandleFunc("GET /_sim/routed", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Routed()) })
	mux.HandleFunc("POST /_sim/phones", s.ctlNewPhone)
	mux.HandleFunc("POST /_sim/phones/bulk", s.ctlBulkPhones)
	mux.HandleFunc("POST /_sim/phones/{number}/{action}", s.ctlPhoneAction)
	mux.HandleFunc("GET /_sim/phones/{number}/messages", func(w http.ResponseWriter, r *http.Request) {
		if p := s.ctlPhone(w, r); p != nil {
			writeJSON(w, http.StatusOK, p.Messages())
		}
	})
	mux.HandleFunc("GET /_sim/phones/{number}/receipts", func(w http.ResponseWriter, r *http.Request) {
		if p := s.ctlPhone(w, r); p != nil {
			writeJSON(w, http.StatusOK, p.Receipts())
		}
	})
	mux.HandleFunc("POST /_sim/faults/{kind}", s.ctlFault)
	return mux
}

type ctlRequest struct {
	Number     string         `json:"number"`
	PushName   string         `json:"push_name"`
	Status     string         `json:"status"`
	QR         string         `json:"qr"`
	Code       string         `json:"code"`
	To         string         `json:"to"`
	JID        string         `json:"jid"`
	Sender     string         `json:"sender"`
	Text       string         `json:"text"`
	ID         string         `json:"id"`
	IDs        []string       `json:"ids"`
	Type       string         `json:"type"`
	Reaction   string         `json:"reaction"`
	Data       []byte         `json:"data"`
	Mimetype   string         `json:"mimetype"`
	Caption    string         `json:"caption"`
	Reason     int            `json:"reason"`
	Count      int            `json:"count"`
	Extra      map[string]any `json:"extra"`
	DurationMS int64          `json:"duration_ms"`
	FirstName  string         `json:"first_name"`
	Available  bool           `json:"available"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrUnknownUser), errors.Is(err, ErrUnknownRef), errors.Is(err, ErrNoPairingCode), errors.Is(err, ErrMediaNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrNotConnected):
		status = http.StatusConflict
	case errors.Is(err, errBadRequest):
		status = http.StatusBadRequest
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

var errBadRequest = errors.New("bad request")

func decodeReq(r *http.Request) (ctlRequest, error) {
	var req ctlRequest
	if r.ContentLength == 0 {
		return req, nil
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxMediaSize*2)).Decode(&req); err != nil {
		return req, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return req, nil
}

// parseUserJID accepts a JID ("123@s.whatsapp.net", "123:1@lid") or a bare number.
func parseUserJID(v string) (types.JID, error) {
	if v == "" {
		return types.EmptyJID, fmt.Errorf("%w: missing jid", errBadRequest)
	}
	if !strings.Contains(v, "@") {
		return types.NewJID(onlyDigits(v), types.DefaultUserServer), nil
	}
	j, err := types.ParseJID(v)
	if err != nil {
		return types.EmptyJID, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return j, nil
}

func (s *Simulator) ctlNewPhone(w http.ResponseWriter, r *http.Request) {
	req, err := decodeReq(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	p, err := s.NewPhone(req.Number)
	if err != nil {
		writeErr(w, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	if req.PushName != "" {
		p.SetPushName(req.PushName)
	}
	if req.Status != "" {
		p.SetStatus(req.Status)
	}
	writeJSON(w, http.StatusCreated, map[string]types.JID{"jid": p.JID(), "lid": p.LID()})
}

// maxBulkPhones bounds one bulk request (each phone holds its keys and 100 pre-keys in memory).
const maxBulkPhones = 100000

// bulkPhonesRequest asks for count phones numbered prefix + the zero-padded indexes start …
// start+count-1, each padded to digits (default 8) digits.
type bulkPhonesRequest struct {
	Prefix string `json:"prefix"`
	Count  int    `json:"count"`
	Start  int    `json:"start"`
	Digits int    `json:"digits"`
}

// ctlBulkPhones creates many phones in one request, for benchmarks that pair thousands of
// sessions: one round trip instead of one per phone. Existing phones are kept, as POST
// /_sim/phones does.
func (s *Simulator) ctlBulkPhones(w http.ResponseWriter, r *http.Request) {
	var req bulkPhonesRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		writeErr(w, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	if req.Digits == 0 {
		req.Digits = 8
	}
	var problems []error
	if req.Prefix == "" || onlyDigits(req.Prefix) != req.Prefix {
		problems = append(problems, fmt.Errorf("prefix %q: digits only, required", req.Prefix))
	}
	if req.Count < 1 || req.Count > maxBulkPhones {
		problems = append(problems, fmt.Errorf("count %d: want 1..%d", req.Count, maxBulkPhones))
	}
	if req.Start < 0 || req.Digits < 1 || req.Digits > 12 {
		problems = append(problems, fmt.Errorf("start %d, digits %d: want start >= 0 and 1..12 digits", req.Start, req.Digits))
	} else if last := req.Start + req.Count - 1; len(strconv.Itoa(last)) > req.Digits {
		problems = append(problems, fmt.Errorf("index %d does not fit in %d digits", last, req.Digits))
	}
	if err := errors.Join(problems...); err != nil {
		writeErr(w, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	numbers := make([]string, req.Count)
	for i := range req.Count {
		number := fmt.Sprintf("%s%0*d", req.Prefix, req.Digits, req.Start+i)
		if _, err := s.NewPhone(number); err != nil {
			writeErr(w, fmt.Errorf("%w: %w", errBadRequest, err))
			return
		}
		numbers[i] = number
	}
	writeJSON(w, http.StatusCreated, map[string][]string{"numbers": numbers})
}

func (s *Simulator) ctlPhone(w http.ResponseWriter, r *http.Request) *Phone {
	p, ok := s.Phone(r.PathValue("number"))
	if !ok {
		writeErr(w, fmt.Errorf("phone %s: %w", r.PathValue("number"), ErrUnknownUser))
		return nil
	}
	return p
}

func (s *Simulator) ctlPhoneAction(w http.ResponseWriter, r *http.Request) {
	p := s.ctlPhone(w, r)
	if p == nil {
		return
	}
	req, err := decodeReq(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	action := r.PathValue("action")
	var to types.JID
	if req.To != "" {
		if to, err = parseUserJID(req.To); err != nil {
			writeErr(w, err)
			return
		}
	}
	var id string
	switch action {
	case "scan", "pair-code":
		var dev types.JID
		if action == "scan" {
			dev, err = p.ScanQR(ctx, req.QR)
		} else {
			dev, err = p.PairWithCode(ctx, req.Code)
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]types.JID{"device": dev})
		return
	case "send":
		id, err = p.SendText(ctx, to, req.Text)
	case "image":
		id, err = p.SendImage(ctx, to, req.Data, req.Mimetype, req.Caption)
	case "edit":
		id, err = p.Edit(ctx, to, req.ID, req.Text)
	case "revoke":
		id, err = p.Revoke(ctx, to, req.ID)
	case "react":
		var sender types.JID
		if req.Sender != "" {
			if sender, err = parseUserJID(req.Sender); err != nil {
				writeErr(w, err)
				return
			}
		}
		id, err = p.React(ctx, to, sender, req.ID, req.Reaction)
	case "push-name":
		p.SetPushName(req.Text)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	case "contact":
		if err = p.SetContactName(to, req.FirstName, req.Text); err == nil {
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
			return
		}
	case "presence":
		p.SetAvailable(req.Available)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	case "receipt":
		typ := types.ReceiptType(req.Type)
		if req.Type == "delivered" {
			typ = types.ReceiptTypeDelivered
		}
		if err = p.SendReceipt(ctx, to, req.IDs, typ); err == nil {
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

// deviceScoped are the faults that act on one linked device.
var deviceScoped = map[string]bool{"drop": true, "replace": true, "device-removed": true, "fail": true,
	"delay-acks": true, "drop-acks": true, "slow-link": true, "corrupt": true}

// linkedDevice is the one linked (companion) device of the account j names; an account with none,
// or several, must be given the device JID instead.
func (s *Simulator) linkedDevice(j types.JID) (types.JID, error) {
	s.mu.Lock()
	known := s.accountFor(j) != nil
	s.mu.Unlock()
	if !known {
		return types.EmptyJID, fmt.Errorf("%w: %s", ErrUnknownUser, j)
	}
	var found []types.JID
	for _, d := range s.Devices() {
		if !d.Phone && d.State == DeviceActive && (d.JID.User == j.User || d.LID.User == j.User) {
			found = append(found, d.JID)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return types.EmptyJID, fmt.Errorf("%w: %s has no linked device", errBadRequest, j.User)
	}
	return types.EmptyJID, fmt.Errorf("%w: %s has %d linked devices: give the device JID (%s)", errBadRequest, j.User, len(found), found[0])
}

func (s *Simulator) ctlFault(w http.ResponseWriter, r *http.Request) {
	req, err := decodeReq(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	kind := r.PathValue("kind")
	var jid types.JID
	if req.JID != "" {
		if jid, err = parseUserJID(req.JID); err != nil {
			writeErr(w, err)
			return
		}
	} else if kind != "refuse-logins" && kind != "clear-refusal" {
		writeErr(w, fmt.Errorf("%w: jid is required", errBadRequest))
		return
	}
	if deviceScoped[kind] && jid.Device == 0 {
		// A phone number or account JID where one device is meant: its linked device.
		if jid, err = s.linkedDevice(jid); err != nil {
			writeErr(w, err)
			return
		}
	}
	d := time.Duration(req.DurationMS) * time.Millisecond
	f := s.Faults
	switch kind {
	case "drop":
		err = f.DropConnection(jid)
	case "replace":
		err = f.Replace(jid)
	case "device-removed":
		err = f.DeviceRemoved(jid)
	case "fail":
		err = f.Fail(jid, req.Reason, req.Extra)
	case "refuse-logins":
		count := req.Count
		if count == 0 {
			count = -1
		}
		err = f.RefuseLogins(jid, req.Reason, count, req.Extra)
	case "clear-refusal":
		f.ClearRefusal()
	case "delay-acks":
		err = f.DelayAcks(jid, d)
	case "drop-acks":
		err = f.DropAcks(jid, req.Count)
	case "slow-link":
		err = f.SlowLink(jid, d)
	case "corrupt":
		err = f.CorruptNext(jid, max(req.Count, 1))
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
