package soak

import (
	"encoding/json"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Kinds of webhook receivers. All but the failing one must get every event:
// the flapping and the hanging ones after a retry.
const (
	ReceiverHealthy  = "healthy"
	ReceiverFlapping = "flapping" // 503 to the first attempt of every other event, then 204
	ReceiverHanging  = "hanging"  // the first attempt of one event in 25 past the attempt timeout, then 204
	ReceiverFailing  = "failing"  // always 500: given up and parked
)

// receiver is a publisher's endpoint on 127.0.0.1 that verifies every
// delivery with the official Standard Webhooks library and records it.
type receiver struct {
	kind   string
	url    string
	secret string
	wh     *standardwebhooks.Webhook
	server *http.Server

	mu sync.Mutex
	// ids are the webhook-ids each synchronization's events arrived under;
	// results the result each one said.
	ids        map[string]map[string]bool
	results    map[string]string
	attempts   map[string]int // by webhook-id
	deliveries int
	badSigs    int
}

func startReceiver(kind string) (*receiver, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{kind: kind, url: "http://" + ln.Addr().String() + "/hooks/" + kind,
		ids: map[string]map[string]bool{}, results: map[string]string{}, attempts: map[string]int{}}
	r.server = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.server.Serve(ln) }()
	return r, nil
}

// setSecret is the endpoint's secret, once subscribed.
func (r *receiver) setSecret(secret string) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.secret, r.wh = secret, wh
	r.mu.Unlock()
	return nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	wh := r.wh
	r.mu.Unlock()
	if wh == nil || wh.Verify(body, req.Header) != nil {
		r.mu.Lock()
		r.badSigs++
		r.mu.Unlock()
		http.Error(w, "signature not verified", http.StatusUnauthorized)
		return
	}
	id := req.Header.Get(standardwebhooks.HeaderWebhookID)
	r.mu.Lock()
	r.attempts[id]++
	first := r.attempts[id] == 1
	r.mu.Unlock()
	// Which events flap or hang: by their id, so every attempt agrees.
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	pick := h.Sum32()
	switch {
	case r.kind == ReceiverFailing:
		w.WriteHeader(http.StatusInternalServerError)
		return
	case r.kind == ReceiverHanging && first && pick%25 == 0:
		select {
		case <-time.After(attemptTimeout + time.Second):
		case <-req.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
		return
	case r.kind == ReceiverFlapping && first && pick%2 == 0:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var event struct {
		Data struct {
			SynchronizationID string `json:"synchronizationId"`
			Result            string `json:"result"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &event)
	r.mu.Lock()
	sid := event.Data.SynchronizationID
	if r.ids[sid] == nil {
		r.ids[sid] = map[string]bool{}
	}
	r.ids[sid][id] = true
	r.results[sid] = event.Data.Result
	r.deliveries++
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// got reports whether the receiver has accepted an event of synchronization sid.
func (r *receiver) got(sid string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids[sid]) > 0
}

func (r *receiver) close() { _ = r.server.Close() }
