package webhook

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/retry"
)

// Dispatcher sends deliveries. It keeps, per endpoint, one FIFO chain per session in memory and
// starts the head of each chain when it is due and the endpoint and global concurrency bounds
// allow, so that a slow endpoint only ever occupies its own slots. The database holds the truth:
// every outcome is written before the chain moves on, and what memory does not hold (work left
// by a previous run, or beyond MaxQueuedPerEndpoint) is loaded by the poll.
type Dispatcher struct {
	cfg   Config
	store *store
	// client sends to per-session endpoints, whose URLs come from API clients: it refuses
	// non-public targets unless AllowPrivateTargets. trusted sends to the global endpoint, which
	// the operator configured and which usually is an internal backend.
	client  *http.Client
	trusted *http.Client
	logger  *slog.Logger
	metrics *metrics
	now     func() time.Time
	// onDisable is told when the dispatcher disables an endpoint (410, or failing too long).
	onDisable func(*Endpoint)
	// record writes an attempt outcome (grouped with other writes).
	record func(ctx context.Context, o outcome) error

	wake chan struct{}

	mu        sync.Mutex
	endpoints map[EndpointID]*endpointState
	bySession map[core.SessionID][]EndpointID
	inflight  int
	running   sync.WaitGroup // attempts in flight
}

// endpointState is one endpoint's in-memory queue.
type endpointState struct {
	// ep is replaced, never modified, so attempts may read the snapshot they started with.
	ep       *Endpoint
	chains   map[core.SessionID]*chain
	queued   int
	inflight int
	// overflow: the database may hold open deliveries of this endpoint with seq > loadedSeq
	// that memory does not; fresh ones are left to the poll until it has caught up.
	overflow  bool
	loadedSeq int64
}

// chain is the ordered deliveries of one (endpoint, session); only its head may be in flight.
type chain struct {
	jobs []*job
	busy bool
}

type job struct {
	seq       int64
	eventID   core.EventID
	eventType core.EventType
	session   core.SessionID
	payload   []byte // nil until loaded for deliveries read back from the database
	attempts  int
	round     int // attempts since the last (re)delivery, indexes the retry schedule
	nextAt    time.Time
	createdAt time.Time
	// reopened: a redelivery asked for this delivery while its previous attempt was in flight.
	reopened bool
}

func newDispatcher(cfg Config, st *store, m *metrics, logger *slog.Logger) *Dispatcher {
	return &Dispatcher{
		cfg: cfg, store: st, metrics: m, logger: logger,
		// Idle connections per host up to the global bound: many endpoints may share a host.
		client:    newHTTPClient(cfg.AllowPrivateTargets, cfg.Concurrency),
		trusted:   newHTTPClient(true, cfg.EndpointConcurrency),
		now:       func() time.Time { return time.Now().UTC() },
		wake:      make(chan struct{}, 1),
		endpoints: map[EndpointID]*endpointState{},
		bySession: map[core.SessionID][]EndpointID{},
	}
}

// signal asks the loop for a scheduling pass; signals coalesce.
func (d *Dispatcher) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// putEndpoint adds or replaces an endpoint. known says whether the database may already hold
// deliveries for it that memory does not (endpoints loaded at start).
func (d *Dispatcher) putEndpoint(e *Endpoint, known bool) {
	d.mu.Lock()
	st := d.endpoints[e.ID]
	if st == nil {
		st = &endpointState{chains: map[core.SessionID]*chain{}, overflow: known}
		d.endpoints[e.ID] = st
		if e.SessionID != "" && !e.Retired() {
			d.bySession[e.SessionID] = append(d.bySession[e.SessionID], e.ID)
		}
	}
	if e.Retired() && st.ep != nil && !st.ep.Retired() {
		d.unmatch(e)
	}
	st.ep = e
	d.updateDisabledGauge()
	d.mu.Unlock()
	d.signal()
}

// removeEndpoint forgets an endpoint and its queue; attempts in flight finish unrecorded in
// memory (their outcome is still written).
func (d *Dispatcher) removeEndpoint(id EndpointID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.endpoints[id]
	if st == nil {
		return
	}
	delete(d.endpoints, id)
	d.unmatch(st.ep)
	d.updateDisabledGauge()
}

// unmatch stops routing e's session's events to e. d.mu must be held.
func (d *Dispatcher) unmatch(e *Endpoint) {
	s := e.SessionID
	if s == "" {
		return
	}
	ids := slices.DeleteFunc(d.bySession[s], func(x EndpointID) bool { return x == e.ID })
	if len(ids) == 0 {
		delete(d.bySession, s)
	} else {
		d.bySession[s] = ids
	}
}

// endpoint returns the current snapshot of an endpoint.
func (d *Dispatcher) endpoint(id EndpointID) (*Endpoint, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.endpoints[id]
	if st == nil {
		return nil, false
	}
	return st.ep, true
}

// snapshot returns every live endpoint: retired ones only finish their deliveries.
func (d *Dispatcher) snapshot() []*Endpoint {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*Endpoint, 0, len(d.endpoints))
	for _, st := range d.endpoints {
		if !st.ep.Retired() {
			out = append(out, st.ep)
		}
	}
	return out
}

// target is an endpoint an event goes to.
type target struct {
	id       EndpointID
	disabled bool
}

// match returns the endpoints that receive ev: the global one and the session's, filtered.
func (d *Dispatcher) match(ev core.Event) []target {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []target
	add := func(id EndpointID) {
		if st := d.endpoints[id]; st != nil && st.ep.Wants(ev.Type) {
			out = append(out, target{id: id, disabled: st.ep.Disabled()})
		}
	}
	add(GlobalEndpointID)
	for _, id := range d.bySession[ev.SessionID] {
		add(id)
	}
	return out
}

// enqueue hands freshly inserted deliveries (with their payload) to memory. Rows the poll has
// already loaded, or that must wait behind rows memory does not hold, are skipped.
func (d *Dispatcher) enqueue(rows []deliveryRow, payload []byte) {
	d.mu.Lock()
	for i := range rows {
		r := &rows[i]
		if DeliveryStatus(r.Status) != StatusPending {
			continue
		}
		st := d.endpoints[EndpointID(r.EndpointID)]
		if st == nil || r.Seq <= st.loadedSeq {
			continue
		}
		if st.overflow || st.queued >= d.cfg.MaxQueuedPerEndpoint {
			st.overflow = true
			continue
		}
		st.loadedSeq = r.Seq
		d.push(st, jobFromRow(r, payload))
	}
	d.mu.Unlock()
	d.signal()
}

// adopt puts open rows that memory may have missed in their chains, whatever loadedSeq says;
// rows already held are ignored.
func (d *Dispatcher) adopt(rows []deliveryRow, payload []byte) {
	d.mu.Lock()
	for i := range rows {
		r := &rows[i]
		if st := d.endpoints[EndpointID(r.EndpointID)]; st != nil {
			d.push(st, jobFromRow(r, payload))
		}
	}
	d.mu.Unlock()
	d.signal()
}

// reopen puts redelivered rows back in memory, at their place in their chains.
func (d *Dispatcher) reopen(rows []deliveryRow) {
	d.mu.Lock()
	for i := range rows {
		r := &rows[i]
		st := d.endpoints[EndpointID(r.EndpointID)]
		if st == nil {
			continue
		}
		if ch := st.chains[core.SessionID(r.SessionID)]; ch != nil {
			if k := slices.IndexFunc(ch.jobs, func(j *job) bool { return j.seq == r.Seq }); k >= 0 {
				// Its last attempt is still finishing: run it again once recorded.
				ch.jobs[k].reopened = true
				continue
			}
		}
		d.push(st, jobFromRow(r, nil))
	}
	d.mu.Unlock()
	d.signal()
}

func jobFromRow(r *deliveryRow, payload []byte) *job {
	return &job{seq: r.Seq, eventID: core.EventID(r.EventID), eventType: core.EventType(r.EventType),
		session: core.SessionID(r.SessionID), payload: payload, attempts: r.Attempts, round: r.RoundAttempts,
		nextAt: fromMS(r.NextAttemptAt), createdAt: time.UnixMilli(r.CreatedAt).UTC()}
}

// push inserts j in its chain by seq. d.mu must be held.
func (d *Dispatcher) push(st *endpointState, j *job) {
	ch := st.chains[j.session]
	if ch == nil {
		ch = &chain{}
		st.chains[j.session] = ch
	}
	// Fresh deliveries arrive in seq order: append. Others (loaded, adopted, reopened) take
	// their place by seq, after a busy head, which must stay first.
	if n := len(ch.jobs); n == 0 || ch.jobs[n-1].seq < j.seq {
		ch.jobs = append(ch.jobs, j)
		st.queued++
		return
	}
	if slices.ContainsFunc(ch.jobs, func(x *job) bool { return x.seq == j.seq }) {
		return
	}
	start := 0
	if ch.busy {
		start = 1
	}
	k := start
	for k < len(ch.jobs) && ch.jobs[k].seq < j.seq {
		k++
	}
	ch.jobs = slices.Insert(ch.jobs, k, j)
	st.queued++
}

// run is the dispatcher loop: a scheduling pass on every signal, at the earliest due retry, and
// a database poll every PollInterval. It returns when ctx ends, after attempts in flight.
func (d *Dispatcher) run(ctx context.Context) {
	defer d.running.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	poll := time.NewTicker(d.cfg.PollInterval)
	defer poll.Stop()
	d.poll(ctx)
	for {
		next := d.pass(ctx)
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(d.now()), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-timer.C:
		case <-poll.C:
			d.poll(ctx)
		}
	}
}

// pass starts every due chain head the bounds allow and returns when the next not-yet-due head
// is due (zero if none).
func (d *Dispatcher) pass(ctx context.Context) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	var next time.Time
	for _, st := range d.endpoints {
		if st.queued == 0 || st.ep.Disabled() {
			continue
		}
		for _, ch := range st.chains {
			if d.inflight >= d.cfg.Concurrency {
				return next
			}
			if st.inflight >= d.cfg.EndpointConcurrency {
				break
			}
			if ch.busy || len(ch.jobs) == 0 {
				continue
			}
			head := ch.jobs[0]
			if head.nextAt.After(now) {
				if next.IsZero() || head.nextAt.Before(next) {
					next = head.nextAt
				}
				continue
			}
			ch.busy = true
			st.inflight++
			d.inflight++
			d.metrics.inflight.Inc()
			d.running.Add(1)
			go d.attempt(ctx, st, ch, head)
		}
	}
	return next
}

// attempt sends one delivery, records the outcome and moves its chain on.
func (d *Dispatcher) attempt(ctx context.Context, st *endpointState, ch *chain, j *job) {
	defer d.running.Done()
	d.mu.Lock()
	ep := st.ep
	d.mu.Unlock()

	payload := j.payload
	if payload == nil {
		p, err := d.store.payload(ctx, j.seq)
		if err != nil {
			if ctx.Err() == nil {
				d.logger.Error("load webhook payload", "delivery", j.seq, "error", err)
			}
			d.release(st, ch, j, nil, d.now().Add(d.cfg.PollInterval))
			return
		}
		payload = p
	}

	res := d.send(ctx, ep, j.eventID, payload)
	if ctx.Err() != nil {
		// Shutting down: the attempt was cut short, not failed. The row stays as it was and the
		// next run sends it again.
		d.release(st, ch, j, nil, j.nextAt)
		return
	}
	now := d.now()
	j.attempts++
	j.round++
	row := &deliveryRow{Attempts: j.attempts, RoundAttempts: j.round, UpdatedAt: now.UnixMilli()}
	if res.status != 0 {
		row.LastStatus = &res.status
	}
	row.LastError = strPtr(res.err)
	lat := float64(res.latency.Microseconds()) / 1000
	row.LastLatencyMS = &lat

	var nextAt time.Time
	switch res.verdict {
	case verdictSuccess:
		row.Status = string(StatusSucceeded)
	case verdictRetry:
		if j.round <= len(d.cfg.RetrySchedule) {
			nextAt = now.Add(d.retryDelay(j.round, res.retryAfter))
			row.Status = string(StatusRetrying)
			row.NextAttemptAt = ms(nextAt)
		} else {
			row.Status = string(StatusDead)
		}
	default:
		row.Status = string(StatusDead)
	}
	att := Attempt{Attempt: j.attempts, StatusCode: res.status, Latency: res.latency, Error: res.err, NextAttemptAt: nextAt, At: now}
	d.recordWithRetry(ctx, j.seq, row, att)
	d.observe(res, DeliveryStatus(row.Status))
	d.trackHealth(ctx, st, res, now)

	if DeliveryStatus(row.Status).open() {
		d.release(st, ch, j, payload, nextAt)
		return
	}
	d.finish(st, ch, j)
}

// recordWithRetry writes an outcome, retrying briefly: losing it would send the delivery again
// after a restart, which receivers tolerate (webhook-id), but should be rare.
func (d *Dispatcher) recordWithRetry(ctx context.Context, seq int64, row *deliveryRow, a Attempt) {
	wctx := context.WithoutCancel(ctx)
	var err error
	for i := range 3 {
		if err = d.record(wctx, outcome{seq: seq, row: row, att: a}); err == nil {
			return
		}
		time.Sleep(time.Duration(i+1) * 50 * time.Millisecond)
	}
	d.logger.Error("record webhook attempt", "delivery", seq, "error", err)
}

// retryDelay is the wait before retry number round (1-based): Retry-After when the endpoint
// sent one (capped), else the schedule's entry with jitter.
func (d *Dispatcher) retryDelay(round int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, d.cfg.MaxRetryAfter)
	}
	base := d.cfg.RetrySchedule[round-1]
	if d.cfg.Jitter <= 0 {
		return base
	}
	return retry.Policy{Initial: base, Jitter: retry.Proportional, Spread: d.cfg.Jitter}.Delay(1)
}

// release frees the chain after an attempt that leaves the delivery open.
func (d *Dispatcher) release(st *endpointState, ch *chain, j *job, payload []byte, nextAt time.Time) {
	d.mu.Lock()
	j.payload = payload
	j.nextAt = nextAt
	d.unbusy(st, ch)
	d.mu.Unlock()
	d.signal()
}

// finish removes a finished delivery from its chain, or re-arms it when a redelivery asked for
// it meanwhile.
func (d *Dispatcher) finish(st *endpointState, ch *chain, j *job) {
	d.mu.Lock()
	if j.reopened {
		// The redelivery already reopened the row in the database after this attempt's outcome
		// was written; only memory has to follow.
		j.reopened = false
		j.round = 0
		j.nextAt = d.now()
	} else {
		if k := slices.Index(ch.jobs, j); k >= 0 {
			ch.jobs = slices.Delete(ch.jobs, k, k+1)
			st.queued--
		}
		if len(ch.jobs) == 0 && st.chains[j.session] == ch {
			delete(st.chains, j.session)
		}
	}
	d.unbusy(st, ch)
	d.mu.Unlock()
	d.signal()
}

// unbusy releases the concurrency slots of an attempt. d.mu must be held.
func (d *Dispatcher) unbusy(st *endpointState, ch *chain) {
	ch.busy = false
	st.inflight--
	d.inflight--
	d.metrics.inflight.Dec()
}

// observe updates the metrics for an attempt.
func (d *Dispatcher) observe(res attemptResult, status DeliveryStatus) {
	if d.metrics.latency != nil {
		d.metrics.latency.Observe(res.latency.Seconds())
	}
	if res.verdict == verdictSuccess {
		d.metrics.attempts.WithLabelValues("success").Inc()
	} else {
		d.metrics.attempts.WithLabelValues("failure").Inc()
	}
	switch status {
	case StatusRetrying:
		d.metrics.retries.Inc()
	case StatusSucceeded, StatusDead:
		d.metrics.deliveries.WithLabelValues(string(status)).Inc()
	}
}

// trackHealth keeps an endpoint's failing-since mark and disables it on 410 or after failing
// for DisableAfter.
func (d *Dispatcher) trackHealth(ctx context.Context, st *endpointState, res attemptResult, now time.Time) {
	d.mu.Lock()
	cur := st.ep
	next := *cur
	switch {
	case res.verdict == verdictSuccess:
		if cur.FailingSince.IsZero() {
			d.mu.Unlock()
			return
		}
		next.FailingSince = time.Time{}
	case res.verdict == verdictGone:
		next.DisabledAt, next.DisabledReason = now, "the endpoint answered 410 Gone"
		if next.FailingSince.IsZero() {
			next.FailingSince = now
		}
	case cur.FailingSince.IsZero():
		next.FailingSince = now
	case d.cfg.DisableAfter > 0 && now.Sub(cur.FailingSince) >= d.cfg.DisableAfter && !cur.Disabled():
		next.DisabledAt = now
		next.DisabledReason = "failing without success since " + cur.FailingSince.Format(time.RFC3339)
	default:
		d.mu.Unlock()
		return
	}
	next.UpdatedAt = now
	disabledNow := next.Disabled() && !cur.Disabled()
	st.ep = &next
	d.updateDisabledGauge()
	d.mu.Unlock()

	if err := d.store.setEndpointState(context.WithoutCancel(ctx), &next); err != nil {
		d.logger.Error("save webhook endpoint state", "endpoint", next.ID, "error", err)
	}
	if disabledNow {
		d.logger.Warn("webhook endpoint disabled", "endpoint", next.ID, "sessionId", next.SessionID, "reason", next.DisabledReason)
		if d.onDisable != nil {
			d.onDisable(&next)
		}
	}
}

// updateDisabledGauge recounts disabled endpoints. d.mu must be held.
func (d *Dispatcher) updateDisabledGauge() {
	n := 0
	for _, st := range d.endpoints {
		if st.ep.Disabled() {
			n++
		}
	}
	d.metrics.disabled.Set(float64(n))
}

// poll loads open deliveries memory does not hold and refreshes the queue-depth gauge.
func (d *Dispatcher) poll(ctx context.Context) {
	d.mu.Lock()
	var ids []EndpointID
	for id, st := range d.endpoints {
		if st.overflow {
			ids = append(ids, id)
		}
	}
	d.mu.Unlock()
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		d.load(ctx, id)
	}
	if n, err := d.store.countOpen(ctx); err == nil {
		d.metrics.queueDepth.Set(float64(n))
	} else if ctx.Err() == nil {
		d.logger.Warn("count open webhook deliveries", "error", err)
	}
}

// load reads an overflowing endpoint's next open deliveries into memory. The query runs under
// the lock so that enqueue cannot slip a fresh row between the query and clearing overflow.
func (d *Dispatcher) load(ctx context.Context, id EndpointID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.endpoints[id]
	if st == nil || !st.overflow {
		return
	}
	free := d.cfg.MaxQueuedPerEndpoint - st.queued
	if free <= 0 {
		return
	}
	rows, err := d.store.openDeliveries(ctx, id, st.loadedSeq, free)
	if err != nil {
		if ctx.Err() == nil {
			d.logger.Error("load webhook deliveries", "endpoint", id, "error", err)
		}
		return
	}
	for i := range rows {
		d.push(st, jobFromRow(&rows[i], nil))
		st.loadedSeq = rows[i].Seq
	}
	if len(rows) < free {
		st.overflow = false
	}
	if len(rows) > 0 {
		d.signal()
	}
}
