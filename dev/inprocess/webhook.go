package inprocess

import (
	"errors"
	"time"

	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/telemetry"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// WebhookConfig is the webhook function's own configuration (config.Webhook).
type WebhookConfig struct {
	DeadLetterQueueURL string // WEBHOOK_DLQ_URL
	// SealingKeys are the sealing keys, read from Secrets Manager as the
	// webhook function reads them (config.SealingKeys).
	SealingKeys    webhook.SealingKeys
	AttemptTimeout time.Duration       // WEBHOOK_TIMEOUT_SECONDS: a 2xx within it is a success (10)
	Retry          webhook.RetryPolicy // WEBHOOK_RETRY_SCHEDULE, WEBHOOK_CLIENT_ERROR_ATTEMPTS
	// Egress is which targets may be called; never read from the
	// environment: in AWS it is always the strict policy.
	Egress egress.Policy
}

// WebhookQueue is the webhook queue, as the processor, the sweeper and the
// webhook function send to it.
func (s *Service) WebhookQueue(c Clients) *queue.WebhookQueue {
	return queue.NewWebhookQueue(c.SQS, s.Config.WebhookQueueURL, s.Config.Webhook.DeadLetterQueueURL)
}

// WebhookAnnouncement is the processor's option that hands every committed
// finalization to the webhook path; none when no webhook queue is set.
func (s *Service) WebhookAnnouncement(c Clients) []transfer.Option {
	if s.Config.WebhookQueueURL == "" {
		return nil
	}
	return []transfer.Option{transfer.WithNotifier(webhook.NewAnnouncer(s.WebhookQueue(c), webhook.DefaultAnnounceTimeout))}
}

// Redispatcher is the sweeper's webhook part; nil when no webhook queue is set.
func (s *Service) Redispatcher(c Clients) telemetry.Sweeper {
	if s.Config.WebhookQueueURL == "" {
		return nil
	}
	r := webhook.NewRedispatcher(s.Stores.Events, s.WebhookQueue(c), s.Config.SweepGrace)
	if s.metricsOut == nil {
		return r
	}
	return telemetry.NewRedispatches(s.Meter("sweeper"), r)
}

// WebhookEndpoints manages endpoints, sealing their secrets with the
// configured sealing keys.
func (s *Service) WebhookEndpoints(policy egress.Policy) *webhook.Endpoints {
	return webhook.NewEndpoints(s.Stores.Endpoints, webhook.NewRotatingSealer(s.Config.Webhook.SealingKeys), policy)
}

// WebhookWorker handles the webhook queue's messages.
func (s *Service) WebhookWorker(c Clients) (*webhook.Worker, error) {
	wc := s.Config.Webhook
	if wc.SealingKeys == nil {
		return nil, errors.New("inprocess: no webhook sealing keys")
	}
	sealer := webhook.NewRotatingSealer(wc.SealingKeys)
	endpoints := webhook.NewEndpoints(s.Stores.Endpoints, sealer, wc.Egress)
	q := s.WebhookQueue(c)
	var sender webhook.AttemptSender = webhook.NewSender(wc.Egress, wc.AttemptTimeout)
	var parker webhook.Parker = q
	if s.metricsOut != nil {
		sender = telemetry.NewAttempts(s.Meter("webhook"), sender)
		parker = telemetry.NewGiveUps(s.Meter("webhook"), q)
	}
	return webhook.NewWorker(
		webhook.NewDispatcher(s.Stores.Events, s.Stores.Endpoints, q),
		webhook.NewDeliverer(s.Stores.Deliveries, parker, endpoints, sealer, sender,
			webhook.WithRetryPolicy(wc.Retry), webhook.WithAttemptTimeout(wc.AttemptTimeout)),
	), nil
}

// WebhookBatchHandler is the SQS event handler of the webhook function.
func (s *Service) WebhookBatchHandler(c Clients) (queue.BatchHandler, error) {
	w, err := s.WebhookWorker(c)
	if err != nil {
		return nil, err
	}
	return queue.WebhookBatchHandler(w, s.WebhookQueue(c)), nil
}
