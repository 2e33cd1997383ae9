package main

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/acme/purchase-transfer/dev/demoseed"
	"github.com/acme/purchase-transfer/dev/inprocess"
	"github.com/acme/purchase-transfer/dev/localaws"
	"github.com/acme/purchase-transfer/dev/samtemplate"
	"github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/queue"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// Logical ids of the webhook queues in template.yaml.
const (
	webhookQueueID = "WebhookQueue"
	webhookDLQID   = "WebhookDeadLetterQueue"
)

// sealingKeySecretID names the demo sealing key in the local Secrets
// Manager, as WEBHOOK_SEALING_KEY_SECRET_ID names it for the Lambda.
const sealingKeySecretID = "purchase-transfer/local/webhook-sealing-key"

// localWebhookConfig is the webhook function's configuration for this run:
// the production schedule and timeout, a sealing key made for the run (in
// the local Secrets Manager, written nowhere else), and receivers on
// 127.0.0.1 allowed.
func localWebhookConfig(ctx context.Context, stack *localaws.Stack, res localaws.Resources) (inprocess.WebhookConfig, error) {
	_, encoded := webhook.NewSealingKey()
	if err := stack.PutSecret(ctx, sealingKeySecretID, encoded); err != nil {
		return inprocess.WebhookConfig{}, err
	}
	return inprocess.WebhookConfig{
		DeadLetterQueueURL: res.QueueURLs[webhookDLQID],
		SealingKeys:        config.SealingKeys(ctx, stack.Clients.SecretsManager, sealingKeySecretID),
		AttemptTimeout:     webhook.DefaultAttemptTimeout,
		Retry:              webhook.DefaultRetryPolicy(),
		Egress:             egress.Local,
	}, nil
}

// webhooks is the local webhook path: pollers feeding the webhook function's
// handler, the sweeper's webhook part, and what run.env learns of them.
type webhooks struct {
	env     map[string]string
	running sync.WaitGroup
}

// startWebhooks runs the webhook path until ctx ends. When url is set, the
// demo publisher's endpoint is subscribed to it and its secret goes into
// run.env as WEBHOOK_SECRET.
func startWebhooks(ctx context.Context, svc *inprocess.Service, clients inprocess.Clients, res localaws.Resources,
	url string, timeouts timeouts, tpl *samtemplate.Template) (*webhooks, error) {
	handler, err := svc.WebhookBatchHandler(clients)
	if err != nil {
		return nil, err
	}
	w := &webhooks{env: map[string]string{
		"WEBHOOK_QUEUE_URL":             res.QueueURLs[webhookQueueID],
		"WEBHOOK_DLQ_URL":               res.QueueURLs[webhookDLQID],
		"WEBHOOK_SEALING_KEY_SECRET_ID": sealingKeySecretID,
	}}
	if url != "" {
		endpoints := svc.WebhookEndpoints(svc.Config.Webhook.Egress)
		ep, secret, err := endpoints.Subscribe(ctx, demoseed.PublisherID, url, []string{webhook.TopicSyncResult})
		if err != nil {
			return nil, fmt.Errorf("subscribe WEBHOOK_URL %s: %w", url, err)
		}
		maps.Copy(w.env, map[string]string{"WEBHOOK_URL": url, "WEBHOOK_SECRET": secret, "WEBHOOK_ENDPOINT_ID": ep.ID})
	}
	// As many batches at once as the event source mapping allows: a
	// hanging endpoint holds up one of them only.
	pollers := inprocess.Pollers{N: inprocess.QueueConcurrency(tpl, webhookQueueID), Poller: queue.Poller{
		SQS: clients.SQS, QueueURL: res.QueueURLs[webhookQueueID], Handler: handler,
		Wait: 10 * time.Second, Timeout: timeouts["WebhookFunction"]}}
	w.running.Go(func() { pollers.Run(ctx) })
	if redispatcher := svc.Redispatcher(clients); redispatcher != nil {
		w.running.Go(func() { inprocess.SweepEvery(ctx, time.Minute, timeouts["SweeperFunction"], redispatcher) })
	}
	return w, nil
}

// with adds the webhook variables to run.env's.
func (w *webhooks) with(env map[string]string) map[string]string {
	maps.Copy(env, w.env)
	return env
}

// wait returns once everything startWebhooks started has stopped.
func (w *webhooks) wait() { w.running.Wait() }

// walkthrough tells how to see the webhooks of this run.
func (w *webhooks) walkthrough(envFile string) string {
	var b strings.Builder
	if url := w.env["WEBHOOK_URL"]; url != "" {
		fmt.Fprintf(&b, "Webhooks: the demo publisher's inappPurchaseSyncResult endpoint is %s\n", url)
		b.WriteString("(WEBHOOK_SECRET in run.env). To receive and verify them, in another terminal:\n\n")
		b.WriteString("  set -a; source " + envFile + "; set +a; go run ./dev/cmd/webhook-receiver -addr " + hostPort(url) + "\n\n")
	} else {
		b.WriteString("Webhooks: start with WEBHOOK_URL=http://127.0.0.1:4000/hooks make run to receive the\n")
		b.WriteString("demo publisher's inappPurchaseSyncResult webhooks (see README, Webhooks).\n\n")
	}
	return b.String()
}

func hostPort(url string) string {
	rest := url[strings.Index(url, "://")+3:]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
