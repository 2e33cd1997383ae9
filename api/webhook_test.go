package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
)

var webhookOp = pointer("webhooks", webhook.TopicSyncResult, "post")

// TestWebhookPayloads builds the inappPurchaseSyncResult body the code sends
// for every result, with and without the optional fields, and validates it
// strictly against the webhook's request body schema; the schema's data
// properties must be exactly the fields the code writes.
func TestWebhookPayloads(t *testing.T) {
	s := mustSpec(t)
	src := mustSource(t)
	if s.at(webhookOp) == nil {
		t.Fatalf("openapi.yaml has no webhook %q (webhook.TopicSyncResult)", webhook.TopicSyncResult)
	}
	if topic := s.at(pointer("components", "schemas", "InappPurchaseSyncResultEvent", "properties", "topic", "const")); topic != webhook.TopicSyncResult {
		t.Errorf("the payload's topic is %v in openapi.yaml, %q in the code", topic, webhook.TopicSyncResult)
	}
	schemaPtr := webhookOp + pointer("requestBody", "content", "application/json", "schema")
	seen := map[string]bool{}
	for _, r := range src.values("Result") {
		for _, known := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, chain and offer known: %v", r, known), func(t *testing.T) {
				sync := transfer.Synchronization{
					PublisherID: publisher, ID: "order-4711", CorrelationID: "order-4711", TransactionID: "2000000123456789",
					Target: customer, Status: transfer.StatusFinalized, Result: transfer.Result(r), PreviousOwner: other,
				}
				if known {
					sync.OriginalTransactionID, sync.OfferID = "2000000000000001", "S123456789_US"
				}
				body, err := webhook.SyncResultPayload(sync)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.validate(t, true, schemaPtr, body); err != nil {
					t.Errorf("the webhook body does not match openapi.yaml: %v\n%s", err, body)
				}
				var payload struct {
					Data map[string]any `json:"data"`
				}
				if err := json.Unmarshal(body, &payload); err != nil {
					t.Fatal(err)
				}
				for k := range payload.Data {
					seen[k] = true
				}
				_, hasPrevious := payload.Data["previousCleengCustomerId"]
				if want := transfer.Result(r) == transfer.ResultTransferred; hasPrevious != want {
					t.Errorf("previousCleengCustomerId present: %v; openapi.yaml says only on a transfer that changed the owner (%v)", hasPrevious, want)
				}
			})
		}
	}
	props, _ := s.at(pointer("components", "schemas", "InappPurchaseSyncResultData", "properties")).(map[string]any)
	if got, want := sortedKeys(seen), sortedKeys(props); !reflect.DeepEqual(got, want) {
		t.Errorf("the webhook data the code writes has the fields %v; openapi.yaml's InappPurchaseSyncResultData has %v", got, want)
	}
}

// TestWebhookHeaders signs a delivery as the code does (two keys, as during a
// secret rotation) and checks the Standard Webhooks headers against the
// webhook's header parameters: the same names, values matching their schemas.
func TestWebhookHeaders(t *testing.T) {
	s := mustSpec(t)
	params, _ := s.at(webhookOp + "/parameters").([]any)
	documented := map[string]int{}
	for i, p := range params {
		if dig(p, "in") == "header" {
			documented[strings.ToLower(fmt.Sprint(dig(p, "name")))] = i
		}
	}
	h := http.Header{}
	keys := [][]byte{[]byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")}
	if err := webhook.Sign(h, "msg_2xT9o0dbmWQ1x3f6", time.Unix(1767225600, 0), []byte(`{"topic":"inappPurchaseSyncResult"}`), keys); err != nil {
		t.Fatal(err)
	}
	var sent []string
	for name := range h {
		sent = append(sent, strings.ToLower(name))
	}
	slices.Sort(sent)
	if want := sortedKeys(documented); !reflect.DeepEqual(sent, want) {
		t.Errorf("the code signs with the headers %v; openapi.yaml documents %v", sent, want)
	}
	for name, i := range documented {
		v := h.Get(name)
		b, _ := json.Marshal(v)
		if err := s.validate(t, false, webhookOp+pointer("parameters", fmt.Sprint(i), "schema"), b); err != nil {
			t.Errorf("header %s: %q does not match openapi.yaml: %v", name, v, err)
		}
	}
}
