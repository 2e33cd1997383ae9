package appstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// The scheduled backfill (functions/applebackfill): every publisher with an
// Apple app and an App Store Connect key gets a backfill of what Apple failed
// to deliver over the last few hours, in each environment its app accepts.
// A window longer than the schedule's interval overlaps the previous run's,
// so a run that failed or was cut short is made up by the next; what a run
// replays again is then merely already seen (Backfill is idempotent).

// PublisherLister lists the publishers that have an Apple app;
// *dynamo.OperatorStore is one.
type PublisherLister interface {
	ApplePublishers(ctx context.Context) ([]transfer.Publisher, error)
}

// HistoryOpener gives Get Notification History of a publisher's app in an
// environment, with the publisher's key; an error matching
// appstoreapi.ErrNoKey when the publisher has no key.
type HistoryOpener func(ctx context.Context, publisher transfer.PublisherID, app transfer.AppleApp, env string) (History, error)

// DefaultBackfillWindow is how far back a scheduled run looks by default.
const DefaultBackfillWindow = 6 * time.Hour

// ScheduledBackfill is the job of one scheduled run.
type ScheduledBackfill struct {
	receiver   *Receiver
	publishers PublisherLister
	open       HistoryOpener
	window     time.Duration
	now        func() time.Time
}

// NewScheduledBackfill replays, through r, the failures of the last window
// of every publisher of list, each app's history opened by open.
func NewScheduledBackfill(r *Receiver, list PublisherLister, open HistoryOpener, window time.Duration) *ScheduledBackfill {
	return &ScheduledBackfill{receiver: r, publishers: list, open: open, window: window, now: time.Now}
}

// ScheduledReport is what one run did: a line in the function's log and its
// invocation's result.
type ScheduledReport struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Publishers have an Apple app; WithoutKey of them have no App Store
	// Connect key, and are left out.
	Publishers int `json:"publishers"`
	WithoutKey int `json:"withoutKey"`
	// Backfills are the (publisher, environment) backfills run; Failed of
	// them could not open the key, read the history (401, unreachable,
	// unverified), or had a notification fail.
	Backfills int `json:"backfills"`
	Failed    int `json:"failed"`
	// NotReached were not started: the run's deadline came first.
	NotReached int `json:"notReached"`
	// Notifications sums the backfills' counts (its Errors stay empty:
	// Failures says what failed).
	Notifications BackfillReport `json:"notifications"`
	// Failures name the first few failed backfills and why.
	Failures []string `json:"failures,omitempty"`
}

// Run backfills every publisher in turn until ctx ends. One publisher
// failing is logged and counted and the others still run; Run returns an
// error when any failed or was not reached, so that the invocation fails and
// the function's Errors alarm fires. Listing the publishers failing ends it.
func (j *ScheduledBackfill) Run(ctx context.Context) (ScheduledReport, error) {
	until := j.now()
	rep := ScheduledReport{Since: until.Add(-j.window).UTC(), Until: until.UTC()}
	pubs, err := j.publishers.ApplePublishers(ctx)
	if err != nil {
		return rep, fmt.Errorf("apple backfill: list the publishers: %w", err)
	}
	pubs = slices.DeleteFunc(pubs, func(p transfer.Publisher) bool { return p.Apple == nil })
	slices.SortFunc(pubs, func(a, b transfer.Publisher) int { return cmp.Compare(a.ID, b.ID) })
	req := BackfillRequest{Since: until.Add(-j.window), Until: until, OnlyFailures: true}
	for i, p := range pubs {
		if ctx.Err() != nil {
			for _, q := range pubs[i:] {
				rep.Publishers++
				rep.NotReached += len(environments(*q.Apple))
			}
			slog.ErrorContext(ctx, "apple backfill: the deadline came before some publishers", "notReached", len(pubs)-i, "firstNotReached", p.ID)
			break
		}
		rep.Publishers++
		j.runPublisher(ctx, p.ID, *p.Apple, req, &rep)
	}
	slog.InfoContext(ctx, "apple backfill done", "since", rep.Since, "until", rep.Until, "publishers", rep.Publishers,
		"withoutKey", rep.WithoutKey, "backfills", rep.Backfills, "failed", rep.Failed, "notReached", rep.NotReached,
		"seen", rep.Notifications.Seen, "applied", rep.Notifications.Applied, "recorded", rep.Notifications.Recorded,
		"alreadySeen", rep.Notifications.AlreadySeen, "outOfOrder", rep.Notifications.OutOfOrder, "failedNotifications", rep.Notifications.Failed)
	if rep.Failed+rep.NotReached > 0 {
		return rep, fmt.Errorf("apple backfill: %d of %d backfill(s) failed, %d not reached before the deadline", rep.Failed, rep.Backfills+rep.NotReached, rep.NotReached)
	}
	return rep, nil
}

// runPublisher backfills one publisher's app in each of its environments.
func (j *ScheduledBackfill) runPublisher(ctx context.Context, p transfer.PublisherID, app transfer.AppleApp, req BackfillRequest, rep *ScheduledReport) {
	for _, env := range environments(app) {
		if ctx.Err() != nil {
			rep.NotReached++
			continue
		}
		h, err := j.open(ctx, p, app, env)
		if errors.Is(err, appstoreapi.ErrNoKey) {
			// A publisher without a key is not in scope: nothing is asked of
			// Apple on its behalf.
			rep.WithoutKey++
			return
		}
		rep.Backfills++
		if err != nil {
			rep.fail(ctx, p, env, err)
			continue
		}
		began := time.Now()
		got, err := j.receiver.Backfill(ctx, p, h, req, nil)
		rep.Notifications.add(got)
		slog.InfoContext(ctx, "apple backfill of a publisher", "publisher", p, "environment", env, "pages", got.Pages, "seen", got.Seen,
			"applied", got.Applied, "recorded", got.Recorded, "alreadySeen", got.AlreadySeen, "outOfOrder", got.OutOfOrder,
			"failed", got.Failed, "seconds", time.Since(began).Seconds())
		switch {
		case err != nil:
			rep.fail(ctx, p, env, err)
		case got.Failed > 0:
			rep.fail(ctx, p, env, fmt.Errorf("%d notification(s) failed, the first: %s", got.Failed, got.Errors[0]))
		}
	}
}

// maxReportedFailures bounds ScheduledReport.Failures.
const maxReportedFailures = 10

func (rep *ScheduledReport) fail(ctx context.Context, p transfer.PublisherID, env string, err error) {
	rep.Failed++
	slog.ErrorContext(ctx, "apple backfill of a publisher failed", "publisher", p, "environment", env, "error", err)
	if len(rep.Failures) < maxReportedFailures {
		rep.Failures = append(rep.Failures, fmt.Sprintf("publisher %d (%s): %v", p, env, err))
	}
}

func (rep *BackfillReport) add(o BackfillReport) {
	rep.Pages += o.Pages
	rep.Seen += o.Seen
	rep.Applied += o.Applied
	rep.Recorded += o.Recorded
	rep.AlreadySeen += o.AlreadySeen
	rep.OutOfOrder += o.OutOfOrder
	rep.Failed += o.Failed
}

// environments are the app's environments Apple has a host for, each once,
// Production first.
func environments(app transfer.AppleApp) []string {
	var out []string
	for _, e := range []string{transfer.EnvironmentProduction, transfer.EnvironmentSandbox} {
		if app.Accepts(e) {
			out = append(out, e)
		}
	}
	return out
}

// HistoriesOf opens histories with c: the App Store Server API's client of
// the publisher's app and environment, with its key.
func HistoriesOf(c *appstoreapi.Connector) HistoryOpener {
	return func(ctx context.Context, p transfer.PublisherID, app transfer.AppleApp, env string) (History, error) {
		client, err := c.Client(ctx, p, app, env)
		if err != nil {
			return nil, err
		}
		return client, nil
	}
}
