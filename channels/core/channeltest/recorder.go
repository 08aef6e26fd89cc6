package channeltest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/28web/hub/channels/core"
)

// Recorder is an EventSink that keeps every event, for tests to wait on.
type Recorder struct {
	mu     sync.Mutex
	events []core.Event
	notify chan struct{}
}

var _ core.EventSink = (*Recorder)(nil)

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{notify: make(chan struct{})} }

// Publish records the event.
func (r *Recorder) Publish(_ context.Context, e core.Event) error {
	r.mu.Lock()
	r.events = append(r.events, e)
	close(r.notify)
	r.notify = make(chan struct{})
	r.mu.Unlock()
	return nil
}

// Events returns a copy of every event recorded so far.
func (r *Recorder) Events() []core.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]core.Event(nil), r.events...)
}

// Wait returns the first recorded event (past or future) matching match, failing the test when none
// arrives within timeout.
func (r *Recorder) Wait(t testing.TB, timeout time.Duration, what string, match func(core.Event) bool) core.Event {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		r.mu.Lock()
		for ; seen < len(r.events); seen++ {
			if match(r.events[seen]) {
				e := r.events[seen]
				r.mu.Unlock()
				return e
			}
		}
		notify := r.notify
		r.mu.Unlock()
		select {
		case <-notify:
		case <-deadline.C:
			t.Fatalf("no %s event within %s", what, timeout)
			return core.Event{}
		}
	}
}

// Is matches events of a session and type whose data satisfies pred (nil matches any).
func Is[T core.EventData](session core.SessionID, pred func(T) bool) func(core.Event) bool {
	return func(e core.Event) bool {
		if e.SessionID != session {
			return false
		}
		d, ok := e.Data.(T)
		return ok && (pred == nil || pred(d))
	}
}

// Eventually polls cond until it holds, failing the test after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; ; wait = min(wait*2, 100*time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s", what, timeout)
		}
		time.Sleep(wait)
	}
}
