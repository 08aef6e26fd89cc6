// Package health reports whether the gateway and its components work: GET /health (public,
// liveness) and GET /health/detailed (behind the key: every component probed, with latency).
package health

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/platform/httpserver"
)

// Check probes one component (the database, the bus...). Func must honour ctx's deadline.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// Status values of the health documents.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
)

// Registry holds the component checks. Safe for concurrent use.
type Registry struct {
	started time.Time
	version string
	timeout time.Duration
	system  *systemProbe

	mu     sync.RWMutex
	checks []Check
	// latest is the last background probe's result, served by /health/detailed.
	latest *Detailed
}

// NewRegistry returns a registry with the given checks; each probe gets timeout. diskPath is the
// directory whose disk /health/system reports (the data directory).
func NewRegistry(version string, timeout time.Duration, diskPath string, checks ...Check) (*Registry, error) {
	started := time.Now()
	sys, err := newSystemProbe(started, diskPath)
	if err != nil {
		return nil, err
	}
	return &Registry{started: started, version: version, timeout: timeout, system: sys, checks: checks}, nil
}

// Add registers another check.
func (r *Registry) Add(c Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, c)
}

// ComponentStatus is one component's probe result.
type ComponentStatus struct {
	Name      string  `json:"name" example:"database"`
	Status    string  `json:"status" enum:"ok,degraded"`
	LatencyMS float64 `json:"latencyMs" doc:"How long the probe took, in milliseconds."`
	Error     string  `json:"error,omitempty" doc:"Why the component is degraded."`
}

// Liveness is the body of GET /health.
type Liveness struct {
	Status    string    `json:"status" enum:"ok"`
	Version   string    `json:"version"`
	Uptime    float64   `json:"uptimeSeconds"`
	Timestamp time.Time `json:"timestamp"`
}

// Detailed is the body of GET /health/detailed.
type Detailed struct {
	Status     string            `json:"status" enum:"ok,degraded"`
	Version    string            `json:"version"`
	Uptime     float64           `json:"uptimeSeconds"`
	Timestamp  time.Time         `json:"timestamp"`
	Components []ComponentStatus `json:"components"`
	// CheckedAt is when the components were probed: the background probe runs every
	// HEALTH_CHECK_INTERVAL, and the endpoint serves its latest result without probing again.
	CheckedAt  time.Time `json:"checkedAt" doc:"When the components were last probed (every HEALTH_CHECK_INTERVAL, in the background)."`
	AgeSeconds float64   `json:"ageSeconds" doc:"How old that probe is."`
}

// Probe runs every check concurrently and reports each.
func (r *Registry) Probe(ctx context.Context) Detailed {
	r.mu.RLock()
	checks := append([]Check(nil), r.checks...)
	r.mu.RUnlock()

	now := time.Now().UTC()
	out := Detailed{Status: StatusOK, Version: r.version, Uptime: time.Since(r.started).Seconds(), Timestamp: now,
		CheckedAt: now, Components: make([]ComponentStatus, len(checks))}
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, r.timeout)
			defer cancel()
			start := time.Now()
			err := c.Func(cctx)
			st := ComponentStatus{Name: c.Name, Status: StatusOK, LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				st.Status, st.Error = StatusDegraded, err.Error()
			}
			out.Components[i] = st
		})
	}
	wg.Wait()
	for _, c := range out.Components {
		if c.Status != StatusOK {
			out.Status = StatusDegraded
		}
	}
	return out
}

// Run probes every interval in the background until ctx ends, keeping the latest result for
// Latest. It probes once before returning, so the first request has a result.
func (r *Registry) Run(ctx context.Context, interval time.Duration) {
	r.store(r.Probe(ctx))
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.store(r.Probe(ctx))
			}
		}
	}()
}

func (r *Registry) store(d Detailed) {
	r.mu.Lock()
	r.latest = &d
	r.mu.Unlock()
}

// Latest is the last background probe's result, with the uptime and timestamp of now; without
// a background probe (Run not called) it probes now.
func (r *Registry) Latest(ctx context.Context) Detailed {
	r.mu.RLock()
	latest := r.latest
	r.mu.RUnlock()
	if latest == nil {
		return r.Probe(ctx)
	}
	d := *latest
	now := time.Now().UTC()
	d.Uptime, d.Timestamp, d.AgeSeconds = time.Since(r.started).Seconds(), now, now.Sub(d.CheckedAt).Seconds()
	return d
}

type livenessOutput struct{ Body Liveness }

type systemOutput struct{ Body System }

type detailedOutput struct {
	Status int `json:"-"`
	Body   Detailed
}

// Register adds the health operations to api.
func Register(api huma.API, r *Registry) {
	live := huma.Operation{
		OperationID: "getHealth", Method: http.MethodGet, Path: "/health", Tags: []string{"Health"},
		Summary:     "Liveness",
		Description: "Answers 200 while the process serves requests. Needs no API key, for load balancers and orchestrators.",
	}
	httpserver.Public(&live)
	huma.Register(api, live, func(context.Context, *struct{}) (*livenessOutput, error) {
		return &livenessOutput{Body: Liveness{Status: StatusOK, Version: r.version, Uptime: time.Since(r.started).Seconds(), Timestamp: time.Now().UTC()}}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "getHealthDetailed", Method: http.MethodGet, Path: "/health/detailed", Tags: []string{"Health"},
		Summary: "Component health",
		Description: "Every component (database, bus, outbox, webhooks, channel...) as the background probe last found it, with its latency; " +
			"the probe runs every HEALTH_CHECK_INTERVAL, and checkedAt/ageSeconds say when. Answers 503 when any is degraded.",
		Responses: map[string]*huma.Response{"503": {Description: "A component is degraded; the body still lists every component."}},
	}, func(ctx context.Context, _ *struct{}) (*detailedOutput, error) {
		d := r.Latest(ctx)
		status := http.StatusOK
		if d.Status != StatusOK {
			status = http.StatusServiceUnavailable
		}
		return &detailedOutput{Status: status, Body: d}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "getHealthSystem", Method: http.MethodGet, Path: "/health/system", Tags: []string{"Health"},
		Summary:     "Process and machine resources",
		Description: "CPU, memory, disk of the data directory, goroutines and uptime.",
	}, func(ctx context.Context, _ *struct{}) (*systemOutput, error) {
		sys, err := r.system.read(ctx)
		if err != nil {
			return nil, huma.Error503ServiceUnavailable(err.Error())
		}
		return &systemOutput{Body: sys}, nil
	})
}
