package httpapi_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/acme/purchase-transfer/dev/fixture"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// TestGatewayFixtures pins the API Gateway HTTP API (payload 2.0) wire format
// at both ends: each testdata/<name>.request.json is an event as API Gateway
// delivers it (decoded strictly, so a misspelt key fails), and
// testdata/<name>.response.json is the response the Lambda must hand back,
// compared field by field with the body compared as JSON.
func TestGatewayFixtures(t *testing.T) {
	t.Parallel()
	finalized := time.Date(2025, 1, 1, 12, 0, 3, 0, time.UTC)
	tests := []struct {
		name     string
		basePath string
		accepted bool // the acceptor must see the fixture's body, once
	}{
		{"apigw-v2-transfer", "", true},
		{"apigw-v2-transfer-storekit2", "/storekit2", true},
		{"apigw-v2-transfer-no-credentials", "/storekit2", false},
		{"apigw-v2-status", "", false},
		{"apigw-v2-status-unauthenticated", "/storekit2", false},
	}
	fixtureRequest := transfer.Request{Target: 987654321, TransactionID: "2000000123456789", IPAddress: "198.51.100.23"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var event events.APIGatewayV2HTTPRequest
			fixture.DecodeStrict(t, tc.name, fixture.Read(t, tc.name+".request.json"), &event)
			var want events.APIGatewayV2HTTPResponse
			fixture.DecodeStrict(t, tc.name, fixture.Read(t, tc.name+".response.json"), &want)

			status := &fakeStatusReader{sync: transfer.Synchronization{
				PublisherID:           123456789,
				TransactionID:         "2000000123456789",
				OriginalTransactionID: "2000000000000001",
				Target:                987654321,
				Status:                transfer.StatusFinalized,
				Result:                transfer.ResultTransferred,
				OfferID:               "S123456789_GB",
				PreviousOwner:         123456,
				CreatedAt:             finalized.Add(-3 * time.Second),
				UpdatedAt:             finalized,
				FinalizedAt:           finalized,
			}}
			acceptor := &fakeAcceptor{}
			handle := httpapi.LambdaHandler(httpapi.NewHandler(acceptor, status, &fakeVerifier{}, httpapi.WithBasePath(tc.basePath)), tc.basePath)
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "4b1c7a4e-0f7d-4c55-9d5e-1f2a3b4c5d6e"})
			got, err := handle(ctx, event)
			if err != nil {
				t.Fatal(err)
			}
			if got.StatusCode != want.StatusCode {
				t.Errorf("statusCode = %d, want %d", got.StatusCode, want.StatusCode)
			}
			if g, w := mustJSON(t, got.Headers), mustJSON(t, want.Headers); string(g) != string(w) {
				t.Errorf("headers = %s, want %s", g, w)
			}
			if g, w := mustJSON(t, got.MultiValueHeaders), mustJSON(t, want.MultiValueHeaders); string(g) != string(w) {
				t.Errorf("multiValueHeaders = %s, want %s", g, w)
			}
			if g, w := mustJSON(t, got.Cookies), mustJSON(t, want.Cookies); string(g) != string(w) {
				t.Errorf("cookies = %s, want %s", g, w)
			}
			if got.IsBase64Encoded != want.IsBase64Encoded {
				t.Errorf("isBase64Encoded = %v, want %v", got.IsBase64Encoded, want.IsBase64Encoded)
			}
			calls := acceptor.calls()
			switch {
			case tc.accepted && (len(calls) != 1 || calls[0].Request != fixtureRequest):
				t.Errorf("acceptor saw %+v, want one intake of %+v", calls, fixtureRequest)
			case !tc.accepted && len(calls) != 0:
				t.Errorf("acceptor called %d times", len(calls))
			}
			fixture.AssertJSONEqual(t, tc.name+" body", []byte(got.Body), []byte(want.Body))
		})
	}
}

// mustJSON marshals a header map; encoding/json sorts map keys, so equal
// maps give equal bytes.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
