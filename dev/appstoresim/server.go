// Package appstoresim is a local stand-in for Apple's App Store Server API,
// for the tests and `make run` (it is part of the development tree, never of
// what ships). It serves Get Transaction Info, Get All Subscription
// Statuses, Get Transaction History (v2), Get Notification History, Request a
// Test Notification and Get Test Notification Status from an in-memory set
// of transactions and notifications, signs what it returns under a local
// test root (internal/apple/localroot), and checks each request's bearer
// token as Apple does: ES256 by a registered key (kid), its issuer, aud
// appstoreconnect-v1, the app's bid, a lifetime Apple accepts. Faults (429,
// 5xx) can be injected to exercise a client's retries.
package appstoresim

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acme/purchase-transfer/internal/apple"
	"github.com/acme/purchase-transfer/internal/apple/localroot"
)

// App is the one app the stand-in serves.
type App struct {
	BundleID    string
	AppAppleID  int64
	Environment string // Sandbox or Production: the environment of what it signs
}

// pageSize is Apple's: 20 notifications or transactions per page.
const pageSize = 20

// maxTokenLifetime is the longest exp - iat Apple accepts of most keys.
const maxTokenLifetime = 20 * time.Minute

type apiKey struct {
	issuer string
	pub    *ecdsa.PublicKey
}

type fault struct {
	status     int
	retryAfter string
}

type notification struct {
	signedPayload string
	signedDate    int64
	tx            string // transactionId and chain it names ("" when none)
	chain         string
	attempts      []map[string]any
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	authority *localroot.Authority
	app       App

	mu            sync.Mutex
	keys          map[string]apiKey
	transactions  []apple.TransactionInfo
	notifications []*notification
	tests         map[string]*notification
	faults        []fault
	notifyURL     string
	requests      int
	now           func() time.Time
	post          *http.Client
	wg            sync.WaitGroup
}

// New is a stand-in signing under a and serving app.
func New(a *localroot.Authority, app App) *Server {
	return &Server{authority: a, app: app, keys: map[string]apiKey{}, tests: map[string]*notification{},
		now: time.Now, post: &http.Client{Timeout: 10 * time.Second}}
}

// AddKey accepts bearer tokens signed by pub with kid keyID and iss issuer.
func (s *Server) AddKey(issuer, keyID string, pub *ecdsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[keyID] = apiKey{issuer: issuer, pub: pub}
}

// SetNotificationURL is where a test notification is posted (the app's
// App Store Server Notifications URL).
func (s *Server) SetNotificationURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyURL = u
}

// AddTransaction makes t known (its bundle id and environment are the app's).
func (s *Server) AddTransaction(t apple.TransactionInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.BundleID, t.Environment = s.app.BundleID, s.app.Environment
	s.transactions = append(s.transactions, t)
}

// AddNotification signs a notification of type typ (subtype sub) about the
// known transaction tx (none when "") at signedDate at, and keeps it in the
// history, delivered or not. It returns the signedPayload.
func (s *Server) AddNotification(typ, sub, tx string, at time.Time, delivered bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.sign(typ, sub, tx, at)
	if err != nil {
		return "", err
	}
	result := "NO_RESPONSE"
	if delivered {
		result = "SUCCESS"
	}
	n.attempts = []map[string]any{{"attemptDate": at.UnixMilli(), "sendAttemptResult": result}}
	s.notifications = append(s.notifications, n)
	return n.signedPayload, nil
}

// FailNext answers the next n requests with status (and Retry-After when
// not ""), before their token is even looked at, as a rate limiter would.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status, retryAfter})
	}
}

// Requests is how many requests reached the server.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Wait waits for the test notifications under way to be posted.
func (s *Server) Wait() { s.wg.Wait() }

// sign builds and signs a notification; s.mu is held.
func (s *Server) sign(typ, sub, txID string, at time.Time) (*notification, error) {
	uuid := rand.Text()
	p := apple.NotificationPayload{NotificationType: typ, Subtype: sub, NotificationUUID: uuidOf(uuid), Version: "2.0",
		SignedDate: at.UnixMilli(), Data: &apple.NotificationData{BundleID: s.app.BundleID, AppAppleID: s.app.AppAppleID, Environment: s.app.Environment}}
	n := &notification{signedDate: at.UnixMilli()}
	var tx *apple.TransactionInfo
	var renewal *apple.RenewalInfo
	if txID != "" {
		t, ok := s.transaction(txID)
		if !ok {
			return nil, fmt.Errorf("appstoresim: no transaction %s", txID)
		}
		t.SignedDate = at.UnixMilli()
		tx, n.tx, n.chain = &t, t.TransactionID, t.OriginalTransactionID
		if t.Type == apple.ProductAutoRenewable {
			r := s.renewalOf(t, at)
			renewal = &r
			p.Data.Status = s.statusOf(t, at)
		}
	}
	signed, err := localroot.SignNotification(s.authority, p, tx, renewal)
	if err != nil {
		return nil, err
	}
	n.signedPayload = signed
	return n, nil
}

// uuidOf shapes random text as a UUID, as Apple's notificationUUIDs are.
func uuidOf(r string) string {
	h := strings.ToLower(fmt.Sprintf("%x", []byte(r)))[:32]
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (s *Server) transaction(id string) (apple.TransactionInfo, bool) {
	for _, t := range s.transactions {
		if t.TransactionID == id {
			return t, true
		}
	}
	return apple.TransactionInfo{}, false
}

// chain is every known transaction of the chain, oldest first.
func (s *Server) chain(otx string) []apple.TransactionInfo {
	var out []apple.TransactionInfo
	for _, t := range s.transactions {
		if t.OriginalTransactionID == otx {
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(a, b apple.TransactionInfo) int { return int(a.PurchaseDate - b.PurchaseDate) })
	return out
}

func (s *Server) renewalOf(t apple.TransactionInfo, at time.Time) apple.RenewalInfo {
	return apple.RenewalInfo{OriginalTransactionID: t.OriginalTransactionID, AutoRenewProductID: t.ProductID, ProductID: t.ProductID,
		AutoRenewStatus: 1, SignedDate: at.UnixMilli(), Environment: s.app.Environment, RenewalDate: t.ExpiresDate}
}

// statusOf is the subscription status of the chain's latest transaction t.
func (s *Server) statusOf(t apple.TransactionInfo, at time.Time) int32 {
	switch {
	case t.RevocationDate != 0:
		return apple.StatusRevoked
	case t.ExpiresDate != 0 && at.UnixMilli() >= t.ExpiresDate:
		return apple.StatusExpired
	}
	return apple.StatusActive
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	var f *fault
	if len(s.faults) > 0 {
		f = &s.faults[0]
		s.faults = s.faults[1:]
	}
	s.mu.Unlock()
	if f != nil {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		code := int64(f.status) * 10000
		writeJSON(w, f.status, map[string]any{"errorCode": code, "errorMessage": http.StatusText(f.status)})
		return
	}
	if err := s.authorize(r); err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mux().ServeHTTP(w, r)
}

func (s *Server) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /inApps/v1/transactions/{id}", s.transactionInfo)
	m.HandleFunc("GET /inApps/v1/subscriptions/{id}", s.statuses)
	m.HandleFunc("GET /inApps/v2/history/{id}", s.history)
	m.HandleFunc("POST /inApps/v1/notifications/history", s.notificationHistory)
	m.HandleFunc("POST /inApps/v1/notifications/test", s.requestTest)
	m.HandleFunc("GET /inApps/v1/notifications/test/{token}", s.testStatus)
	return m
}

// authorize checks the bearer token as Apple does.
func (s *Server) authorize(r *http.Request) error {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return errors.New("no bearer token")
	}
	var claims struct {
		jwt.RegisteredClaims
		BundleID string `json:"bid"`
	}
	var key apiKey
	_, err := jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		s.mu.Lock()
		defer s.mu.Unlock()
		k, ok := s.keys[kid]
		if !ok {
			return nil, errors.New("unknown kid")
		}
		key = k
		return k.pub, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience("appstoreconnect-v1"), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithLeeway(time.Minute), jwt.WithTimeFunc(s.now))
	if err != nil {
		return err
	}
	switch {
	case claims.Issuer != key.issuer:
		return errors.New("issuer")
	case claims.BundleID != s.app.BundleID:
		return errors.New("bid")
	case claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > maxTokenLifetime:
		return errors.New("lifetime")
	}
	return nil
}

func (s *Server) transactionInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.transaction(r.PathValue("id"))
	if !ok {
		notFound(w)
		return
	}
	t.SignedDate = s.now().UnixMilli()
	signed, err := s.authority.Sign(t)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"signedTransactionInfo": signed})
}

func (s *Server) statuses(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.transaction(r.PathValue("id"))
	if !ok {
		notFound(w)
		return
	}
	now := s.now()
	chain := s.chain(t.OriginalTransactionID)
	last := chain[len(chain)-1]
	last.SignedDate = now.UnixMilli()
	signedTx, err1 := s.authority.Sign(last)
	signedRenewal, err2 := s.authority.Sign(s.renewalOf(last, now))
	if err := errors.Join(err1, err2); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"environment": s.app.Environment, "bundleId": s.app.BundleID, "appAppleId": s.app.AppAppleID,
		"data": []any{map[string]any{"subscriptionGroupIdentifier": last.SubscriptionGroupIdentifier, "lastTransactions": []any{map[string]any{
			"originalTransactionId": last.OriginalTransactionID, "status": s.statusOf(last, now),
			"signedTransactionInfo": signedTx, "signedRenewalInfo": signedRenewal}}}}})
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.transaction(r.PathValue("id"))
	if !ok {
		notFound(w)
		return
	}
	chain := s.chain(t.OriginalTransactionID)
	from, _ := strconv.Atoi(r.URL.Query().Get("revision"))
	from = min(max(from, 0), len(chain))
	to := min(from+pageSize, len(chain))
	signed := []string{}
	for _, t := range chain[from:to] {
		t.SignedDate = s.now().UnixMilli()
		jws, err := s.authority.Sign(t)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		signed = append(signed, jws)
	}
	writeJSON(w, http.StatusOK, map[string]any{"revision": strconv.Itoa(to), "hasMore": to < len(chain), "bundleId": s.app.BundleID,
		"appAppleId": s.app.AppAppleID, "environment": s.app.Environment, "signedTransactions": signed})
}

func (s *Server) notificationHistory(w http.ResponseWriter, r *http.Request) {
	var req struct {
		StartDate     int64  `json:"startDate"`
		EndDate       int64  `json:"endDate"`
		TransactionID string `json:"transactionId"`
		OnlyFailures  bool   `json:"onlyFailures"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.StartDate <= 0 || req.EndDate < req.StartDate {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorCode": 4000028, "errorMessage": "Invalid request."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	chain := ""
	if req.TransactionID != "" {
		t, ok := s.transaction(req.TransactionID)
		if !ok {
			notFound(w)
			return
		}
		chain = t.OriginalTransactionID
	}
	var match []*notification
	for _, n := range s.notifications {
		if n.signedDate < req.StartDate || n.signedDate > req.EndDate || chain != "" && n.chain != chain ||
			req.OnlyFailures && delivered(n) {
			continue
		}
		match = append(match, n)
	}
	from, _ := strconv.Atoi(r.URL.Query().Get("paginationToken"))
	from = min(max(from, 0), len(match))
	to := min(from+pageSize, len(match))
	items := []any{}
	for _, n := range match[from:to] {
		items = append(items, map[string]any{"signedPayload": n.signedPayload, "sendAttempts": n.attempts})
	}
	body := map[string]any{"hasMore": to < len(match), "notificationHistory": items}
	if to < len(match) {
		body["paginationToken"] = strconv.Itoa(to)
	}
	writeJSON(w, http.StatusOK, body)
}

func delivered(n *notification) bool {
	for _, a := range n.attempts {
		if a["sendAttemptResult"] == "SUCCESS" {
			return true
		}
	}
	return false
}

// requestTest signs a TEST notification and posts it to the notification
// URL in the background, as Apple does; its status tells the outcome.
func (s *Server) requestTest(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.sign(apple.TypeTest, "", "", s.now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	token := uuidOf(rand.Text()) + "_" + strconv.FormatInt(n.signedDate, 10)
	s.tests[token] = n
	target := s.notifyURL
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		result := s.deliver(target, n.signedPayload)
		s.mu.Lock()
		defer s.mu.Unlock()
		n.attempts = append(n.attempts, map[string]any{"attemptDate": s.now().UnixMilli(), "sendAttemptResult": result})
	}()
	writeJSON(w, http.StatusOK, map[string]any{"testNotificationToken": token})
}

// deliver posts a notification and names the outcome as Apple's
// sendAttemptResult does.
func (s *Server) deliver(target, signedPayload string) string {
	if target == "" {
		return "OTHER"
	}
	body, _ := json.Marshal(localroot.SignedPayload{SignedPayload: signedPayload})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return "OTHER"
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.post.Do(req)
	if err != nil {
		return "NO_RESPONSE"
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "UNSUCCESSFUL_HTTP_RESPONSE_CODE"
	}
	return "SUCCESS"
}

func (s *Server) testStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.tests[r.PathValue("token")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"errorCode": 4040008, "errorMessage": "Test notification not found."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"signedPayload": n.signedPayload, "sendAttempts": slices.Clone(n.attempts)})
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{"errorCode": 4040010, "errorMessage": "Transaction id not found."})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
