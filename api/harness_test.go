package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
	"github.com/acme/purchase-transfer/internal/appstore"
	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// The real handlers, use cases and JWT verifier, over in-memory ports whose
// answers each test chooses: the bodies checked here are the ones the service
// writes.

const (
	publisher = transfer.PublisherID(7)
	customer  = transfer.CustomerID(42)
	other     = transfer.CustomerID(43)
)

// The publisher's Apple app (docs/contract.md §6).
const (
	appBundleID   = "com.example.streaming"
	appAppleID    = int64(1234567890)
	appleTxID     = "2000000000000002"
	appleOrigTxID = "2000000000000001"
)

var (
	jwtSecret   = []byte("openapi-conformance-test-secret-0123456789")
	publisherTk string
	// appleRoot signs like Apple; the handlers' verifier trusts it, and only it.
	appleRoot     *localroot.Authority
	appleVerifier *apple.Verifier
)

func init() {
	publisherTk, _ = auth.NewPublisherToken(publisher)
	var err error
	if appleRoot, err = localroot.New(); err != nil {
		panic(err)
	}
	if appleVerifier, err = apple.NewVerifier(apple.WithRoots(appleRoot.Pool())); err != nil {
		panic(err)
	}
}

// world is what the ports answer.
type world struct {
	publisher    transfer.Publisher
	tokenInvalid bool
	lookupErr    error
	conflict     *transfer.OpenConflict
	openErr      error
	openPanic    bool
	queueErr     error
	stored       *transfer.Synchronization // what Get finds
	getErr       error
	getPanic     bool
	// The Apple notifications store (appstore.Store).
	purchase    *transfer.Purchase // what Purchase finds
	recordErrs  []error            // what successive Records answer (nil when used up)
	recordPanic bool
	// keysDown: the HS256 keys cannot be read (Secrets Manager failing).
	keysDown bool
}

// hs256Keys are the world's HS256 keys, as package secrets serves them.
type hs256Keys struct{ w *world }

func (k hs256Keys) Current(context.Context) ([][]byte, error) {
	if k.w.keysDown {
		return nil, errBoom
	}
	return [][]byte{jwtSecret}, nil
}

func (k hs256Keys) Refresh(context.Context) ([][]byte, bool) { return [][]byte{jwtSecret}, false }

func newWorld() *world {
	return &world{publisher: transfer.Publisher{ID: publisher, StoreKit2Active: true, Apple: &transfer.AppleApp{
		BundleID: appBundleID, AppAppleID: appAppleID, Environments: []string{transfer.EnvironmentProduction},
		Offers: map[string]string{"com.example.premium.monthly": "S123456789_US"},
	}}}
}

func (w *world) Lookup(_ context.Context, keys transfer.LookupKeys) (transfer.Lookup, error) {
	if w.lookupErr != nil {
		return transfer.Lookup{}, w.lookupErr
	}
	if keys.Publisher != w.publisher.ID {
		return transfer.Lookup{}, nil
	}
	p := w.publisher
	return transfer.Lookup{Publisher: &p, TokenValid: keys.TokenHash != "" && !w.tokenInvalid}, nil
}

func (w *world) Open(context.Context, transfer.Synchronization, time.Time, transfer.Limits) error {
	if w.openPanic {
		panic("store exploded")
	}
	if w.conflict != nil {
		return w.conflict
	}
	return w.openErr
}

func (w *world) Abandon(context.Context, transfer.Synchronization) error { return nil }

func (w *world) Get(_ context.Context, p transfer.PublisherID, id string) (transfer.Synchronization, bool, error) {
	if w.getPanic {
		panic("store exploded")
	}
	if w.getErr != nil {
		return transfer.Synchronization{}, false, w.getErr
	}
	if w.stored == nil || p != w.stored.PublisherID || id != w.stored.ID {
		return transfer.Synchronization{}, false, nil
	}
	return *w.stored, true, nil
}

func (w *world) Enqueue(context.Context, transfer.Job) error { return w.queueErr }

func (w *world) Purchase(context.Context, transfer.PublisherID, string) (*transfer.Purchase, error) {
	if w.purchase == nil {
		return nil, nil
	}
	p := *w.purchase
	return &p, nil
}

func (w *world) Record(context.Context, appstore.Record, *appstore.Change) error {
	if w.recordPanic {
		panic("store exploded")
	}
	if len(w.recordErrs) == 0 {
		return nil
	}
	err := w.recordErrs[0]
	w.recordErrs = w.recordErrs[1:]
	return err
}

var errBoom = errors.New("boom: an AWS error text that must not reach the client")

// handler is the API as the local runner serves it: the transfer and status
// routes, and the Apple notifications route.
func (w *world) handler(opts ...httpapi.Option) http.Handler {
	acceptor := transfer.NewAcceptor(w, w, w, transfer.WithIDGenerator(func() string { return "GENERATEDID234567ABCDEFGHIJ" }),
		transfer.WithSignedTransactionVerifier(httpapi.SignedTransactions{Verifier: appleVerifier}))
	var mux httpapi.Routes
	mux.Handle("/", httpapi.NewHandler(acceptor, transfer.NewStatusReader(w, w), auth.NewVerifier(auth.JWTConfig{HS256Keys: hs256Keys{w}}), opts...))
	mux.Handle("/apple/notifications", httpapi.NewAppleNotificationHandler(appstore.NewReceiver(appleVerifier, w, w)))
	return &mux
}

// request is one HTTP request.
type request struct {
	method, target, body string
	header               http.Header
}

func (r request) serve(h http.Handler) *httptest.ResponseRecorder {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req := httptest.NewRequest(r.method, r.target, body)
	for k, v := range r.header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func customerJWT(t testing.TB, c transfer.CustomerID) string {
	t.Helper()
	tok, err := auth.MintHS256(jwtSecret, publisher, c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// hdr builds headers; each pair adds one header line.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		k := http.CanonicalHeaderKey(kv[i])
		h[k] = append(h[k], kv[i+1])
	}
	return h
}
