package bus

import (
	"fmt"
	"strconv"
	"strings"
)

// StreamID is a message's place in its topic: a Redis stream entry id (milliseconds-sequence),
// or the in-process bus's counter in the same form. Within one Incarnation, ids order messages as
// they were published.
type StreamID struct {
	Ms, Seq uint64
}

// ParseStreamID reads "ms-seq" (a bare "ms" means "ms-0", as Redis reads it).
func ParseStreamID(s string) (StreamID, error) {
	msPart, seqPart, hasSeq := strings.Cut(s, "-")
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil {
		return StreamID{}, fmt.Errorf("stream id %q: %w", s, err)
	}
	var seq uint64
	if hasSeq {
		if seq, err = strconv.ParseUint(seqPart, 10, 64); err != nil {
			return StreamID{}, fmt.Errorf("stream id %q: %w", s, err)
		}
	}
	return StreamID{Ms: ms, Seq: seq}, nil
}

// String is the Redis form "ms-seq".
func (id StreamID) String() string {
	return strconv.FormatUint(id.Ms, 10) + "-" + strconv.FormatUint(id.Seq, 10)
}

// Less reports whether id comes before o.
func (id StreamID) Less(o StreamID) bool {
	return id.Ms < o.Ms || (id.Ms == o.Ms && id.Seq < o.Seq)
}

// Next is the smallest id after id.
func (id StreamID) Next() StreamID {
	if id.Seq == ^uint64(0) {
		return StreamID{Ms: id.Ms + 1}
	}
	return StreamID{Ms: id.Ms, Seq: id.Seq + 1}
}

// IsZero reports whether id is 0-0, which precedes every message.
func (id StreamID) IsZero() bool { return id == StreamID{} }

// Floor is how far every consumer group of a topic has got, in one incarnation of the broker's
// data: for Redis its run id (it changes whenever Redis restarts, which may lose the data) with a
// marker key of the bus's namespace (gone when the data is flushed); for the in-process bus an id
// of the instance, which dies with the process.
type Floor struct {
	Incarnation string
	// Below: every message with a smaller id was acknowledged by every consumer group of the
	// topic, and by every group this process consumes it as. Zero when some such group has
	// acknowledged nothing yet or is missing, and when the topic has no group at all.
	Below StreamID
	// Groups is each consumer group's state.
	Groups []GroupState
	// Length is how many messages the topic holds.
	Length int64
}

// GroupState is one consumer group's progress on a topic.
type GroupState struct {
	Name string `json:"name"`
	// Pending counts messages delivered to a consumer and not acknowledged yet.
	Pending int64 `json:"pending"`
	// Lag counts messages not delivered to the group yet; -1 when the broker cannot tell.
	Lag int64 `json:"lag"`
	// Missing: this process consumes the topic as this group, but the broker does not know it
	// (yet, or any more: a Redis restarted empty). The consumer recreates it.
	Missing bool `json:"missing,omitempty"`
}

// Unacknowledged is what the group still has to handle: pending plus not delivered (lag unknown
// counts as nothing more).
func (g GroupState) Unacknowledged() int64 { return g.Pending + max(g.Lag, 0) }
