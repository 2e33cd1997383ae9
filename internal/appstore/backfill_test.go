package appstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/appstoreapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// byPayload verifies a signedPayload into the notification it names, or refuses it.
type byPayload map[string]apple.Notification

func (v byPayload) VerifyNotification(_ context.Context, s string) (apple.Notification, error) {
	n, ok := v[s]
	if !ok {
		return apple.Notification{}, apple.ErrUnverified
	}
	return n, nil
}

// pages is a notification history; an error in place of a page fails that request.
type pages struct {
	v      byPayload
	pages  [][]string
	fail   int // 1-based page that fails; 0: none
	tokens []string
}

func (p *pages) NotificationHistory(_ context.Context, _ appstoreapi.NotificationHistoryRequest, token string) (appstoreapi.NotificationPage, error) {
	p.tokens = append(p.tokens, token)
	i := len(p.tokens) - 1
	if p.fail == i+1 {
		return appstoreapi.NotificationPage{}, errors.New("HTTP 503")
	}
	var out appstoreapi.NotificationPage
	for _, s := range p.pages[i] {
		out.Notifications = append(out.Notifications, appstoreapi.HistoricNotification{SignedPayload: s, Notification: p.v[s]})
	}
	if i+1 < len(p.pages) {
		out.HasMore, out.PaginationToken = true, "page"+string(rune('2'+i))
	}
	return out, nil
}

func TestBackfill(t *testing.T) {
	now := time.Now()
	v := byPayload{}
	for i, name := range []string{"a", "b", "c"} {
		n := renewal(now.Add(time.Duration(i) * time.Minute))
		n.Payload.NotificationUUID = name
		v[name] = n
	}
	store := &fakeStore{}
	dir := &fakeDirectory{pub: &transfer.Publisher{ID: 7, Apple: testApp}}
	r := appstore.NewReceiver(v, dir, store)
	h := &pages{v: v, pages: [][]string{{"b", "forged", "a"}, {"c"}}}
	var seen []int
	rep, err := r.Backfill(context.Background(), 7, h, appstore.BackfillRequest{Since: now.Add(-time.Hour), Until: now}, func(r appstore.BackfillReport) { seen = append(seen, r.Seen) })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pages != 2 || rep.Seen != 4 || rep.Failed != 1 || rep.Applied != 3 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "APL0002") {
		t.Fatalf("report = %+v", rep)
	}
	if len(h.tokens) != 2 || h.tokens[0] != "" || h.tokens[1] != "page2" {
		t.Errorf("pagination tokens = %q", h.tokens)
	}
	// Within a page, by signedDate: a before b.
	var order []string
	for _, rec := range store.records {
		order = append(order, rec.NotificationUUID)
	}
	if strings.Join(order, ",") != "a,b,c" {
		t.Errorf("applied in order %v, want a,b,c", order)
	}
	if len(seen) != 4 || seen[3] != 4 {
		t.Errorf("progress = %v", seen)
	}

	// A page that cannot be read ends the backfill with the counts so far.
	h = &pages{v: v, pages: [][]string{{"a"}, {"c"}}, fail: 2}
	rep, err = r.Backfill(context.Background(), 7, h, appstore.BackfillRequest{Since: now.Add(-time.Hour), Until: now}, nil)
	if err == nil || !strings.Contains(err.Error(), "page 2") || rep.Seen != 1 || rep.Pages != 1 {
		t.Errorf("a failing page = %+v, %v", rep, err)
	}
	if _, err := r.Backfill(context.Background(), 7, h, appstore.BackfillRequest{Since: now, Until: now}, nil); err == nil {
		t.Error("an empty window was asked for")
	}
}
