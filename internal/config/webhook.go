package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/acme/purchase-transfer/internal/webhook"
)

// Webhook is the configuration of the webhook function.
type Webhook struct {
	TableName          string // TABLE_NAME
	WebhookQueueURL    string // WEBHOOK_QUEUE_URL
	DeadLetterQueueURL string // WEBHOOK_DLQ_URL
	// SealingKeySecretID names the Secrets Manager secret whose value is the
	// sealing key (base64 of 32 bytes); SealingKeys reads it at init.
	SealingKeySecretID string              // WEBHOOK_SEALING_KEY_SECRET_ID
	AttemptTimeout     time.Duration       // WEBHOOK_TIMEOUT_SECONDS: a 2xx within it is a success (10)
	Retry              webhook.RetryPolicy // WEBHOOK_RETRY_SCHEDULE, WEBHOOK_CLIENT_ERROR_ATTEMPTS
	Endpoints
}

// ReadWebhook reads the webhook function's configuration. Which targets a
// delivery may call is not configuration: in AWS it is always the strict
// egress policy.
func ReadWebhook(getenv func(string) string) (Webhook, error) {
	r := envReader{getenv: getenv}
	c := Webhook{
		TableName:          r.required("TABLE_NAME"),
		WebhookQueueURL:    r.required("WEBHOOK_QUEUE_URL"),
		DeadLetterQueueURL: r.required("WEBHOOK_DLQ_URL"),
		AttemptTimeout:     r.seconds("WEBHOOK_TIMEOUT_SECONDS", webhook.DefaultAttemptTimeout),
		SealingKeySecretID: r.required("WEBHOOK_SEALING_KEY_SECRET_ID"),
		Retry:              webhook.DefaultRetryPolicy(),
		Endpoints:          r.endpointsWithSecrets(),
	}
	if s := r.getenv("WEBHOOK_RETRY_SCHEDULE"); s != "" {
		schedule, err := webhook.ParseSchedule(s)
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("WEBHOOK_RETRY_SCHEDULE: %w", err))
		}
		c.Retry.Schedule = schedule
	}
	c.Retry.ClientErrorAttempts = r.integer("WEBHOOK_CLIENT_ERROR_ATTEMPTS", webhook.DefaultClientErrorAttempts)
	if c.AttemptTimeout <= 0 {
		r.errs = append(r.errs, errors.New("WEBHOOK_TIMEOUT_SECONDS must be positive"))
	}
	return c, r.err()
}
