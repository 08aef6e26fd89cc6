// Package outbox makes publishing to the bus durable against everything but the loss of the
// database: a message is written to the outbox table before Publish returns, published to the
// bus by a relay, and deleted only once every consumer group of its topic has acknowledged it.
//
// The bus alone is not enough. Redis keeps streams in memory (this deployment runs it without
// persistence), so a Redis restarted empty loses every message no group had acknowledged yet;
// the in-process bus loses them with the process. The outbox keeps those messages until they are
// consumed: after a broker restart (Redis's run id changed) the relay checks which of the
// messages it published are still there and publishes the lost ones again; after a crash of this
// process it publishes again whatever it had not seen consumed. Consumers therefore see a message
// at least once (rarely twice, always with the same UUID); all of ours are idempotent on it.
//
// Order: a producer's messages reach each topic in the order Publish committed them, except that
// messages republished after a broker lost its data come after what was published since.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/uptrace/bun"

	"github.com/28web/hub/platform/bus"
	"github.com/28web/hub/platform/db"
	"github.com/28web/hub/platform/log"
	"github.com/28web/hub/platform/retry"
)

// Config tunes the relay (key "outbox").
type Config struct {
	// ReconcileInterval is how often consumed messages are deleted and the broker is checked for
	// lost ones. Optional, default 1s.
	ReconcileInterval time.Duration `koanf:"reconcile_interval"`
	// MaxBuffered bounds the committed messages handed to the relay in memory; beyond it the
	// relay reads them back from the table. Optional, default 10000.
	MaxBuffered int `koanf:"max_buffered"`
	// MaxTracked bounds the published, not yet consumed messages the relay remembers. Beyond it
	// (a consumer group stopped consuming) the oldest are forgotten: they stay in the table and
	// are published again by the next start. Optional, default 1000000.
	MaxTracked int `koanf:"max_tracked"`
}

// SetDefaults fills the optional fields left at zero.
func (c *Config) SetDefaults() {
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = time.Second
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = 10_000
	}
	if c.MaxTracked == 0 {
		c.MaxTracked = 1_000_000
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.ReconcileInterval <= 0 {
		errs = append(errs, errors.New("outbox.reconcile_interval must be positive"))
	}
	if c.MaxBuffered < 1 || c.MaxTracked < 1 {
		errs = append(errs, errors.New("outbox.max_buffered and outbox.max_tracked must be positive"))
	}
	return errors.Join(errs...)
}

// row is one outbox message.
type row struct {
	bun.BaseModel `bun:"table:outbox"`

	Seq       int64  `bun:"seq,pk,autoincrement"`
	Producer  string `bun:"producer,notnull"`
	Topic     string `bun:"topic,notnull"`
	UUID      string `bun:"uuid,notnull"`
	Metadata  string `bun:"metadata,notnull"`
	Payload   []byte `bun:"payload,notnull"`
	CreatedAt int64  `bun:"created_at,notnull"`
}

func (r row) message() (*message.Message, error) {
	msg := message.NewMessage(r.UUID, r.Payload)
	if err := json.Unmarshal([]byte(r.Metadata), &msg.Metadata); err != nil {
		return nil, fmt.Errorf("outbox message %d: decode metadata: %w", r.Seq, err)
	}
	return msg, nil
}

// tracked is a published message not yet known to be consumed by every group.
type tracked struct {
	seq         int64
	id          bus.StreamID
	incarnation string
}

// Outbox is a durable message.Publisher. Create it with New and run its relay with Start.
type Outbox struct {
	cfg      Config
	db       bun.IDB
	bus      *bus.Bus
	producer string
	logger   *slog.Logger
	metrics  *Metrics

	appends db.Batcher[*appendCall]
	wake    chan struct{}

	mu sync.Mutex
	// buffered holds committed rows, in seq order, for the relay; spilled means some were not
	// buffered (overflow, or rows of an earlier run), so the relay reads the table after
	// lastPublished instead.
	buffered []row
	spilled  bool

	// Relay state, owned by the relay goroutine; published mirrors lastPublished for Check.
	lastPublished int64
	inFlight      map[string][]tracked // topic → published messages, in publish order
	lastReconcile time.Time
	published     atomic.Int64

	cancel context.CancelFunc
	done   chan struct{}
}

var _ message.Publisher = (*Outbox)(nil)

// New returns an outbox on d (migrated with migrations.Outbox) publishing to b as the producer
// b's consumer name. metrics may be nil.
func New(cfg Config, d *db.DB, b *bus.Bus, logger *slog.Logger, metrics *Metrics) (*Outbox, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new outbox: %w", err)
	}
	if metrics == nil {
		metrics = NewMetrics()
	}
	o := &Outbox{cfg: cfg, db: d.Bun(), bus: b, producer: b.Config().ConsumerName, logger: logger.With(slog.String("component", "outbox")),
		metrics: metrics, wake: make(chan struct{}, 1), spilled: true, inFlight: map[string][]tracked{}}
	// One batch at a time: a producer's rows then commit in seq order, so the relay never sees a
	// row appear behind one it already published.
	o.appends = db.Batcher[*appendCall]{Exec: o.insert, Workers: 1, Max: 256}
	return o, nil
}

type appendCall struct {
	rows []row
}

// Publish stores msgs for topic and returns once they are committed: from then on they reach the
// bus even across a crash or a broker that loses its data. The context of msgs[0] bounds the
// wait. It is safe for concurrent use.
func (o *Outbox) Publish(topic string, msgs ...*message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx := msgs[0].Context()
	now := time.Now().UnixMilli()
	call := &appendCall{rows: make([]row, len(msgs))}
	for i, m := range msgs {
		md, err := json.Marshal(m.Metadata)
		if err != nil {
			return fmt.Errorf("outbox: encode metadata of %s: %w", m.UUID, err)
		}
		call.rows[i] = row{Producer: o.producer, Topic: topic, UUID: m.UUID, Metadata: string(md), Payload: m.Payload, CreatedAt: now}
	}
	if err := o.appends.Do(ctx, call); err != nil {
		return fmt.Errorf("outbox: store %d messages for %s: %w", len(msgs), topic, err)
	}
	return nil
}

// Close does nothing: the relay stops with Stop.
func (o *Outbox) Close() error { return nil }

// insert commits one batch and hands its rows to the relay.
func (o *Outbox) insert(ctx context.Context, calls []*appendCall) error {
	var rows []row
	for _, c := range calls {
		rows = append(rows, c.rows...)
	}
	var seqs []int64
	if err := o.db.NewInsert().Model(&rows).Returning("seq").Scan(ctx, &seqs); err != nil {
		return err
	}
	if len(seqs) != len(rows) {
		return fmt.Errorf("outbox insert returned %d seqs for %d rows", len(seqs), len(rows))
	}
	for i := range rows {
		rows[i].Seq = seqs[i]
	}
	o.metrics.appended.Add(float64(len(rows)))
	o.mu.Lock()
	if !o.spilled && len(o.buffered)+len(rows) <= o.cfg.MaxBuffered {
		o.buffered = append(o.buffered, rows...)
	} else {
		o.spilled, o.buffered = true, nil
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// Start runs the relay until Stop. It first publishes whatever an earlier run left in the table.
func (o *Outbox) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel, o.done = cancel, make(chan struct{})
	go func() {
		defer close(o.done)
		o.run(ctx)
	}()
	return nil
}

// Stop ends the relay after a last attempt to delete what was consumed. Messages not yet
// published or consumed stay in the table for the next start.
func (o *Outbox) Stop(ctx context.Context) error {
	if o.cancel == nil {
		return nil
	}
	o.cancel()
	select {
	case <-o.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop outbox relay: %w", ctx.Err())
	}
}

// backoff paces the relay while the bus or the database fails.
var backoff = retry.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: retry.Equal}

func (o *Outbox) run(ctx context.Context) {
	tick := time.NewTicker(o.cfg.ReconcileInterval)
	defer tick.Stop()
	failures := 0
	for {
		err := o.publishPending(ctx)
		if err == nil && time.Since(o.lastReconcile) >= o.cfg.ReconcileInterval {
			err = o.reconcile(ctx)
		}
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			failures++
			if failures == 1 || failures%50 == 0 {
				o.logger.Warn("outbox relay: messages wait in the outbox", slog.Int("failures", failures), log.ErrorAttr(err))
			}
			if !retry.Sleep(ctx, backoff.Delay(failures)) {
				break
			}
			continue
		}
		if failures > 0 {
			o.logger.Info("outbox relay recovered", slog.Int("failures", failures))
			failures = 0
		}
		select {
		case <-ctx.Done():
		case <-o.wake:
		case <-tick.C:
		}
	}
	// A last delete of what was consumed, so the next start publishes less again.
	final, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := o.reconcile(final); err != nil {
		o.logger.Debug("outbox relay: final reconcile", log.ErrorAttr(err))
	}
}

// publishPending publishes every committed row not published yet, in seq order.
func (o *Outbox) publishPending(ctx context.Context) error {
	for ctx.Err() == nil {
		rows, err := o.next(ctx)
		if err != nil || len(rows) == 0 {
			return err
		}
		if err := o.publish(ctx, rows); err != nil {
			return err
		}
	}
	return nil
}

// relayBatch bounds the rows read back from the table at once.
const relayBatch = 256

// next returns the oldest rows not published yet: from memory, or from the table after a spill.
func (o *Outbox) next(ctx context.Context) ([]row, error) {
	o.mu.Lock()
	if !o.spilled {
		rows := o.buffered
		o.buffered = nil
		o.mu.Unlock()
		return rows, nil
	}
	// Reading the table: rows committed from now on are buffered again, and the read below
	// sees every row committed before (the batcher commits one batch at a time).
	o.spilled, o.buffered = false, nil
	o.mu.Unlock()
	var rows []row
	after := o.lastPublished
	for {
		var page []row
		if err := o.db.NewSelect().Model(&page).Where("producer = ? AND seq > ?", o.producer, after).
			Order("seq").Limit(relayBatch).Scan(ctx); err != nil {
			o.respill()
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		rows = append(rows, page...)
		if len(page) < relayBatch {
			break
		}
		if len(rows) >= o.cfg.MaxBuffered {
			o.respill() // plenty for now: read the rest on the next round
			break
		}
		after = page[len(page)-1].Seq
	}
	// Rows committed while the table was read may be both in it and in the buffer: publish
	// skips seqs it already passed.
	return rows, nil
}

// respill makes the relay read the table again on its next round.
func (o *Outbox) respill() {
	o.mu.Lock()
	o.spilled, o.buffered = true, nil
	o.mu.Unlock()
}

// publish sends rows to the bus, consecutive rows of one topic in one call, and tracks them until
// they are consumed. Rows at or below lastPublished (seen twice after a spill) are skipped.
func (o *Outbox) publish(ctx context.Context, rows []row) error {
	for len(rows) > 0 {
		if rows[0].Seq <= o.lastPublished {
			rows = rows[1:]
			continue
		}
		n := 1
		for n < len(rows) && rows[n].Topic == rows[0].Topic && rows[n].Seq > rows[n-1].Seq {
			n++
		}
		if err := o.send(ctx, rows[:n]); err != nil {
			o.respill() // not published: read them back from the table on the next round
			return err
		}
		o.lastPublished = rows[n-1].Seq
		o.published.Store(o.lastPublished)
		rows = rows[n:]
	}
	return nil
}

func (o *Outbox) send(ctx context.Context, rows []row) error {
	msgs := make([]*message.Message, len(rows))
	for i, r := range rows {
		m, err := r.message()
		if err != nil {
			return err
		}
		msgs[i] = m
	}
	topic := rows[0].Topic
	ids, inc, err := o.bus.Append(ctx, topic, msgs...)
	if err != nil {
		return fmt.Errorf("publish %d messages to %s: %w", len(rows), topic, err)
	}
	tr := o.inFlight[topic]
	for i, r := range rows {
		tr = append(tr, tracked{seq: r.Seq, id: ids[i], incarnation: inc})
	}
	if over := len(tr) - o.cfg.MaxTracked; over > 0 {
		o.logger.Warn("outbox: a consumer group is not consuming; forgetting the oldest published messages (they stay in the outbox and are published again by the next start)",
			slog.String("topic", topic), slog.Int("forgotten", over))
		tr = slices.Clone(tr[over:])
	}
	o.inFlight[topic] = tr
	o.metrics.published.Add(float64(len(rows)))
	return nil
}

// reconcile deletes what every group consumed, and publishes again what the broker lost.
func (o *Outbox) reconcile(ctx context.Context) error {
	o.lastReconcile = time.Now()
	var errs []error
	for topic, tr := range o.inFlight {
		if len(tr) == 0 {
			continue
		}
		if err := o.reconcileTopic(ctx, topic, tr); err != nil {
			errs = append(errs, err)
		}
	}
	o.updateGauges()
	return errors.Join(errs...)
}

func (o *Outbox) reconcileTopic(ctx context.Context, topic string, tr []tracked) error {
	f, err := o.bus.Floor(ctx, topic)
	if err != nil {
		return fmt.Errorf("read consumer groups of %s: %w", topic, err)
	}
	// Published to an earlier life of the broker: still there, or lost with its data?
	var foreign []bus.StreamID
	for _, t := range tr {
		if t.incarnation != f.Incarnation {
			foreign = append(foreign, t.id)
		}
	}
	var lost []int64
	if len(foreign) > 0 {
		present, inc, err := o.bus.Present(ctx, topic, foreign)
		if err != nil {
			return fmt.Errorf("look for published messages in %s: %w", topic, err)
		}
		if inc != f.Incarnation {
			return fmt.Errorf("broker restarted while reconciling %s", topic)
		}
		kept := tr[:0:0]
		for _, t := range tr {
			switch {
			case t.incarnation == f.Incarnation:
				kept = append(kept, t)
			case present[t.id]:
				t.incarnation = inc
				kept = append(kept, t)
			default:
				lost = append(lost, t.seq)
			}
		}
		tr = kept
		o.inFlight[topic] = tr
	}
	// Consumed by every group: delete.
	var consumed []int64
	i := 0
	for ; i < len(tr) && tr[i].id.Less(f.Below); i++ {
		consumed = append(consumed, tr[i].seq)
	}
	if len(consumed) > 0 {
		if err := o.delete(ctx, consumed); err != nil {
			return err
		}
		o.inFlight[topic] = slices.Clone(tr[i:])
		o.metrics.consumed.Add(float64(len(consumed)))
	}
	if len(lost) > 0 {
		o.logger.Warn("the bus lost published messages (Redis restarted without its data?): publishing them again",
			slog.String("topic", topic), slog.Int("messages", len(lost)))
		if err := o.republish(ctx, lost); err != nil {
			return err
		}
	}
	return nil
}

// deleteBatch bounds the seqs of one DELETE.
const deleteBatch = 1000

func (o *Outbox) delete(ctx context.Context, seqs []int64) error {
	for chunk := range slices.Chunk(seqs, deleteBatch) {
		if _, err := o.db.NewDelete().Model((*row)(nil)).Where("seq IN (?)", bun.List(chunk)).Exec(ctx); err != nil {
			return fmt.Errorf("delete consumed outbox messages: %w", err)
		}
	}
	return nil
}

// republish publishes again, in seq order, rows the broker lost.
func (o *Outbox) republish(ctx context.Context, seqs []int64) error {
	for chunk := range slices.Chunk(seqs, relayBatch) {
		var rows []row
		if err := o.db.NewSelect().Model(&rows).Where("seq IN (?)", bun.List(chunk)).Order("seq").Scan(ctx); err != nil {
			return fmt.Errorf("read lost outbox messages: %w", err)
		}
		for len(rows) > 0 {
			n := 1
			for n < len(rows) && rows[n].Topic == rows[0].Topic {
				n++
			}
			if err := o.send(ctx, rows[:n]); err != nil {
				return err
			}
			o.metrics.republished.Add(float64(n))
			rows = rows[n:]
		}
	}
	return nil
}

func (o *Outbox) updateGauges() {
	n := 0
	for _, tr := range o.inFlight {
		n += len(tr)
	}
	o.metrics.unconsumed.Set(float64(n))
}

// Check reports an outbox whose messages wait: the bus has been failing. It fits
// platform/health.Check.Func.
func (o *Outbox) Check(ctx context.Context) error {
	var oldest []int64
	if err := o.db.NewSelect().Model((*row)(nil)).Column("created_at").
		Where("producer = ? AND seq > ?", o.producer, o.published.Load()).
		Order("seq").Limit(1).Scan(ctx, &oldest); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if len(oldest) > 0 {
		if age := time.Since(time.UnixMilli(oldest[0])); age > 30*time.Second {
			return fmt.Errorf("outbox: messages wait %s for the bus", age.Round(time.Second))
		}
	}
	return nil
}
