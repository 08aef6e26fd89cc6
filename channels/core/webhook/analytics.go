package webhook

import (
	"context"
	"fmt"
	"time"
)

// DeliveryCounts counts deliveries by where they stand.
type DeliveryCounts struct {
	// Succeeded: the endpoint answered 2xx.
	Succeeded int
	// Dead: dead-lettered after the last attempt or a non-retryable answer.
	Dead int
	// Open: pending or retrying.
	Open int
}

// DeliveryCounts counts the deliveries created at or after since by their status now, for the
// analytics. Cancelled ones (their endpoint was deleted) are left out: they were never going to
// be attempted. It reads the database only, so it answers before Start too.
func (s *Service) DeliveryCounts(ctx context.Context, since time.Time) (DeliveryCounts, error) {
	var rows []struct {
		Status DeliveryStatus `bun:"status"`
		N      int            `bun:"n"`
	}
	if err := s.store.db.NewSelect().TableExpr("webhook_deliveries").Column("status").ColumnExpr("COUNT(*) AS n").
		Where("created_at >= ?", since.UnixMilli()).Group("status").Scan(ctx, &rows); err != nil {
		return DeliveryCounts{}, fmt.Errorf("count deliveries since %s: %w", since.Format(time.RFC3339), err)
	}
	var c DeliveryCounts
	for _, r := range rows {
		switch {
		case r.Status == StatusSucceeded:
			c.Succeeded += r.N
		case r.Status == StatusDead:
			c.Dead += r.N
		case r.Status.open():
			c.Open += r.N
		}
	}
	return c, nil
}
