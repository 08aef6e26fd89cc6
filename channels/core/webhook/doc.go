// Package webhook delivers every canonical event to the global endpoint (APP_WEBHOOK_URL) and to
// per-session endpoints, durably and signed the Standard Webhooks way.
//
// Flow: Service.HandleBatch consumes core.TopicEvents as consumer group "webhooks", writes one
// delivery row per matching endpoint (idempotent on (event id, endpoint id)) and only then acks the bus
// message. It hands the new rows to the Dispatcher in memory, so a fresh delivery costs no
// database read. The Dispatcher sends them, records every attempt, and schedules retries on
// Config.RetrySchedule. The database is the source of truth: deliveries a previous run left
// pending, and those beyond the in-memory bound, are loaded by a poll every Config.PollInterval.
//
// An event whose rows cannot be written is not acknowledged: the bus retries it and, after its
// retries, parks it on the poison topic, from which it can be published again (ingestion is
// idempotent). Delivery is at least once; receivers deduplicate on webhook-id (the event id).
//
// Ordering: deliveries of one (endpoint, session) go out one at a time in event order; a later
// one waits while an earlier one is pending or retrying. When an earlier one is dead-lettered
// (its last attempt failed, or the endpoint answered a non-retryable status), the next proceeds.
// A redelivered delivery takes its original place: it goes out before later pending ones of its
// (endpoint, session).
//
// One gateway replica dispatches a database's deliveries: the scheduling state lives in its
// memory. Several replicas sharing one database need a lease per endpoint first (see the
// architecture's planned sharding).
package webhook
