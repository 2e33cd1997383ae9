package appstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

type publisherList []transfer.Publisher

func (l publisherList) ApplePublishers(context.Context) ([]transfer.Publisher, error) { return l, nil }

type failingList struct{}

func (failingList) ApplePublishers(context.Context) ([]transfer.Publisher, error) {
	return nil, errors.New("scan: throttled")
}

// opened is what a HistoryOpener was asked.
type opened struct {
	publisher transfer.PublisherID
	env       string
}

func TestScheduledBackfill(t *testing.T) {
	now := time.Now()
	v := byPayload{}
	for _, name := range []string{"p1-prod", "p1-sandbox", "p5-prod"} {
		n := renewal(now.Add(-time.Hour))
		n.Payload.NotificationUUID = name
		v[name] = n
	}
	both := *testApp
	both.Environments = []string{transfer.EnvironmentSandbox, transfer.EnvironmentProduction, transfer.EnvironmentSandbox}
	list := publisherList{
		{ID: 5, Apple: testApp},
		{ID: 1, Apple: &both},
		{ID: 2, Apple: testApp}, // Apple refuses its key
		{ID: 3, Apple: testApp}, // no key
		{ID: 4, Apple: testApp}, // its key does not open
		{ID: 6},                 // no Apple app
	}
	histories := map[opened]*pages{
		{1, transfer.EnvironmentProduction}: {v: v, pages: [][]string{{"p1-prod"}}},
		{1, transfer.EnvironmentSandbox}:    {v: v, pages: [][]string{{"p1-sandbox", "forged"}}},
		{2, transfer.EnvironmentProduction}: {v: v, pages: [][]string{{}}, fail: 1},
		{5, transfer.EnvironmentProduction}: {v: v, pages: [][]string{{"p5-prod"}}},
	}
	var asked []opened
	open := func(_ context.Context, p transfer.PublisherID, app transfer.AppleApp, env string) (appstore.History, error) {
		asked = append(asked, opened{p, env})
		switch p {
		case 3:
			return nil, fmt.Errorf("open: %w", appstoreapi.ErrNoKey)
		case 4:
			return nil, errors.New("open the App Store Connect key: message authentication failed")
		}
		return histories[opened{p, env}], nil
	}
	r := appstore.NewReceiver(v, &fakeDirectory{pub: &transfer.Publisher{ID: 1, Apple: testApp}}, &fakeStore{})
	job := appstore.NewScheduledBackfill(r, list, open, 6*time.Hour)
	rep, err := job.Run(context.Background())

	if err == nil || !strings.Contains(err.Error(), "3 of 5 backfill(s) failed") {
		t.Errorf("Run error = %v, want 3 of 5 failed", err)
	}
	want := []opened{{1, "Production"}, {1, "Sandbox"}, {2, "Production"}, {3, "Production"}, {4, "Production"}, {5, "Production"}}
	if fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Errorf("opened %v, want %v: publishers in id order, each environment once, Production first", asked, want)
	}
	if rep.Publishers != 5 || rep.WithoutKey != 1 || rep.Backfills != 5 || rep.Failed != 3 || rep.NotReached != 0 {
		t.Errorf("report = %+v", rep)
	}
	n := rep.Notifications
	if n.Seen != 4 || n.Applied != 3 || n.Failed != 1 || n.Pages != 3 {
		t.Errorf("notifications = %+v, want 4 seen, 3 applied (publishers 1 and 5 ran despite the others), 1 failed", n)
	}
	if len(rep.Failures) != 3 || !strings.Contains(rep.Failures[0], "publisher 1 (Sandbox)") ||
		!strings.Contains(rep.Failures[1], "publisher 2 (Production)") || !strings.Contains(rep.Failures[2], "publisher 4 (Production)") {
		t.Errorf("failures = %q", rep.Failures)
	}
	if got := rep.Until.Sub(rep.Since); got != 6*time.Hour {
		t.Errorf("window = %s, want 6h", got)
	}
	for k, h := range histories {
		if len(h.tokens) != 1 {
			t.Errorf("history of %v read %d times, want 1", k, len(h.tokens))
		}
	}
}

// Every backfill succeeding: no error.
func TestScheduledBackfillAllWell(t *testing.T) {
	v := byPayload{"a": renewal(time.Now().Add(-time.Minute))}
	open := func(context.Context, transfer.PublisherID, transfer.AppleApp, string) (appstore.History, error) {
		return &pages{v: v, pages: [][]string{{"a"}}}, nil
	}
	r := appstore.NewReceiver(v, &fakeDirectory{pub: &transfer.Publisher{ID: 1, Apple: testApp}}, &fakeStore{})
	rep, err := appstore.NewScheduledBackfill(r, publisherList{{ID: 1, Apple: testApp}}, open, time.Hour).Run(context.Background())
	if err != nil || rep.Backfills != 1 || rep.Notifications.Applied != 1 || rep.Failed != 0 {
		t.Errorf("Run = %+v, %v", rep, err)
	}
	if _, err := appstore.NewScheduledBackfill(r, failingList{}, open, time.Hour).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Errorf("a failed listing: %v", err)
	}
}

// A run whose deadline has passed starts nothing, and says so: its
// invocation fails, and the next run's window covers the same hours.
func TestScheduledBackfillDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	open := func(context.Context, transfer.PublisherID, transfer.AppleApp, string) (appstore.History, error) {
		calls++
		return nil, errors.New("unreachable")
	}
	both := *testApp
	both.Environments = []string{transfer.EnvironmentProduction, transfer.EnvironmentSandbox}
	r := appstore.NewReceiver(byPayload{}, &fakeDirectory{}, &fakeStore{})
	rep, err := appstore.NewScheduledBackfill(r, publisherList{{ID: 1, Apple: testApp}, {ID: 2, Apple: &both}}, open, time.Hour).Run(ctx)
	if err == nil || calls != 0 || rep.NotReached != 3 || rep.Publishers != 2 || rep.Backfills != 0 {
		t.Errorf("Run = %+v, %v (%d opened)", rep, err, calls)
	}

}
