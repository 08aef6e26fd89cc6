package whatsapp

import (
	"container/list"
	"context"
	"sync"

	"github.com/28web/hub/channels/core"
)

// MessageBodies looks up the text of a message the gateway stored, for the previousBody of
// message_edit and message_revoke_everyone events. It is called before the WhatsApp ack of the
// edit is released, so it should answer quickly. A missing message returns ("", nil) or an error
// wrapping core.ErrNotFound.
type MessageBodies interface {
	Body(ctx context.Context, session core.SessionID, msg core.MessageID) (string, error)
}

// recentKey identifies a message of a session.
type recentKey struct {
	session core.SessionID
	msg     core.MessageID
}

// recentMessage is what the channel remembers about a recent message: its body (previousBody of
// edits and revokes when no MessageBodies is given) and its sender (to build reply and reaction
// keys that point at the right author).
type recentMessage struct {
	chat   string
	sender string
	fromMe bool
	body   string
	// edits is set on the protocol message that edited or revoked a message (its target):
	// receipts of such a message are not progress of anything the API returned, and are dropped.
	edits core.MessageID
}

// recentMessages is one bounded LRU shared by every session, so that idle sessions cost nothing.
type recentMessages struct {
	mu    sync.Mutex
	max   int
	order *list.List
	items map[recentKey]*list.Element
}

type recentEntry struct {
	key recentKey
	val recentMessage
}

func newRecentMessages(max int) *recentMessages {
	return &recentMessages{max: max, order: list.New(), items: make(map[recentKey]*list.Element)}
}

func (r *recentMessages) put(k recentKey, v recentMessage) {
	if r.max <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.items[k]; ok {
		e.Value.(*recentEntry).val = v
		r.order.MoveToFront(e)
		return
	}
	r.items[k] = r.order.PushFront(&recentEntry{key: k, val: v})
	for r.order.Len() > r.max {
		last := r.order.Back()
		r.order.Remove(last)
		delete(r.items, last.Value.(*recentEntry).key)
	}
}

func (r *recentMessages) get(k recentKey) (recentMessage, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.items[k]
	if !ok {
		return recentMessage{}, false
	}
	r.order.MoveToFront(e)
	return e.Value.(*recentEntry).val, true
}

// dropSession forgets every message of a deleted session.
func (r *recentMessages) dropSession(id core.SessionID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.items {
		if k.session == id {
			r.order.Remove(e)
			delete(r.items, k)
		}
	}
}
