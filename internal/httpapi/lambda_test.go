package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// gatewayEvent is a request as API Gateway HTTP API (payload 2.0) hands it to
// Lambda: lower-case header names, repeated headers joined by commas, the
// path as sent in rawPath, stage $default.
func gatewayEvent(method, rawPath, body string, hdr map[string]string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: method + " " + rawPath,
		RawPath:  rawPath,
		Headers:  hdr,
		Body:     body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID:    "123456789012",
			APIID:        "abc123",
			DomainName:   "abc123.execute-api.eu-west-1.amazonaws.com",
			DomainPrefix: "abc123",
			RequestID:    "gw-request-1",
			RouteKey:     method + " " + rawPath,
			Stage:        "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    method,
				Path:      rawPath,
				Protocol:  "HTTP/1.1",
				SourceIP:  "192.0.2.9",
				UserAgent: "test",
			},
		},
	}
}

func TestLambdaTransferThroughTheProxy(t *testing.T) {
	t.Parallel()
	acc := &fakeAcceptor{}
	handle := httpapi.LambdaHandler(httpapi.NewTransferHandler(acc, &fakeVerifier{}, httpapi.WithBasePath("/storekit2")), "/storekit2")
	event := gatewayEvent(http.MethodPost, "/storekit2/purchases/transfers", validBody, map[string]string{
		"content-type":      "application/json",
		"content-length":    strconv.Itoa(len(validBody)),
		"x-publisher-token": pubToken,
		"correlation-id":    "a,b",
		"accept":            "application/json, text/plain",
	})
	resp, err := handle(context.Background(), event)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d: %s", resp.StatusCode, resp.Body)
	}
	calls := acc.calls()
	if len(calls) != 1 {
		t.Fatalf("acceptor called %d times", len(calls))
	}
	if calls[0].CorrelationID != "a,b" {
		t.Errorf("correlation id = %q, want %q (the proxy adapter splits on commas)", calls[0].CorrelationID, "a,b")
	}
	if want := (transfer.Request{Target: testCustomer, TransactionID: "tx-1", IPAddress: "192.0.2.1"}); calls[0].Request != want {
		t.Errorf("request = %+v", calls[0].Request)
	}
	if want := "/storekit2/purchases/synchronizations/" + url.PathEscape("a,b"); resp.Headers["Location"] != want {
		t.Errorf("Location = %q, want %q", resp.Headers["Location"], want)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body["synchronizationId"] != "a,b" {
		t.Errorf("body = %s (%v)", resp.Body, err)
	}
}

func TestLambdaWithoutBasePath(t *testing.T) {
	t.Parallel()
	acc := &fakeAcceptor{}
	handle := httpapi.LambdaHandler(httpapi.NewTransferHandler(acc, &fakeVerifier{}), "")
	resp, err := handle(context.Background(), gatewayEvent(http.MethodPost, "/purchases/transfers", validBody, map[string]string{
		"x-publisher-token": pubToken,
	}))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, err = %v: %s", resp.StatusCode, err, resp.Body)
	}
	if resp.Headers["Location"] != "/purchases/synchronizations/GENERATEDID234567ABCDEFGHIJ" {
		t.Errorf("Location = %q", resp.Headers["Location"])
	}
}

func TestLambdaBase64Body(t *testing.T) {
	t.Parallel()
	acc := &fakeAcceptor{}
	handle := httpapi.LambdaHandler(httpapi.NewTransferHandler(acc, &fakeVerifier{}), "")
	event := gatewayEvent(http.MethodPost, "/purchases/transfers", base64.StdEncoding.EncodeToString([]byte(validBody)), map[string]string{
		"authorization": "Bearer " + goodJWT,
	})
	event.IsBase64Encoded = true
	resp, err := handle(context.Background(), event)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status = %d, err = %v: %s", resp.StatusCode, err, resp.Body)
	}
	if c := acc.calls(); len(c) != 1 || c[0].Request.Target != testCustomer || c[0].Credential.Customer != testCustomer {
		t.Errorf("intakes = %+v", c)
	}
}

func TestLambdaJoinedCredentialsAreDoubled(t *testing.T) {
	t.Parallel()
	// Two Authorization lines reach Lambda joined by a comma.
	acc := &fakeAcceptor{}
	handle := httpapi.LambdaHandler(httpapi.NewTransferHandler(acc, &fakeVerifier{}), "")
	resp, err := handle(context.Background(), gatewayEvent(http.MethodPost, "/purchases/transfers", validBody, map[string]string{
		"authorization": "Bearer " + goodJWT + ",Bearer " + goodJWT,
	}))
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Code string }
	_ = json.Unmarshal([]byte(resp.Body), &e)
	if resp.StatusCode != http.StatusBadRequest || e.Code != string(transfer.CodeInvalidHeaders) {
		t.Errorf("status = %d code %q, want 400 REQ0004", resp.StatusCode, e.Code)
	}
	if len(acc.calls()) != 0 {
		t.Error("acceptor called")
	}
}

func TestLambdaRequestIDIsTheLambdaOne(t *testing.T) {
	t.Parallel()
	handle := httpapi.LambdaHandler(httpapi.NewTransferHandler(&fakeAcceptor{}, &fakeVerifier{}), "")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-1"})
	resp, err := handle(ctx, gatewayEvent(http.MethodPost, "/purchases/transfers", validBody, map[string]string{
		"content-type": "application/json",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Code, RequestID string }
	if err := json.Unmarshal([]byte(resp.Body), &e); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || e.Code != "REQ0004" || e.RequestID != "lambda-req-1" {
		t.Errorf("status %d code %q requestId %q, want 400 REQ0004 lambda-req-1", resp.StatusCode, e.Code, e.RequestID)
	}
}

func TestLambdaStatusThroughTheProxy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		rawPath    string
		wantStatus int
		wantID     string
	}{
		{"plain id", "/storekit2/purchases/synchronizations/s-1", 200, "s-1"},
		{"escaped comma", "/storekit2/purchases/synchronizations/a%2Cb", 200, "a,b"},
		{"escaped slash", "/storekit2/purchases/synchronizations/a%2Fb", 200, "a/b"},
		{"escaped space", "/storekit2/purchases/synchronizations/a%20b", 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status := &fakeStatusReader{sync: transfer.Synchronization{Status: transfer.StatusProcessing}}
			handle := httpapi.LambdaHandler(httpapi.NewStatusHandler(status, &fakeVerifier{}), "/storekit2")
			resp, err := handle(context.Background(), gatewayEvent(http.MethodGet, tc.rawPath, "", map[string]string{
				"x-publisher-token": pubToken,
			}))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tc.wantStatus, resp.Body)
			}
			if tc.wantStatus == 200 {
				if len(status.calls) != 1 || status.calls[0].id != tc.wantID {
					t.Errorf("calls = %+v, want id %q", status.calls, tc.wantID)
				}
				if resp.Headers["Cache-Control"] != "no-store" {
					t.Errorf("Cache-Control = %q", resp.Headers["Cache-Control"])
				}
			} else if status.callCount() != 0 {
				t.Error("status reader called")
			}
		})
	}
}
