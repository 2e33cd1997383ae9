package service

import (
	"fmt"
	"time"

	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// WebhookConfig is the webhook function's own configuration.
type WebhookConfig struct {
	DeadLetterQueueURL string              // WEBHOOK_DLQ_URL
	SealingKey         []byte              // WEBHOOK_SEALING_KEY: base64 of 32 bytes (Secrets Manager in AWS)
	AttemptTimeout     time.Duration       // WEBHOOK_TIMEOUT_SECONDS: a 2xx within it is a success (10)
	Retry              webhook.RetryPolicy // WEBHOOK_RETRY_SCHEDULE, WEBHOOK_CLIENT_ERROR_ATTEMPTS
	// Egress is which targets may be called; never read from the
	// environment: in AWS it is always the strict policy.
	Egress egress.Policy
}

// WebhookFunctionConfig is the configuration of the webhook function.
func WebhookFunctionConfig(getenv func(string) string) (Config, error) {
	r := envReader{getenv: getenv}
	c := Config{
		TableName:       r.required("TABLE_NAME"),
		WebhookQueueURL: r.required("WEBHOOK_QUEUE_URL"),
		Webhook: WebhookConfig{
			DeadLetterQueueURL: r.required("WEBHOOK_DLQ_URL"),
			AttemptTimeout:     r.seconds("WEBHOOK_TIMEOUT_SECONDS", webhook.DefaultAttemptTimeout),
			Retry:              webhook.DefaultRetryPolicy(),
		},
	}
	if key := r.required("WEBHOOK_SEALING_KEY"); key != "" {
		var err error
		if c.Webhook.SealingKey, err = webhook.ParseSealingKey(key); err != nil {
			r.errs = append(r.errs, fmt.Errorf("WEBHOOK_SEALING_KEY: %w", err))
		}
	}
	if s := r.getenv("WEBHOOK_RETRY_SCHEDULE"); s != "" {
		schedule, err := webhook.ParseSchedule(s)
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("WEBHOOK_RETRY_SCHEDULE: %w", err))
		}
		c.Webhook.Retry.Schedule = schedule
	}
	c.Webhook.Retry.ClientErrorAttempts = r.integer("WEBHOOK_CLIENT_ERROR_ATTEMPTS", webhook.DefaultClientErrorAttempts)
	if c.Webhook.AttemptTimeout <= 0 {
		r.errs = append(r.errs, fmt.Errorf("WEBHOOK_TIMEOUT_SECONDS must be positive"))
	}
	return c, r.err()
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
func (s *Service) Redispatcher(c Clients) *webhook.Redispatcher {
	if s.Config.WebhookQueueURL == "" {
		return nil
	}
	return webhook.NewRedispatcher(s.Store, s.WebhookQueue(c), s.Config.SweepGrace)
}

// WebhookEndpoints manages endpoints, sealing their secrets with key.
func (s *Service) WebhookEndpoints(key []byte, policy egress.Policy) (*webhook.Endpoints, error) {
	sealer, err := webhook.NewSealer(key)
	if err != nil {
		return nil, err
	}
	return webhook.NewEndpoints(s.Store, sealer, policy), nil
}

// WebhookWorker handles the webhook queue's messages.
func (s *Service) WebhookWorker(c Clients) (*webhook.Worker, error) {
	wc := s.Config.Webhook
	sealer, err := webhook.NewSealer(wc.SealingKey)
	if err != nil {
		return nil, err
	}
	endpoints := webhook.NewEndpoints(s.Store, sealer, wc.Egress)
	q := s.WebhookQueue(c)
	sender := webhook.NewSender(wc.Egress, wc.AttemptTimeout)
	return webhook.NewWorker(
		webhook.NewDispatcher(s.Store, s.Store, q),
		webhook.NewDeliverer(s.Store, q, endpoints, sealer, sender, wc.Retry, wc.AttemptTimeout),
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
