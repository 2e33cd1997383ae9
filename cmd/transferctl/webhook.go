package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/acme/purchase-transfer/internal/secrets"
	"github.com/acme/purchase-transfer/internal/transfer"
	"github.com/acme/purchase-transfer/internal/webhook"
	"github.com/acme/purchase-transfer/internal/webhook/egress"
)

// Settings of the webhook path, by the names .local/run.env uses.
const (
	settingWebhookQ   = "WEBHOOK_QUEUE_URL"
	settingWebhookDLQ = "WEBHOOK_DLQ_URL"
	// The Secrets Manager secret of the sealing key, by name: its value is
	// read from Secrets Manager, as the webhook function reads it.
	settingSealingKeyID = "WEBHOOK_SEALING_KEY_SECRET_ID"
	sealingKeyAdvice    = "WEBHOOK_SEALING_KEY_SECRET_ID is needed to seal and open secrets (webhook signing secrets, App Store Connect keys): --local and --stack know it (run.env, the stack's WebhookSealingKeySecretId parameter); otherwise set it to the secret's name"
)

func newWebhookCommand(a *app) *cobra.Command {
	return group("webhook", "Manage a publisher's webhook endpoints (inappPurchaseSyncResult)",
		a.webhookSubscribeCommand(), a.webhookListCommand(), a.webhookRotateCommand(),
		a.webhookDisableCommand(), a.webhookEnableCommand(), a.webhookRemoveCommand())
}

// endpoints is the endpoint management of the publisher the command works
// within. The sealing key is needed only to make secrets (subscribe, rotate).
func (a *app) endpoints(ctx context.Context, publisherFlag int64, needKey bool) (*webhook.Endpoints, transfer.PublisherID, error) {
	store, p, err := a.storeFor(ctx, publisherFlag)
	if err != nil {
		return nil, 0, err
	}
	// Receivers on 127.0.0.1 are for the local stack only; for a deployed
	// stack the rules are those its webhook function enforces.
	policy := egress.Policy{}
	if a.localFile != "" {
		policy = egress.Local
	}
	var sealer *webhook.Sealer
	if needKey {
		if sealer, err = a.sealer(ctx); err != nil {
			return nil, 0, err
		}
	}
	return webhook.NewEndpoints(store.endpoints, sealer, policy), p, nil
}

// sealer is the service's one sealer of secrets at rest (webhook signing
// secrets, App Store Connect keys), keyed from Secrets Manager as the
// functions key it.
func (a *app) sealer(ctx context.Context) (*webhook.Sealer, error) {
	c, err := a.connect(ctx)
	if err != nil {
		return nil, err
	}
	id := c.setting(settingSealingKeyID)
	if id == "" {
		return nil, fmt.Errorf("%s", sealingKeyAdvice)
	}
	keys := secrets.New(c.sm, id, func(v []byte) ([]byte, error) { return webhook.ParseSealingKey(string(v)) })
	if err := keys.Load(ctx); err != nil {
		return nil, err
	}
	return webhook.NewRotatingSealer(keys), nil
}

// endpointView is an endpoint as operators read it: never its secrets, only
// when each was made and until when it signs.
type endpointView struct {
	PublisherID    transfer.PublisherID `json:"publisherId"`
	EndpointID     string               `json:"endpointId"`
	URL            string               `json:"url"`
	Topics         []string             `json:"topics"`
	Enabled        bool                 `json:"enabled"`
	DisabledReason string               `json:"disabledReason,omitempty"`
	Secrets        []secretView         `json:"secrets"`
	CreatedAt      time.Time            `json:"createdAt"`
	UpdatedAt      time.Time            `json:"updatedAt"`
}

type secretView struct {
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	Active    bool       `json:"active"`
}

func viewEndpoint(e webhook.Endpoint, now time.Time) endpointView {
	v := endpointView{PublisherID: e.PublisherID, EndpointID: e.ID, URL: e.URL, Topics: e.Topics, Enabled: e.Enabled,
		DisabledReason: e.DisabledReason, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Secrets: []secretView{}}
	for _, s := range e.Secrets {
		sv := secretView{CreatedAt: s.CreatedAt, Active: s.ActiveAt(now)}
		if !s.ExpiresAt.IsZero() {
			at := s.ExpiresAt
			sv.ExpiresAt = &at
		}
		v.Secrets = append(v.Secrets, sv)
	}
	return v
}

// issuedSecret is a signing secret, shown once.
type issuedSecret struct {
	Endpoint endpointView `json:"endpoint"`
	Secret   string       `json:"secret"`
}

func (a *app) printSecret(e webhook.Endpoint, secret, what string) error {
	switch {
	case a.jsonOutput:
		return a.printJSON(issuedSecret{Endpoint: viewEndpoint(e, time.Now()), Secret: secret})
	case a.tokenOnly:
		a.out("%s", secret)
		return nil
	}
	a.out("%s of endpoint %s (%s), shown only this once; it is stored sealed:", what, e.ID, e.URL)
	a.out("")
	a.out("  %s", secret)
	a.out("")
	a.out("Verify deliveries with any Standard Webhooks library (https://www.standardwebhooks.com) and this secret.")
	return nil
}

func (a *app) secretOnlyFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&a.tokenOnly, "quiet", "q", false, "print only the secret, for scripts: SECRET=$(transferctl ... -q)")
}

func (a *app) webhookSubscribeCommand() *cobra.Command {
	var (
		publisherFlag int64
		topics        []string
	)
	cmd := &cobra.Command{
		Use:   "subscribe URL [--publisher ID] [--topic TOPIC]...",
		Short: "Add an endpoint and show its signing secret (once)",
		Long: `Add an enabled endpoint for a publisher. Deliveries are POSTed to URL, signed
per Standard Webhooks with a new secret (whsec_...), which is printed now and
never again: only a sealed copy is stored.

In AWS the URL must be https and resolve to public addresses only; with
--local, http://127.0.0.1 receivers are allowed.`,
		Example: `  transferctl --local webhook subscribe http://127.0.0.1:4000/hooks
  SECRET=$(transferctl --stack transfers-prod webhook subscribe https://hooks.example.com/cleeng --publisher 123456789 -q)`,
		Args: args("URL"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			m, p, err := a.endpoints(cmd.Context(), publisherFlag, true)
			if err != nil {
				return err
			}
			e, secret, err := m.Subscribe(cmd.Context(), p, argv[0], topics)
			if err != nil {
				return err
			}
			return a.printSecret(e, secret, "Signing secret")
		},
	}
	a.publisherFlag(cmd, &publisherFlag)
	cmd.Flags().StringSliceVar(&topics, "topic", []string{webhook.TopicSyncResult}, "`TOPIC` to subscribe to (repeatable; known: "+strings.Join(webhook.Topics, ", ")+")")
	a.secretOnlyFlag(cmd)
	return cmd
}

func (a *app) webhookListCommand() *cobra.Command {
	var publisherFlag int64
	cmd := &cobra.Command{
		Use:   "list [--publisher ID]",
		Short: "List a publisher's endpoints: URL, topics, enabled, secrets' ages",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, p, err := a.endpoints(cmd.Context(), publisherFlag, false)
			if err != nil {
				return err
			}
			list, err := m.List(cmd.Context(), p)
			if err != nil {
				return err
			}
			now := time.Now()
			views := make([]endpointView, len(list))
			for i, e := range list {
				views[i] = viewEndpoint(e, now)
			}
			if a.jsonOutput {
				return a.printJSON(views)
			}
			if len(views) == 0 {
				a.out("Publisher %d has no webhook endpoint.", p)
				return nil
			}
			t := a.table()
			fmt.Fprintln(t, "ENDPOINT\tURL\tTOPICS\tENABLED\tSECRETS\tCREATED")
			for _, v := range views {
				enabled := yesNo(v.Enabled)
				if v.DisabledReason != "" {
					enabled += " (" + v.DisabledReason + ")"
				}
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\n", v.EndpointID, v.URL, strings.Join(v.Topics, ","), enabled,
					secretsSummary(v.Secrets, now), when(v.CreatedAt))
			}
			return t.Flush()
		},
	}
	a.publisherFlag(cmd, &publisherFlag)
	return cmd
}

// secretsSummary says how many secrets sign and until when the old one does.
func secretsSummary(secrets []secretView, now time.Time) string {
	active := 0
	var until *time.Time
	for _, s := range secrets {
		if s.Active {
			active++
			if s.ExpiresAt != nil {
				until = s.ExpiresAt
			}
		}
	}
	if until != nil {
		return fmt.Sprintf("%d (old one for %s more)", active, age(until.Sub(now)))
	}
	return fmt.Sprint(active)
}

func (a *app) webhookRotateCommand() *cobra.Command {
	var (
		publisherFlag int64
		overlap       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rotate ENDPOINT_ID [--overlap 24h] [--publisher ID]",
		Short: "Give an endpoint a new signing secret (shown once); the old one signs during the overlap",
		Long: `Give an endpoint a new signing secret. During the overlap every delivery
carries two signatures, one per secret, so the receiver can switch to the new
secret whenever it is ready; afterwards only the new one signs. --overlap 0
drops the old secret at once (a leaked secret).`,
		Example: `  transferctl --local webhook rotate ep_... --overlap 1h`,
		Args:    args("ENDPOINT_ID"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if overlap < 0 {
				return usage("--overlap must not be negative")
			}
			m, p, err := a.endpoints(cmd.Context(), publisherFlag, true)
			if err != nil {
				return err
			}
			e, secret, err := m.Rotate(cmd.Context(), p, argv[0], overlap)
			if err != nil {
				return err
			}
			return a.printSecret(e, secret, "New signing secret")
		},
	}
	a.publisherFlag(cmd, &publisherFlag)
	cmd.Flags().DurationVar(&overlap, "overlap", webhook.DefaultRotationOverlap, "how long the old secret keeps signing (`DURATION`)")
	a.secretOnlyFlag(cmd)
	return cmd
}

// endpointChange is a command that changes one endpoint and shows it.
func (a *app) endpointChange(use, short string, change func(context.Context, *webhook.Endpoints, transfer.PublisherID, string) (webhook.Endpoint, error)) *cobra.Command {
	var publisherFlag int64
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args("ENDPOINT_ID"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			m, p, err := a.endpoints(cmd.Context(), publisherFlag, false)
			if err != nil {
				return err
			}
			e, err := change(cmd.Context(), m, p, argv[0])
			if err != nil {
				return err
			}
			v := viewEndpoint(e, time.Now())
			if a.jsonOutput {
				return a.printJSON(v)
			}
			a.out("Endpoint %s (%s): enabled %s.", v.EndpointID, v.URL, yesNo(v.Enabled))
			return nil
		},
	}
	a.publisherFlag(cmd, &publisherFlag)
	return cmd
}

func (a *app) webhookDisableCommand() *cobra.Command {
	var reason string
	cmd := a.endpointChange("disable ENDPOINT_ID [--reason TEXT] [--publisher ID]",
		"Stop deliveries to an endpoint (pending ones are cancelled at their next attempt)",
		func(ctx context.Context, m *webhook.Endpoints, p transfer.PublisherID, id string) (webhook.Endpoint, error) {
			return m.Disable(ctx, p, id, reason)
		})
	cmd.Flags().StringVar(&reason, "reason", "disabled by an operator", "why, shown by webhook list (`TEXT`)")
	return cmd
}

func (a *app) webhookEnableCommand() *cobra.Command {
	return a.endpointChange("enable ENDPOINT_ID [--publisher ID]",
		"Resume deliveries to an endpoint (for synchronizations finalized from now on)",
		func(ctx context.Context, m *webhook.Endpoints, p transfer.PublisherID, id string) (webhook.Endpoint, error) {
			return m.Enable(ctx, p, id)
		})
}

func (a *app) webhookRemoveCommand() *cobra.Command {
	var publisherFlag int64
	cmd := &cobra.Command{
		Use:   "remove ENDPOINT_ID [--publisher ID]",
		Short: "Delete an endpoint and its secrets",
		Args:  args("ENDPOINT_ID"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			m, p, err := a.endpoints(cmd.Context(), publisherFlag, false)
			if err != nil {
				return err
			}
			if err := m.Remove(cmd.Context(), p, argv[0]); err != nil {
				return err
			}
			if a.jsonOutput {
				return a.printJSON(map[string]any{"publisherId": p, "endpointId": argv[0], "removed": true})
			}
			a.out("Removed endpoint %s of publisher %d.", argv[0], p)
			return nil
		},
	}
	a.publisherFlag(cmd, &publisherFlag)
	return cmd
}

// readWebhookDeliveries is sync show's view of a synchronization's deliveries.
func readWebhookDeliveries(ctx context.Context, c *connection, p transfer.PublisherID, syncID string) ([]webhookDeliveryView, error) {
	store, err := c.store()
	if err != nil {
		return nil, err
	}
	ds, err := store.deliveries.Deliveries(ctx, p, syncID)
	if err != nil {
		return nil, err
	}
	views := make([]webhookDeliveryView, len(ds))
	for i, d := range ds {
		views[i] = webhookDeliveryView{EndpointID: d.EndpointID, State: string(d.State), Attempts: d.Attempts,
			LastStatus: d.LastStatus, LastError: d.LastError, LastAttemptAt: timePtr(d.LastAttemptAt),
			NextAttemptAt: timePtr(d.NextAttemptAt), DeliveredAt: timePtr(d.DeliveredAt)}
		if d.State != webhook.StatePending {
			views[i].NextAttemptAt = nil
		}
	}
	return views, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// webhookDeadLetterReason says why a delivery was parked, from its state.
func webhookDeadLetterReason(ctx context.Context, c *connection, l deadLetter) string {
	var m webhook.Message
	if err := json.Unmarshal([]byte(l.Body), &m); err != nil || !m.Valid() || m.Kind != webhook.KindDeliver {
		return "malformed message: names no delivery"
	}
	endpointID := m.EndpointID
	store, err := c.store()
	if err != nil {
		return "unknown: " + err.Error()
	}
	ds, err := store.deliveries.Deliveries(ctx, m.PublisherID, m.SynchronizationID)
	if err != nil {
		return "unknown: " + err.Error()
	}
	for _, d := range ds {
		if d.EndpointID != endpointID {
			continue
		}
		last := d.LastError
		if last == "" && d.LastStatus != 0 {
			last = fmt.Sprintf("HTTP %d", d.LastStatus)
		}
		if d.State == webhook.StateFailed {
			return fmt.Sprintf("given up after %d attempts to endpoint %s (last: %s): redrive to start its retries over", d.Attempts, endpointID, dash(last))
		}
		return fmt.Sprintf("delivery to endpoint %s is %s: redriving only drops it", endpointID, d.State)
	}
	return "no delivery record (expired): redriving only drops it"
}
