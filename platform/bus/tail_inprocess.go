package bus

import (
	"context"
	"errors"

	"github.com/ThreeDotsLabs/watermill/message"
)

// tap is one live tail of an in-process topic.
type tap struct {
	ch     chan Tailed
	behind bool // its reader fell behind: it was cut off
}

// feedTails hands copies of msgs to topic's tails and keeps them for tails that resume. p.mu
// must be held; it never blocks: a tail whose buffer is full is cut off (ErrTailBehind).
func (p *inProcess) feedTails(topic string, msgs []*message.Message, ids []StreamID) {
	kept := p.recent[topic]
	for i, m := range msgs {
		kept = append(kept, entry{msg: m, id: ids[i]})
	}
	if over := len(kept) - tailBuffer; over > 0 {
		kept = append([]entry(nil), kept[over:]...)
	}
	p.recent[topic] = kept
	for t := range p.taps[topic] {
		for i, m := range msgs {
			select {
			case t.ch <- Tailed{ID: ids[i].String(), Msg: m.Copy()}:
			default:
				t.behind = true
			}
			if t.behind {
				delete(p.taps[topic], t)
				close(t.ch)
				break
			}
		}
	}
}

// tail is Tail on the in-process bus.
func (p *inProcess) tail(ctx context.Context, topic string, resume bool, after StreamID) (<-chan Tailed, func() error, error) {
	t := &tap{ch: make(chan Tailed, tailBuffer)}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, nil, errors.New("in-process bus closed")
	}
	if resume {
		for _, e := range p.recent[topic] {
			if after.Less(e.id) {
				t.ch <- Tailed{ID: e.id.String(), Msg: e.msg.Copy()} // fits: recent holds at most tailBuffer
			}
		}
	}
	if p.taps[topic] == nil {
		p.taps[topic] = map[*tap]struct{}{}
	}
	p.taps[topic][t] = struct{}{}
	p.mu.Unlock()

	out := make(chan Tailed)
	done := make(chan struct{})
	var tailErr error
	go func() {
		defer close(done)
		defer close(out)
		defer func() {
			p.mu.Lock()
			if _, ok := p.taps[topic][t]; ok {
				delete(p.taps[topic], t)
				close(t.ch)
			}
			p.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-p.closing:
				return
			case m, ok := <-t.ch:
				if !ok {
					p.mu.Lock()
					if t.behind {
						tailErr = ErrTailBehind
					}
					p.mu.Unlock()
					return
				}
				select {
				case out <- m:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, func() error { <-done; return tailErr }, nil
}
