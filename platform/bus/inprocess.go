package bus

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// inProcess is the bus without Redis. It gives the same delivery contract as the Redis Streams
// bus, in memory:
//
//   - every consumer group subscribed to a topic gets every message published after the group's
//     first subscription (a group, once seen, keeps receiving while its consumers are away);
//   - messages published before any group subscribed to the topic wait (up to backlogLimit,
//     oldest dropped first) and go to the first group, as a new Redis group reads its stream
//     from the start: a publisher starting before its consumers loses nothing;
//   - inside a group, each message goes to one consumer, and each consumer has at most one
//     message in flight, delivered in publish order;
//   - a message is redelivered on Nack, and when its consumer stops before acking it goes back to
//     the head of the group's queue for the next consumer;
//   - Publish never waits for consumers.
//
// Watermill's GoChannel was the obvious candidate and was rejected on purpose: it broadcasts to
// every subscriber (no consumer groups); with BlockPublishUntilSubscriberAck=false it hands each
// subscriber many messages at once and out of order; with true, Publish waits for every
// consumer, so an inbound WhatsApp event would wait for webhook retries and a handler that
// publishes to a busy topic could deadlock; Persistent keeps every message forever.
type inProcess struct {
	logger watermill.LoggerAdapter
	// incarnation tells this bus's positions from another process's: they never compare.
	incarnation string

	mu      sync.Mutex
	queues  map[string]map[string]*groupQueue // topic → consumer group → queue
	backlog map[string][]entry                // topic without groups yet → its messages
	next    map[string]uint64                 // topic → sequence of its next message
	taps    map[string]map[*tap]struct{}      // topic → live tails (see Tail)
	recent  map[string][]entry                // topic → its last messages, for tails that resume
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup // delivery goroutines
}

// entry is a queued message and its position in its topic.
type entry struct {
	msg *message.Message
	id  StreamID
}

func newInProcess(logger watermill.LoggerAdapter) *inProcess {
	return &inProcess{
		logger:      logger,
		incarnation: "inprocess-" + rand.Text(),
		queues:      map[string]map[string]*groupQueue{},
		backlog:     map[string][]entry{},
		next:        map[string]uint64{},
		taps:        map[string]map[*tap]struct{}{},
		recent:      map[string][]entry{},
		closing:     make(chan struct{}),
	}
}

// Publish queues a copy of each message for every consumer group of topic. It is safe for
// concurrent use.
func (p *inProcess) Publish(topic string, msgs ...*message.Message) error {
	_, err := p.append(topic, msgs)
	return err
}

// append is Publish returning the messages' positions.
func (p *inProcess) append(topic string, msgs []*message.Message) ([]StreamID, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("in-process bus closed")
	}
	ids := make([]StreamID, len(msgs))
	for i := range msgs {
		p.next[topic]++
		ids[i] = StreamID{Seq: p.next[topic]}
	}
	p.feedTails(topic, msgs, ids)
	groups := p.queues[topic]
	if len(groups) == 0 {
		p.keep(topic, msgs, ids)
		return ids, nil
	}
	for _, q := range groups {
		for i, m := range msgs {
			q.push(entry{msg: m.Copy(), id: ids[i]})
		}
	}
	return ids, nil
}

// floor reports how far topic's groups got; every expected group this bus knows once it
// subscribed, so expected adds nothing here.
func (p *inProcess) floor(topic string) Floor {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := Floor{Incarnation: p.incarnation}
	groups := p.queues[topic]
	if len(groups) == 0 {
		f.Length = int64(len(p.backlog[topic]))
		return f
	}
	next := StreamID{Seq: p.next[topic] + 1}
	first := true
	for name, q := range groups {
		below, pending, queued := q.progress(next)
		f.Groups = append(f.Groups, GroupState{Name: name, Pending: pending, Lag: queued})
		f.Length = max(f.Length, pending+queued)
		if first || below.Less(f.Below) {
			f.Below, first = below, false
		}
	}
	return f
}

// backlogLimit bounds the messages kept for a topic no group has subscribed yet.
const backlogLimit = 10_000

// keep adds copies of msgs to topic's backlog. p.mu must be held.
func (p *inProcess) keep(topic string, msgs []*message.Message, ids []StreamID) {
	kept := p.backlog[topic]
	for i, m := range msgs {
		kept = append(kept, entry{msg: m.Copy(), id: ids[i]})
	}
	if over := len(kept) - backlogLimit; over > 0 {
		p.logger.Error("No consumer group on topic, oldest messages dropped", nil,
			watermill.LogFields{"topic": topic, "dropped": over})
		kept = append([]entry(nil), kept[over:]...)
	}
	p.backlog[topic] = kept
}

// Close is a no-op: the publisher is shared, the Bus closes the whole pub/sub.
func (p *inProcess) Close() error { return nil }

// shutdown stops every delivery and waits for them.
func (p *inProcess) shutdown() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.closing)
	p.mu.Unlock()
	p.wg.Wait()
}

// subscriber returns a Subscriber consuming as group.
func (p *inProcess) subscriber(group string) *inProcessSubscriber {
	return &inProcessSubscriber{p: p, group: group, closing: make(chan struct{})}
}

type inProcessSubscriber struct {
	p     *inProcess
	group string

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup
}

var _ message.Subscriber = (*inProcessSubscriber)(nil)

// Subscribe joins the group's queue for topic; the channel closes when ctx ends or the
// subscriber or bus closes.
func (s *inProcessSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("subscriber closed")
	}
	p := s.p
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("in-process bus closed")
	}
	groups := p.queues[topic]
	if groups == nil {
		groups = map[string]*groupQueue{}
		p.queues[topic] = groups
	}
	q := groups[s.group]
	if q == nil {
		q = newGroupQueue()
		if len(groups) == 0 {
			q.items = p.backlog[topic]
			delete(p.backlog, topic)
		}
		groups[s.group] = q
	}
	p.wg.Add(1)
	p.mu.Unlock()

	s.wg.Add(1)
	out := make(chan *message.Message)
	go func() {
		defer p.wg.Done()
		defer s.wg.Done()
		defer close(out)
		for {
			e, ok := q.pop(ctx, s.closing, p.closing)
			if !ok {
				return
			}
			delivered := s.deliver(ctx, q, e, out)
			q.done(e.id)
			if !delivered {
				return
			}
		}
	}()
	return out, nil
}

// deliver hands e to the consumer until it is acked. It reports false, having put e back at the
// head of the queue, when the subscription stops first.
func (s *inProcessSubscriber) deliver(ctx context.Context, q *groupQueue, e entry, out chan<- *message.Message) bool {
	msg := e.msg
	for {
		// A fresh copy per attempt: a Nacked message cannot be acked again.
		m := msg.Copy()
		mctx, cancel := context.WithCancel(ctx)
		m.SetContext(mctx)
		select {
		case out <- m:
		case <-ctx.Done():
			cancel()
			q.requeue(e)
			return false
		case <-s.closing:
			cancel()
			q.requeue(e)
			return false
		case <-s.p.closing:
			cancel()
			return false
		}
		select {
		case <-m.Acked():
			cancel()
			return true
		case <-m.Nacked():
			cancel()
		case <-ctx.Done():
			cancel()
			q.requeue(e)
			return false
		case <-s.closing:
			cancel()
			q.requeue(e)
			return false
		case <-s.p.closing:
			cancel()
			return false
		}
	}
}

// Close ends this subscriber's subscriptions and waits for them; unacked messages return to
// their group's queue.
func (s *inProcessSubscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// groupQueue is one consumer group's FIFO of messages for one topic.
type groupQueue struct {
	mu    sync.Mutex
	items []entry
	// inFlight holds the positions of messages handed to a consumer and not acked yet.
	inFlight map[StreamID]struct{}
	// wake is closed and replaced whenever items grows, waking every waiting consumer.
	wake chan struct{}
}

func newGroupQueue() *groupQueue {
	return &groupQueue{wake: make(chan struct{}), inFlight: map[StreamID]struct{}{}}
}

func (q *groupQueue) push(e entry) {
	q.mu.Lock()
	q.items = append(q.items, e)
	q.signal()
	q.mu.Unlock()
}

func (q *groupQueue) requeue(e entry) {
	q.mu.Lock()
	q.items = append([]entry{e}, q.items...)
	q.signal()
	q.mu.Unlock()
}

// done ends the delivery of the message at id (acked, or put back in the queue).
func (q *groupQueue) done(id StreamID) {
	q.mu.Lock()
	delete(q.inFlight, id)
	q.mu.Unlock()
}

// progress is the position below which the group acked everything (next when it holds nothing),
// and its counts of messages in flight and queued.
func (q *groupQueue) progress(next StreamID) (below StreamID, pending, queued int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	below = next
	if len(q.items) > 0 {
		below = q.items[0].id
		// A requeued message may sit at the head with a later one behind it already handed out.
		for _, e := range q.items[1:] {
			if e.id.Less(below) {
				below = e.id
			}
		}
	}
	for id := range q.inFlight {
		if id.Less(below) {
			below = id
		}
	}
	return below, int64(len(q.inFlight)), int64(len(q.items))
}

// signal must be called with q.mu held.
func (q *groupQueue) signal() {
	close(q.wake)
	q.wake = make(chan struct{})
}

// pop takes the head message, waiting for one until ctx ends or a stop channel closes; the
// message counts as in flight until done.
func (q *groupQueue) pop(ctx context.Context, stop1, stop2 <-chan struct{}) (entry, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			e := q.items[0]
			q.items[0] = entry{}
			q.items = q.items[1:]
			q.inFlight[e.id] = struct{}{}
			q.mu.Unlock()
			return e, true
		}
		wake := q.wake
		q.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return entry{}, false
		case <-stop1:
			return entry{}, false
		case <-stop2:
			return entry{}, false
		}
	}
}
