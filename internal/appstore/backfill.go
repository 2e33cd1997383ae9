package appstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// A backfill replays what Apple tried to send: it pages through Get
// Notification History and hands each signedPayload to Receive, exactly as
// if Apple had posted it to the endpoint, so the same verification, app
// check, deduplication (notificationUUID) and ordering (signedDate) apply.
// Re-running one therefore changes nothing: every notification is then a
// duplicate.

// History is Get Notification History; *appstoreapi.Client is one.
type History interface {
	NotificationHistory(ctx context.Context, req appstoreapi.NotificationHistoryRequest, paginationToken string) (appstoreapi.NotificationPage, error)
}

// MaxHistory is how far back Apple keeps notification history (180 days in
// Production, 30 in Sandbox).
const MaxHistory = 180 * 24 * time.Hour

// BackfillRequest is what to replay.
type BackfillRequest struct {
	Since, Until time.Time
	// OnlyFailures replays only what Apple could not deliver.
	OnlyFailures bool
}

// BackfillReport counts what the notifications did.
type BackfillReport struct {
	Pages int `json:"pages"`
	Seen  int `json:"seen"`
	// Applied changed a purchase (or created an unowned one).
	Applied int `json:"applied"`
	// Recorded were new but state nothing to apply (TEST, a downgrade, ...),
	// or named a transactionId of another chain (conflict, logged).
	Recorded int `json:"recorded"`
	// AlreadySeen were recorded before: delivered, or replayed by a backfill.
	AlreadySeen int `json:"alreadySeen"`
	// OutOfOrder were older than what the purchase already reflects.
	OutOfOrder int `json:"outOfOrder"`
	// Failed were refused (not for the publisher's app, a bad signature) or
	// could not be stored; Errors says why for the first few.
	Failed int      `json:"failed"`
	Errors []string `json:"errors,omitempty"`
}

// maxReportedErrors bounds BackfillReport.Errors.
const maxReportedErrors = 10

// Backfill replays the publisher's notification history of req through
// Receive, page by page, each page in signedDate order; progress (may be
// nil) is told the counts after each notification. A failed notification is
// counted and the backfill goes on; a page that cannot be read ends it with
// the counts so far and the error (running it again resumes: what was
// applied is then already seen).
func (r *Receiver) Backfill(ctx context.Context, publisher transfer.PublisherID, h History, req BackfillRequest, progress func(BackfillReport)) (BackfillReport, error) {
	var rep BackfillReport
	if !req.Since.Before(req.Until) {
		return rep, errors.New("backfill: since must be before until")
	}
	query := appstoreapi.NotificationHistoryRequest{StartDate: req.Since.UnixMilli(), EndDate: req.Until.UnixMilli(), OnlyFailures: req.OnlyFailures}
	token := ""
	for {
		page, err := h.NotificationHistory(ctx, query, token)
		if err != nil {
			return rep, fmt.Errorf("backfill: page %d of the notification history: %w", rep.Pages+1, err)
		}
		rep.Pages++
		items := slices.Clone(page.Notifications)
		slices.SortStableFunc(items, func(a, b appstoreapi.HistoricNotification) int {
			return int(a.Notification.Payload.SignedDate - b.Notification.Payload.SignedDate)
		})
		for _, n := range items {
			rep.count(r.Receive(ctx, publisher, n.SignedPayload))
			if progress != nil {
				progress(rep)
			}
		}
		if !page.HasMore || page.PaginationToken == "" {
			return rep, nil
		}
		token = page.PaginationToken
	}
}

func (rep *BackfillReport) count(out Outcome, err error) {
	rep.Seen++
	switch {
	case err != nil:
		rep.Failed++
		if len(rep.Errors) < maxReportedErrors {
			rep.Errors = append(rep.Errors, err.Error())
		}
	case out == OutcomeApplied || out == OutcomeCreated:
		rep.Applied++
	case out == OutcomeDuplicate:
		rep.AlreadySeen++
	case out == OutcomeOutOfOrder:
		rep.OutOfOrder++
	default:
		rep.Recorded++
	}
}
