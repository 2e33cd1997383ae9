package inprocess

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/acme/purchase-transfer/internal/httpapi"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// LocalAPI is the HTTP API as `make run` serves it: the transfer and status
// handlers and the Apple notifications handler side by side, as API Gateway
// routes them, each request given the deadline Lambda would give an
// invocation of its function (timeouts: the template's Timeout by logical
// id); the handlers then keep their margin to answer within it
// (internal/deadline), as in AWS. Routing is httpapi.Routes, on the path as
// sent: no path is cleaned or redirected on the way to a handler.
func (s *Service) LocalAPI(q transfer.Queue, timeouts map[string]time.Duration) (http.Handler, error) {
	apple, err := s.AppleNotificationHandler()
	if err != nil {
		return nil, err
	}
	var routes httpapi.Routes
	routes.Handle("/", apiInvocations(s.Handler(q), timeouts))
	routes.Handle("/apple/notifications", invocation(apple, timeouts["AppleNotificationsFunction"]))
	return &routes, nil
}

// invocation gives every request the deadline of an invocation of a function
// whose Timeout is timeout.
func invocation(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// apiInvocations is invocation for the handler serving both API routes: a
// transfer as the transfer function's, anything else as the status
// function's.
func apiInvocations(h http.Handler, timeouts map[string]time.Duration) http.Handler {
	transfer, status := invocation(h, timeouts["TransferFunction"]), invocation(h, timeouts["StatusFunction"])
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/purchases/transfers") {
			transfer.ServeHTTP(w, r)
			return
		}
		status.ServeHTTP(w, r)
	})
}
