// Package telemetry turns what the service does into metrics, through the
// seams the code already has: an httpapi.Observer for the three endpoints, a
// transfer.Notifier and a queue.JobHandler around the processor, an
// AttemptSender and a Parker around the webhook deliverer, and wrappers of the
// sweeper's two sweeps. Nothing in the domain calls it; each main (and
// dev/inprocess, for `make run`) wires it in. The names below are the
// metrics of the namespace metrics.Namespace that template.yaml's alarms and
// dashboard read, and docs/operations.md explains.
package telemetry

import (
	"context"
	"time"

	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/metrics"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

// The metrics, each dimensioned by metrics.FunctionDimension and, where a
// second dimension is named, by it too.
const (
	// TransfersAccepted: 202s of new synchronizations (transfer function).
	TransfersAccepted = "TransfersAccepted"
	// TransfersReplayed: 202s answered from an earlier identical request.
	TransfersReplayed = "TransfersReplayed"
	// Refused: answers with an error code, by CodeDimension (every API
	// function; the 5xx codes S#### and SK2C0004 included).
	Refused = "Refused"
	// StatusPolls: 200s of the status endpoint, by StatusDimension.
	StatusPolls = "StatusPolls"
	// AppleNotifications: notifications taken in, by OutcomeDimension.
	AppleNotifications = "AppleNotifications"
	// Finalized: synchronizations finalized, by ResultDimension (processor).
	Finalized = "Finalized"
	// AcceptToFinalized: milliseconds from the 202 to the committed result.
	AcceptToFinalized = "AcceptToFinalized"
	// ProcessorRetries: deliveries of a job that failed and go back to the queue.
	ProcessorRetries = "ProcessorRetries"
	// ProcessorDeadLettered: jobs that failed on their last delivery (after
	// being finalized TRANSFER_FAILED when that could be written).
	ProcessorDeadLettered = "ProcessorDeadLettered"
	// WebhookAttempts: HTTP attempts of webhook deliveries.
	WebhookAttempts = "WebhookAttempts"
	// WebhookDelivered: 1 for an attempt answered 2xx in time, 0 otherwise:
	// its Sum counts successes, its Average is the success rate.
	WebhookDelivered = "WebhookDelivered"
	// WebhookAttemptDuration: milliseconds of one attempt.
	WebhookAttemptDuration = "WebhookAttemptDuration"
	// WebhookGivenUp: deliveries given up and parked in the dead-letter queue.
	WebhookGivenUp = "WebhookGivenUp"
	// SweeperRequeued: stale synchronizations whose job was sent again, per run.
	SweeperRequeued = "SweeperRequeued"
	// SweeperRedispatched: webhook events dispatched again, per run.
	SweeperRedispatched = "SweeperRedispatched"
)

// The second dimensions.
const (
	CodeDimension    = "Code"
	StatusDimension  = "Status"
	OutcomeDimension = "Outcome"
	ResultDimension  = "Result"
)

// API is the httpapi.Observer of a function's endpoints.
type API struct {
	m *metrics.Emitter
}

// NewAPI counts the answers of the endpoints it observes into m.
func NewAPI(m *metrics.Emitter) *API { return &API{m: m} }

// Answered implements httpapi.Observer.
func (a *API) Answered(ctx context.Context, ans httpapi.Answer) {
	props := []metrics.Property{{Key: "endpoint", Value: ans.Endpoint}, {Key: "status", Value: ans.Status},
		{Key: "durationMs", Value: ms(ans.Duration)}}
	if ans.SynchronizationID != "" {
		props = append(props, metrics.Property{Key: "synchronizationId", Value: ans.SynchronizationID})
	}
	switch {
	case ans.Code != "":
		a.m.Count(ctx, Refused, 1, metrics.Dimension{Name: CodeDimension, Value: string(ans.Code)}, props...)
	case ans.Status >= 300:
		// Go's plain 404/405 of an unknown route or method: not ours to count.
	case ans.Endpoint == httpapi.EndpointTransfer && ans.Replayed:
		a.m.Count(ctx, TransfersReplayed, 1, metrics.Dimension{}, props...)
	case ans.Endpoint == httpapi.EndpointTransfer:
		a.m.Count(ctx, TransfersAccepted, 1, metrics.Dimension{}, props...)
	case ans.Endpoint == httpapi.EndpointStatus:
		a.m.Count(ctx, StatusPolls, 1, metrics.Dimension{Name: StatusDimension, Value: string(ans.SyncStatus)}, props...)
	case ans.Endpoint == httpapi.EndpointApple:
		a.m.Count(ctx, AppleNotifications, 1, metrics.Dimension{Name: OutcomeDimension, Value: string(ans.Outcome)}, props...)
	}
}

// Finalizations is the processor's transfer.Notifier that counts results
// and times them from acceptance.
type Finalizations struct {
	m *metrics.Emitter
}

// NewFinalizations counts finalizations into m.
func NewFinalizations(m *metrics.Emitter) *Finalizations { return &Finalizations{m: m} }

// Finalized implements transfer.Notifier.
func (f *Finalizations) Finalized(ctx context.Context, s transfer.Synchronization) {
	f.m.Emit(ctx, syncProps(s.PublisherID, s.ID),
		metrics.Value{Name: Finalized, Unit: metrics.Count, Value: 1, Dimension: metrics.Dimension{Name: ResultDimension, Value: string(s.Result)}},
		metrics.Value{Name: AcceptToFinalized, Unit: metrics.Milliseconds, Value: ms(s.FinalizedAt.Sub(s.CreatedAt))},
	)
}

// Jobs wraps the processor's job handler to count the deliveries that fail.
type Jobs struct {
	m           *metrics.Emitter
	next        queue.JobHandler
	maxReceives int
}

// NewJobs counts next's failed deliveries into m; maxReceives is the
// transfer queue's maxReceiveCount (MAX_RECEIVE_COUNT).
func NewJobs(m *metrics.Emitter, next queue.JobHandler, maxReceives int) *Jobs {
	return &Jobs{m: m, next: next, maxReceives: maxReceives}
}

// Handle implements queue.JobHandler.
func (j *Jobs) Handle(ctx context.Context, job transfer.Job, receiveCount int) error {
	err := j.next.Handle(ctx, job, receiveCount)
	if err != nil {
		name := ProcessorRetries
		if receiveCount >= j.maxReceives {
			name = ProcessorDeadLettered
		}
		j.m.Count(ctx, name, 1, metrics.Dimension{}, append(syncProps(job.PublisherID, job.SynchronizationID),
			metrics.Property{Key: "receiveCount", Value: receiveCount})...)
	}
	return err
}

// Attempts wraps the webhook sender to count and time each attempt.
type Attempts struct {
	m    *metrics.Emitter
	next webhook.AttemptSender
}

// NewAttempts counts next's attempts into m.
func NewAttempts(m *metrics.Emitter, next webhook.AttemptSender) *Attempts {
	return &Attempts{m: m, next: next}
}

// Send implements webhook.AttemptSender.
func (a *Attempts) Send(ctx context.Context, url, id string, at time.Time, body []byte, keys [][]byte) webhook.Answer {
	start := time.Now()
	ans := a.next.Send(ctx, url, id, at, body, keys)
	delivered := 0.0
	if ans.Verdict() == webhook.Delivered {
		delivered = 1
	}
	a.m.Emit(ctx, []metrics.Property{{Key: "eventId", Value: id}, {Key: "httpStatus", Value: ans.Status}},
		metrics.Value{Name: WebhookAttempts, Unit: metrics.Count, Value: 1},
		metrics.Value{Name: WebhookDelivered, Unit: metrics.Count, Value: delivered},
		metrics.Value{Name: WebhookAttemptDuration, Unit: metrics.Milliseconds, Value: ms(time.Since(start))},
	)
	return ans
}

// GiveUps wraps the webhook deliverer's Parker: every parked delivery is a
// delivery given up.
type GiveUps struct {
	m    *metrics.Emitter
	next webhook.Parker
}

// NewGiveUps counts the deliveries next parks into m.
func NewGiveUps(m *metrics.Emitter, next webhook.Parker) *GiveUps { return &GiveUps{m: m, next: next} }

// Park implements webhook.Parker.
func (g *GiveUps) Park(ctx context.Context, d webhook.Delivery) error {
	err := g.next.Park(ctx, d)
	if err == nil {
		g.m.Count(ctx, WebhookGivenUp, 1, metrics.Dimension{}, append(syncProps(d.PublisherID, d.SynchronizationID),
			metrics.Property{Key: "endpointId", Value: d.EndpointID}, metrics.Property{Key: "attempts", Value: d.Attempts},
			metrics.Property{Key: "lastStatus", Value: d.LastStatus})...)
	}
	return err
}

// Sweeper is either sweep of the sweeper function: transfer.Sweeper or
// webhook.Redispatcher.
type Sweeper interface {
	Sweep(ctx context.Context) (int, error)
}

// Sweeps wraps a sweep to write how many it did, every run (zero included,
// so the series has no gaps).
type Sweeps struct {
	m    *metrics.Emitter
	name string
	next Sweeper
}

// NewRequeues counts the transfer sweeper's re-enqueued jobs into m.
func NewRequeues(m *metrics.Emitter, next Sweeper) *Sweeps {
	return &Sweeps{m: m, name: SweeperRequeued, next: next}
}

// NewRedispatches counts the webhook events the redispatcher sent again into m.
func NewRedispatches(m *metrics.Emitter, next Sweeper) *Sweeps {
	return &Sweeps{m: m, name: SweeperRedispatched, next: next}
}

// Sweep implements Sweeper.
func (s *Sweeps) Sweep(ctx context.Context) (int, error) {
	n, err := s.next.Sweep(ctx)
	s.m.Count(ctx, s.name, float64(n), metrics.Dimension{})
	return n, err
}

func syncProps(p transfer.PublisherID, syncID string) []metrics.Property {
	return []metrics.Property{{Key: "publisherId", Value: int64(p)}, {Key: "synchronizationId", Value: syncID}}
}

// ms is a duration in milliseconds, to the microsecond.
func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
