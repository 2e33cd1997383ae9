package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/acme/purchase-transfer/dev/samtemplate"
	"github.com/acme/purchase-transfer/internal/deadline"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// blockingAcceptor stands for a transfer whose storage hangs: it waits for
// its context to end (unless !block), and fails as the domain does then
// (S0002). It records the deadline it was given.
type blockingAcceptor struct {
	deadlines chan time.Time
	block     bool
}

func (a blockingAcceptor) Accept(ctx context.Context, _ transfer.Intake) (transfer.Accepted, error) {
	d, _ := ctx.Deadline()
	a.deadlines <- d
	if a.block {
		<-ctx.Done()
	}
	return transfer.Accepted{}, transfer.Internal(transfer.CodeStorageFailure, ctx.Err())
}

// Through the API Gateway adapter, as Lambda calls it: the work ends the
// margin before the invocation does, and the answer is the documented 500.
func TestRequestWorkEndsAMarginBeforeTheInvocation(t *testing.T) {
	t.Parallel()
	acc := blockingAcceptor{deadlines: make(chan time.Time, 1), block: true}
	handle := httpapi.LambdaHandler(httpapi.NewTransferHandler(acc, &fakeVerifier{}), "")
	invocationEnd := time.Now().Add(2 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), invocationEnd)
	defer cancel()
	resp, err := handle(ctx, events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/purchases/transfers",
		Headers: map[string]string{"x-publisher-token": pubToken, "content-type": "application/json"},
		Body:    validBody,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: "/purchases/transfers"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := <-acc.deadlines, invocationEnd.Add(-deadline.Margin); !got.Equal(want) {
		t.Errorf("the work's deadline is %v, want the invocation's end less the margin, %v", got, want)
	}
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(resp.Body, `"code":"`+string(transfer.CodeStorageFailure)+`"`) {
		t.Errorf("answer = %d %s, want 500 %s", resp.StatusCode, resp.Body, transfer.CodeStorageFailure)
	}
}

// A request without a deadline (a handler called directly) gets the one
// an invocation of the function would have.
func TestRequestWithoutADeadlineGetsTheFunctions(t *testing.T) {
	t.Parallel()
	acc := blockingAcceptor{deadlines: make(chan time.Time, 1)}
	h := httpapi.NewTransferHandler(acc, &fakeVerifier{})
	before := time.Now()
	rec := serve(h, http.MethodPost, "/purchases/transfers", validBody, headers("X-Publisher-Token", pubToken))
	after := time.Now()
	decodeError(t, rec, http.StatusInternalServerError, transfer.CodeStorageFailure)
	got := <-acc.deadlines
	want := httpapi.FunctionTimeout - deadline.Margin
	if got.Before(before.Add(want)) || got.After(after.Add(want)) {
		t.Errorf("the work's deadline is %v from the request, want %v", got.Sub(before), want)
	}
}

// FunctionTimeout is the Timeout the template gives every HTTP function.
func TestFunctionTimeoutIsTheTemplates(t *testing.T) {
	t.Parallel()
	path, err := samtemplate.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"TransferFunction", "StatusFunction", "AppleNotificationsFunction"} {
		fn, err := tpl.Function(id)
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Duration(fn.TimeoutSeconds) * time.Second; got != httpapi.FunctionTimeout {
			t.Errorf("%s: Timeout %v in template.yaml, httpapi.FunctionTimeout %v", id, got, httpapi.FunctionTimeout)
		}
	}
}
