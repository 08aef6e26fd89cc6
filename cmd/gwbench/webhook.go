package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// webhookReceiver is the bench's endpoint for the gateway's global webhook (APP_WEBHOOK_URL): it
// notes when each message's events arrive. It does not verify signatures: it is on loopback
// and only the gateway under test knows its address.
type webhookReceiver struct {
	srv *http.Server
	url string

	mu sync.Mutex
	// sent: message_create of an outgoing message (the simulator acknowledged it); delivered:
	// the first message_ack with ack >= 1 (the phone's delivery receipt); inbound: message from a
	// phone. Each by message id, the time the webhook arrived.
	sent, delivered, inbound map[string]time.Time
	events                   map[string]int
}

// envelope is the part of the webhook body {id, sessionId, event, timestamp, data} the bench reads.
type envelope struct {
	Event string `json:"event"`
	Data  struct {
		ID     string `json:"id"`
		FromMe bool   `json:"fromMe"`
		Ack    int    `json:"ack"`
	} `json:"data"`
}

func startWebhookReceiver() (*webhookReceiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	w := &webhookReceiver{url: "http://" + l.Addr().String() + "/hook"}
	w.reset()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hook", w.handle)
	w.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := w.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("webhook receiver", "err", err)
		}
	}()
	return w, nil
}

func (w *webhookReceiver) close() error { return w.srv.Shutdown(context.Background()) }

// reset forgets everything received so far.
func (w *webhookReceiver) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sent = make(map[string]time.Time)
	w.delivered = make(map[string]time.Time)
	w.inbound = make(map[string]time.Time)
	w.events = make(map[string]int)
}

func (w *webhookReceiver) handle(rw http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.events[e.Event]++
	switch {
	case e.Event == "message_create" && e.Data.FromMe:
		firstTime(w.sent, e.Data.ID, at)
	case e.Event == "message_ack" && e.Data.Ack >= 1:
		firstTime(w.delivered, e.Data.ID, at)
	case e.Event == "message" && !e.Data.FromMe:
		firstTime(w.inbound, e.Data.ID, at)
	}
	w.mu.Unlock()
	rw.WriteHeader(http.StatusNoContent)
}

func firstTime(m map[string]time.Time, id string, at time.Time) {
	if _, ok := m[id]; !ok && id != "" {
		m[id] = at
	}
}

// times returns when each of ids arrived in the chosen map (missing ones absent).
func (w *webhookReceiver) times(which func(*webhookReceiver) map[string]time.Time, ids []string) map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := which(w)
	out := make(map[string]time.Time, len(ids))
	for _, id := range ids {
		if t, ok := m[id]; ok {
			out[id] = t
		}
	}
	return out
}

func sentMap(w *webhookReceiver) map[string]time.Time      { return w.sent }
func deliveredMap(w *webhookReceiver) map[string]time.Time { return w.delivered }
func inboundMap(w *webhookReceiver) map[string]time.Time   { return w.inbound }

// waitAll waits until every id has arrived in the chosen map; it returns how many are missing
// when timeout passes first.
func (w *webhookReceiver) waitAll(ctx context.Context, which func(*webhookReceiver) map[string]time.Time, ids []string, timeout time.Duration) (missing int, err error) {
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		m := which(w)
		missing = 0
		for _, id := range ids {
			if _, ok := m[id]; !ok {
				missing++
			}
		}
		w.mu.Unlock()
		if missing == 0 || time.Now().After(deadline) {
			return missing, nil
		}
		select {
		case <-ctx.Done():
			return missing, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// eventCounts is a copy of how many events of each type arrived.
func (w *webhookReceiver) eventCounts() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.events))
	for k, v := range w.events {
		out[k] = v
	}
	return out
}
