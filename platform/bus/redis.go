package bus

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/28web/hub/platform/log"
)

// redisPublisher writes messages to Redis streams in Watermill's format (read back by the
// redisstream subscriber), all messages of one call in one pipelined round trip. It never trims
// on XADD: Bus.trimLoop trims each stream behind its slowest consumer group.
type redisPublisher struct {
	client *redis.Client
	// incarnation caches the incarnation of Redis's data (see Floor); refreshed by Bus.Floor.
	mu          sync.Mutex
	incarnation string
}

var _ message.Publisher = (*redisPublisher)(nil)

func (p *redisPublisher) Publish(topic string, msgs ...*message.Message) error {
	ctx := context.Background()
	if len(msgs) > 0 {
		ctx = msgs[0].Context()
	}
	_, err := p.append(ctx, topic, msgs)
	return err
}

// append XADDs msgs to topic in one round trip and returns their ids.
func (p *redisPublisher) append(ctx context.Context, topic string, msgs []*message.Message) ([]StreamID, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(msgs))
	_, err := p.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, msg := range msgs {
			values, err := redisstream.DefaultMarshallerUnmarshaller{}.Marshal(topic, msg)
			if err != nil {
				return fmt.Errorf("encode message %s: %w", msg.UUID, err)
			}
			cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{Stream: topic, Values: values})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("xadd %d messages to %s: %w", len(msgs), topic, err)
	}
	ids := make([]StreamID, len(msgs))
	for i, c := range cmds {
		if ids[i], err = ParseStreamID(c.Val()); err != nil {
			return nil, fmt.Errorf("xadd to %s: %w", topic, err)
		}
	}
	return ids, nil
}

func (p *redisPublisher) Close() error { return p.client.Close() }

func (p *redisPublisher) cachedIncarnation() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.incarnation
}

func (p *redisPublisher) setIncarnation(id string) {
	p.mu.Lock()
	p.incarnation = id
	p.mu.Unlock()
}

// incarnationReader reads, inside a MULTI, what identifies one life of Redis's data: the server's
// run id (random per start: a restart may have lost the data) and a marker key of the bus's
// namespace, created when missing (a flush, or a restart without persistence, removes it).
type incarnationReader struct {
	info   *redis.StringCmd
	marker *redis.StringCmd
}

func readIncarnation(ctx context.Context, pipe redis.Pipeliner, markerKey string) incarnationReader {
	info := pipe.Info(ctx, "server")
	pipe.SetNX(ctx, markerKey, rand.Text(), 0)
	return incarnationReader{info: info, marker: pipe.Get(ctx, markerKey)}
}

func (r incarnationReader) value() (string, error) {
	id, err := parseRunID(r.info.Val())
	if err != nil {
		return "", err
	}
	if r.marker.Val() == "" {
		return "", errors.New("redis: no incarnation marker")
	}
	return id + "/" + r.marker.Val(), nil
}

// incarnation reads the current incarnation on its own.
func incarnation(ctx context.Context, c *redis.Client, markerKey string) (string, error) {
	var r incarnationReader
	if _, err := c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		r = readIncarnation(ctx, pipe, markerKey)
		return nil
	}); err != nil {
		return "", fmt.Errorf("read redis incarnation: %w", err)
	}
	return r.value()
}

func parseRunID(info string) (string, error) {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return v, nil
		}
	}
	return "", errors.New("redis info: no run_id")
}

// redisFloor reads the groups of stream. Redis answers within one MULTI, so the run id and the
// group states belong to the same life of the server.
func redisFloor(ctx context.Context, c *redis.Client, markerKey, stream string, expected []string) (Floor, error) {
	var incCmd incarnationReader
	var groupsCmd *redis.XInfoGroupsCmd
	var lenCmd *redis.IntCmd
	_, err := c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		incCmd = readIncarnation(ctx, pipe, markerKey)
		groupsCmd = pipe.XInfoGroups(ctx, stream)
		lenCmd = pipe.XLen(ctx, stream)
		return nil
	})
	inc, rerr := incCmd.value()
	if rerr != nil {
		return Floor{}, errors.Join(err, rerr)
	}
	groups, gerr := groupsCmd.Result()
	if gerr != nil && !isNoSuchKey(gerr) {
		return Floor{}, fmt.Errorf("xinfo groups %s: %w", stream, gerr)
	}
	f := Floor{Incarnation: inc, Length: lenCmd.Val()}
	if len(groups) == 0 {
		for _, name := range expected {
			f.Groups = append(f.Groups, GroupState{Name: name, Lag: -1, Missing: true})
		}
		return f, nil
	}
	// The oldest pending entry of each group with pending entries, in the same life of Redis.
	pendings := make(map[string]*redis.XPendingCmd)
	var inc2Cmd incarnationReader
	_, err = c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		inc2Cmd = readIncarnation(ctx, pipe, markerKey)
		for _, g := range groups {
			if g.Pending > 0 {
				pendings[g.Name] = pipe.XPending(ctx, stream, g.Name)
			}
		}
		return nil
	})
	if inc2, _ := inc2Cmd.value(); inc2 != inc {
		return Floor{}, fmt.Errorf("floor of %s: redis restarted while reading it", stream)
	}
	if err != nil && !redis.HasErrorPrefix(err, "NOGROUP") {
		return Floor{}, fmt.Errorf("xpending %s: %w", stream, err)
	}
	known := make(map[string]bool, len(groups))
	first := true
	for _, g := range groups {
		known[g.Name] = true
		f.Groups = append(f.Groups, GroupState{Name: g.Name, Pending: g.Pending, Lag: g.Lag})
		below, err := ParseStreamID(g.LastDeliveredID)
		if err != nil {
			return Floor{}, fmt.Errorf("group %s of %s: %w", g.Name, stream, err)
		}
		below = below.Next()
		if pc := pendings[g.Name]; pc != nil {
			if p, err := pc.Result(); err == nil && p.Count > 0 {
				if lower, err := ParseStreamID(p.Lower); err == nil && lower.Less(below) {
					below = lower
				}
			}
		}
		if first || below.Less(f.Below) {
			f.Below, first = below, false
		}
	}
	for _, name := range expected {
		if !known[name] {
			f.Groups = append(f.Groups, GroupState{Name: name, Lag: -1, Missing: true})
			f.Below = StreamID{}
		}
	}
	return f, nil
}

// redisPresent reports which of ids stream still holds, and the incarnation it read them in.
func redisPresent(ctx context.Context, c *redis.Client, markerKey, stream string, ids []StreamID) (map[StreamID]bool, string, error) {
	present := make(map[StreamID]bool, len(ids))
	if len(ids) == 0 {
		inc, err := incarnation(ctx, c, markerKey)
		return present, inc, err
	}
	lo, hi := ids[0], ids[0]
	for _, id := range ids[1:] {
		if id.Less(lo) {
			lo = id
		}
		if hi.Less(id) {
			hi = id
		}
	}
	var incCmd incarnationReader
	var rangeCmd *redis.XMessageSliceCmd
	if _, err := c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		incCmd = readIncarnation(ctx, pipe, markerKey)
		rangeCmd = pipe.XRange(ctx, stream, lo.String(), hi.String())
		return nil
	}); err != nil {
		return nil, "", fmt.Errorf("xrange %s: %w", stream, err)
	}
	inc, err := incCmd.value()
	if err != nil {
		return nil, "", err
	}
	want := make(map[StreamID]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	for _, m := range rangeCmd.Val() {
		if id, err := ParseStreamID(m.ID); err == nil && want[id] {
			present[id] = true
		}
	}
	return present, inc, nil
}

func isNoSuchKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such key")
}

// groupRecreator is a go-redis hook for a consumer's client: when Redis answers NOGROUP (it
// restarted without its data, or someone destroyed the group), it creates the group again,
// reading the stream from its start, and lets the command fail; the consumer's retry then
// succeeds. Without it a consumer would log NOGROUP forever and consume nothing.
type groupRecreator struct {
	group  string
	logger *slog.Logger
}

func (groupRecreator) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h groupRecreator) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h groupRecreator) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil || !redis.HasErrorPrefix(err, "NOGROUP") {
			return err
		}
		stream := streamOf(cmd)
		if stream == "" {
			return err
		}
		create := redis.NewStatusCmd(ctx, "xgroup", "create", stream, h.group, "0", "mkstream")
		if cerr := next(ctx, create); cerr != nil && !redis.HasErrorPrefix(cerr, "BUSYGROUP") {
			h.logger.Warn("recreate consumer group", slog.String("stream", stream), slog.String("group", h.group), log.ErrorAttr(cerr))
			return err
		}
		h.logger.Warn("consumer group was missing (Redis restarted without its data?): recreated, reading the stream from its start",
			slog.String("stream", stream), slog.String("group", h.group))
		return err
	}
}

// streamOf finds the stream a group command works on.
func streamOf(cmd redis.Cmder) string {
	args := cmd.Args()
	switch strings.ToLower(cmd.Name()) {
	case "xreadgroup":
		for i, a := range args {
			if s, ok := a.(string); ok && strings.EqualFold(s, "streams") && i+1 < len(args) {
				name, _ := args[i+1].(string)
				return name
			}
		}
	case "xpending", "xclaim", "xautoclaim", "xack":
		if len(args) > 1 {
			name, _ := args[1].(string)
			return name
		}
	}
	return ""
}

// ensureGroup creates group on stream (reading from its start) unless it exists.
func ensureGroup(ctx context.Context, c *redis.Client, stream, group string) error {
	if err := c.XGroupCreateMkStream(ctx, stream, group, "0").Err(); err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("create group %s on %s: %w", group, stream, err)
	}
	return nil
}
