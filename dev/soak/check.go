package soak

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Violation kinds the checker reports (and the workload, on the way).
const (
	vUnfinished      = "an accepted synchronization not finalized"
	vChain           = "a purchase whose ownership history is not one unbroken chain"
	vHistoryNotMoved = "a history entry for anything but a PURCHASE_OWNERSHIP_TRANSFERRED synchronization"
	vHistoryMissing  = "a PURCHASE_OWNERSHIP_TRANSFERRED synchronization without its history entry"
	vAppliedTwice    = "a synchronization applied twice"
	vLock            = "a lock left behind after drain"
	vNotDelivered    = "a webhook event never delivered to a healthy endpoint"
	vTwoIDs          = "a webhook event delivered under two webhook-ids"
	vWebhookResult   = "a webhook whose result is not its synchronization's"
	vStatusResult    = "a status answer whose result is not the table's"
)

// snapshot is the table read whole, by kind of item.
type snapshot struct {
	syncs     map[string]map[string]any   // by synchronizationId (the soak's publisher)
	purchases map[string]map[string]any   // by originalTransactionId
	history   map[string][]map[string]any // by originalTransactionId
	events    map[string]map[string]any   // by synchronizationId
	locks     []map[string]any
}

func (e *env) snapshot(ctx context.Context) (*snapshot, error) {
	s := &snapshot{syncs: map[string]map[string]any{}, purchases: map[string]map[string]any{},
		history: map[string][]map[string]any{}, events: map[string]map[string]any{}}
	prefix := fmt.Sprintf("PUB#%d#", publisherID)
	p := dynamodb.NewScanPaginator(e.clean.DynamoDB, &dynamodb.ScanInput{TableName: &e.res.Table, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		for _, raw := range page.Items {
			var item map[string]any
			if err := attributevalue.UnmarshalMap(raw, &item); err != nil {
				return nil, err
			}
			pk, sk := str(item, "pk"), str(item, "sk")
			rest, ours := strings.CutPrefix(pk, prefix)
			switch {
			case sk == "LOCK":
				s.locks = append(s.locks, item)
			case !ours:
			case sk == "SYNC":
				s.syncs[str(item, "synchronizationId")] = item
			case sk == "PURCHASE":
				s.purchases[strings.TrimPrefix(rest, "PURCHASE#")] = item
			case strings.HasPrefix(sk, "HISTORY#"):
				otx := strings.TrimPrefix(rest, "PURCHASE#")
				s.history[otx] = append(s.history[otx], item)
			case strings.HasPrefix(sk, "EVENT#"):
				s.events[strings.TrimPrefix(rest, "SYNC#")] = item
			}
		}
	}
	return s, nil
}

func str(item map[string]any, k string) string { v, _ := item[k].(string); return v }

func num(item map[string]any, k string) int64 {
	switch v := item[k].(type) {
	case float64:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// drained reports what still keeps the system from being drained, "" once
// nothing does: an accepted synchronization unfinished, a message in a
// queue, an event a healthy endpoint has not had.
func (e *env) drained(ctx context.Context, w *world, healthy []*receiver) (string, error) {
	// The queues first: two cheap calls, where the table is a whole Scan
	// (every synchronization, event, delivery and history entry of the run).
	// Scanned every second while a backlog drains, the table would take
	// DynamoDB Local from the consumers that drain it.
	for _, q := range []string{e.res.TransferQueueURL(), e.res.QueueURLs[webhookQueueID]} {
		n, err := e.depth(ctx, q)
		if err != nil {
			return "", err
		}
		if n > 0 {
			return fmt.Sprintf("%d messages in %s", n, q[strings.LastIndexByte(q, '/')+1:]), nil
		}
	}
	s, err := e.snapshot(ctx)
	if err != nil {
		return "", err
	}
	w.mu.Lock()
	ids := make([]string, 0, len(w.accepted))
	for _, a := range w.accepted {
		ids = append(ids, a.id)
	}
	w.mu.Unlock()
	for _, id := range ids {
		if str(s.syncs[id], "status") != string(transfer.StatusFinalized) {
			return "synchronization " + id + " not finalized", nil
		}
	}
	for id, item := range s.syncs {
		if str(item, "status") != string(transfer.StatusFinalized) {
			return "synchronization " + id + " not finalized", nil
		}
	}
	for id := range s.syncs {
		for _, r := range healthy {
			if !r.got(id) {
				return "the " + r.kind + " endpoint has no event of " + id, nil
			}
		}
	}
	return "", nil
}

func (e *env) depth(ctx context.Context, url string) (int, error) {
	out, err := e.clean.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	n := 0
	for _, v := range out.Attributes {
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n, nil
}

// waitDrained polls until drained, or the deadline; it returns what was
// still pending then ("" when drained).
func (e *env) waitDrained(ctx context.Context, w *world, healthy []*receiver, timeout time.Duration, progress io.Writer) (string, error) {
	deadline := time.Now().Add(timeout)
	nextNote := time.Now().Add(15 * time.Second)
	for {
		pending, err := e.drained(ctx, w, healthy)
		if now := time.Now(); now.After(nextNote) && pending != "" {
			fmt.Fprintf(progress, "soak: still draining: %s\n", pending)
			nextNote = now.Add(15 * time.Second)
		}
		if err != nil && ctx.Err() != nil {
			return "", err
		}
		if err == nil && pending == "" {
			return "", nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return err.Error(), nil
			}
			return pending, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// check reads the final state through the table and the API and records
// every violation of the guarantees; it returns the results by kind.
func (e *env) check(ctx context.Context, w *world, receivers []*receiver, c *client) (map[string]int, error) {
	s, err := e.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	st := w.stats
	results := map[string]int{}
	for id, item := range s.syncs {
		if str(item, "status") != string(transfer.StatusFinalized) {
			st.violation(vUnfinished, id+" is "+str(item, "status"))
			continue
		}
		results[str(item, "result")]++
	}
	for _, l := range s.locks {
		st.violation(vLock, str(l, "pk")+" held by "+str(l, "synchronizationId"))
	}
	e.checkHistory(s, w)
	// Every accepted synchronization, through the API.
	w.mu.Lock()
	acc := append([]*accepted(nil), w.accepted...)
	w.mu.Unlock()
	for _, a := range acc {
		item, ok := s.syncs[a.id]
		if !ok {
			st.violation(vUnfinished, a.id+" accepted, but no record")
			continue
		}
		ans := c.send(ctx, "status (checker)", http.MethodGet, "/purchases/synchronizations/"+a.id, c.tokenHeaders(), "")
		got, _ := ans.body["result"].(string)
		if ans.status != http.StatusOK || got != str(item, "result") {
			st.violation(vStatusResult, fmt.Sprintf("%s: %d %s %q, table %q", a.id, ans.status, ans.code, got, str(item, "result")))
		}
	}
	// Webhooks: every finalized synchronization's event, once per endpoint
	// that answers, always under its one webhook-id.
	for id, item := range s.syncs {
		ids := map[string]bool{}
		for _, r := range receivers {
			r.mu.Lock()
			for wid := range r.ids[id] {
				ids[wid] = true
			}
			res, got := r.results[id], len(r.ids[id]) > 0
			r.mu.Unlock()
			if r.kind != ReceiverFailing && !got {
				st.violation(vNotDelivered, r.kind+": "+id)
			}
			if got && res != str(item, "result") {
				st.violation(vWebhookResult, fmt.Sprintf("%s: %s said %s, table %s", id, r.kind, res, str(item, "result")))
			}
		}
		if ev := s.events[id]; len(ids) > 1 || (len(ids) == 1 && !ids[str(ev, "eventId")]) {
			st.violation(vTwoIDs, fmt.Sprintf("%s: %v, event %s", id, keys(ids), str(ev, "eventId")))
		}
	}
	return results, nil
}

// checkHistory: each purchase's entries form one chain from its seeded owner
// to its owner now, each entry is its own PURCHASE_OWNERSHIP_TRANSFERRED
// synchronization's move, and every such synchronization has exactly one.
func (e *env) checkHistory(s *snapshot, w *world) {
	st := w.stats
	entries := map[string]int{}
	for otx, p := range w.byOTX {
		hist := s.history[otx]
		sort.Slice(hist, func(i, j int) bool { return str(hist[i], "sk") < str(hist[j], "sk") })
		owner := int64(p.owner0)
		remaining := append([]map[string]any(nil), hist...)
		// Entries of one instant may sort either way: follow the chain.
		for len(remaining) > 0 {
			next := -1
			for i, h := range remaining {
				if num(h, "fromCustomerId") == owner {
					next = i
					break
				}
			}
			if next < 0 {
				st.violation(vChain, fmt.Sprintf("%s: no entry from %d among %d left", otx, owner, len(remaining)))
				break
			}
			owner = num(remaining[next], "toCustomerId")
			remaining = append(remaining[:next], remaining[next+1:]...)
		}
		if now := num(s.purchases[otx], "ownerCustomerId"); now != owner && len(remaining) == 0 {
			st.violation(vChain, fmt.Sprintf("%s: owner %d, history ends at %d", otx, now, owner))
		}
		for _, h := range hist {
			id := str(h, "synchronizationId")
			entries[id]++
			sync := s.syncs[id]
			switch {
			case str(sync, "result") != string(transfer.ResultTransferred):
				st.violation(vHistoryNotMoved, fmt.Sprintf("%s on %s (%q)", id, otx, str(sync, "result")))
			case num(sync, "targetCustomerId") != num(h, "toCustomerId") || num(sync, "previousCustomerId") != num(h, "fromCustomerId"):
				st.violation(vChain, fmt.Sprintf("%s: entry %d→%d, synchronization %d→%d", id,
					num(h, "fromCustomerId"), num(h, "toCustomerId"), num(sync, "previousCustomerId"), num(sync, "targetCustomerId")))
			}
		}
	}
	for id, n := range entries {
		if n > 1 {
			st.violation(vAppliedTwice, fmt.Sprintf("%s: %d history entries", id, n))
		}
	}
	for id, item := range s.syncs {
		if str(item, "result") == string(transfer.ResultTransferred) && entries[id] == 0 {
			st.violation(vHistoryMissing, id)
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
