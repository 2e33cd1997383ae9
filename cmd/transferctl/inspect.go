package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/acme/purchase-transfer/internal/dynamo"
	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// storeFor connects and returns the table's adapter and the publisher the
// command works within.
func (a *app) storeFor(ctx context.Context, publisherFlag int64) (*stores, transfer.PublisherID, error) {
	p, err := a.publisher(ctx, publisherFlag)
	if err != nil {
		return nil, 0, err
	}
	c, err := a.connect(ctx)
	if err != nil {
		return nil, 0, err
	}
	s, err := c.store()
	return s, p, err
}

// purchaseView is a purchase as operators read it.
type purchaseView struct {
	PublisherID           transfer.PublisherID   `json:"publisherId"`
	OriginalTransactionID string                 `json:"originalTransactionId"`
	TransactionIDs        []string               `json:"transactionIds"`
	Owner                 transfer.CustomerID    `json:"cleengCustomerId"`
	OfferID               string                 `json:"offerId"`
	ProductID             string                 `json:"productId,omitempty"`
	Kind                  transfer.PurchaseKind  `json:"kind"`
	State                 transfer.PurchaseState `json:"state"`
	ExpiresAt             *time.Time             `json:"expiresAt,omitempty"`
	// Active is what a transfer would see now: state active and not expired.
	Active  bool  `json:"active"`
	Version int64 `json:"version"`
}

func viewPurchase(p transfer.Purchase, now time.Time) purchaseView {
	v := purchaseView{
		PublisherID: p.PublisherID, OriginalTransactionID: p.OriginalTransactionID, TransactionIDs: p.TransactionIDs,
		Owner: p.Owner, OfferID: p.OfferID, ProductID: p.ProductID, Kind: p.Kind, State: p.State,
		Active: p.ActiveAt(now), Version: p.Version,
	}
	if !p.ExpiresAt.IsZero() {
		at := p.ExpiresAt
		v.ExpiresAt = &at
	}
	return v
}

func newPurchaseCommand(a *app) *cobra.Command {
	var publisherFlag int64
	show := &cobra.Command{
		Use:   "show TRANSACTION_ID [--publisher ID]",
		Short: "Show a purchase (any transactionId of its chain): owner, state, expiry and ownership history",
		Example: `  transferctl --local purchase show 2000000000000001
  transferctl --stack transfers-prod --json purchase show --publisher 123456789 2000000000000012`,
		Args: args("TRANSACTION_ID"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			tx := argv[0]
			if !transfer.ValidTransactionID(tx) {
				return usage("TRANSACTION_ID must be 1-128 characters of [A-Za-z0-9._-]")
			}
			ctx := cmd.Context()
			store, p, err := a.storeFor(ctx, publisherFlag)
			if err != nil {
				return err
			}
			pur, err := store.operator.PurchaseByTransaction(ctx, p, tx)
			if err != nil {
				return err
			}
			if pur == nil {
				return fmt.Errorf("no purchase of publisher %d has transactionId %s", p, tx)
			}
			history, err := store.operator.History(ctx, p, pur.OriginalTransactionID)
			if err != nil {
				return err
			}
			v := viewPurchase(*pur, time.Now())
			if a.jsonOutput {
				return a.printJSON(struct {
					purchaseView
					History []dynamo.HistoryEntry `json:"history"`
				}{v, nonNil(history)})
			}
			a.printPurchase(v)
			a.out("")
			if len(history) == 0 {
				a.out("Ownership history: none (never transferred)")
				return nil
			}
			a.out("Ownership history (oldest first):")
			t := a.table()
			fmt.Fprintln(t, "AT\tFROM\tTO\tSYNCHRONIZATION")
			for _, h := range history {
				fmt.Fprintf(t, "%s\t%d\t%d\t%s\n", when(h.At), h.From, h.To, h.SynchronizationID)
			}
			return t.Flush()
		},
	}
	a.publisherFlag(show, &publisherFlag)
	return group("purchase", "Inspect purchases; give an unowned purchase its first owner", show, a.purchaseAssignCommand())
}

func (a *app) purchaseAssignCommand() *cobra.Command {
	var (
		publisherFlag int64
		tx            string
		customer      int64
	)
	cmd := &cobra.Command{
		Use:   "assign --transaction-id TX --customer CLEENG_CUSTOMER_ID [--publisher ID]",
		Short: "Give an unowned purchase (known from Apple, claimed by nobody) its first owner",
		Long: `Give an unowned purchase its first owner. A purchase the service learnt of from
an Apple notification, for a chain it did not know, has no owner: no transfer
can take it (TRANSACTION_ID_NOT_FOUND) until it is assigned.

--transaction-id may be any transactionId of the chain. The customer must
exist (import it: a customer line). A purchase owned by someone already is
refused: assign never changes an owner (a transfer does, with its history).
Assigning a purchase to the customer who owns it changes nothing.`,
		Example: `  transferctl --local purchase assign --publisher 555000001 --transaction-id 3100000000000012 --customer 910000003`,
		Args:    args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !transfer.ValidTransactionID(tx) {
				return usage("--transaction-id is required: 1-128 characters of [A-Za-z0-9._-]")
			}
			if customer <= 0 {
				return usage("--customer is required: a positive cleengCustomerId")
			}
			ctx := cmd.Context()
			store, p, err := a.storeFor(ctx, publisherFlag)
			if err != nil {
				return err
			}
			got, err := operator.Assign(ctx, store.operator, p, tx, transfer.CustomerID(customer))
			if err != nil {
				return err
			}
			if a.jsonOutput {
				return a.printJSON(struct {
					purchaseView
					Assigned bool `json:"assigned"`
				}{viewPurchase(got.Purchase, time.Now()), !got.Unchanged})
			}
			if got.Unchanged {
				a.out("Purchase %s is owned by customer %d already: nothing changed.", got.Purchase.OriginalTransactionID, customer)
			} else {
				a.out("Purchase %s now belongs to customer %d (version %d).", got.Purchase.OriginalTransactionID, customer, got.Purchase.Version)
			}
			return nil
		},
	}
	a.publisherFlag(cmd, &publisherFlag)
	f := cmd.Flags()
	f.StringVar(&tx, "transaction-id", "", "any `TRANSACTION_ID` of the purchase's chain (required)")
	f.Int64Var(&customer, "customer", 0, "the owner's `CLEENG_CUSTOMER_ID` (required)")
	return cmd
}

func (a *app) printPurchase(v purchaseView) {
	t := a.table()
	fmt.Fprintf(t, "Purchase (originalTransactionId)\t%s\n", v.OriginalTransactionID)
	fmt.Fprintf(t, "Publisher\t%d\n", v.PublisherID)
	fmt.Fprintf(t, "Transaction ids\t%s\n", strings.Join(v.TransactionIDs, ", "))
	if v.Owner == 0 {
		fmt.Fprintf(t, "Owner (cleengCustomerId)\tnone (unowned: transferctl purchase assign)\n")
	} else {
		fmt.Fprintf(t, "Owner (cleengCustomerId)\t%d\n", v.Owner)
	}
	fmt.Fprintf(t, "Offer\t%s\n", v.OfferID)
	fmt.Fprintf(t, "Product\t%s\n", dash(v.ProductID))
	fmt.Fprintf(t, "Kind\t%s\n", v.Kind)
	active := "not transferable now"
	if v.Active {
		active = "transferable"
	}
	fmt.Fprintf(t, "State\t%s (%s)\n", v.State, active)
	fmt.Fprintf(t, "Expires\t%s\n", whenPtr(v.ExpiresAt))
	fmt.Fprintf(t, "Version\t%d (bumped by every change)\n", v.Version)
	_ = t.Flush()
}

// syncView is a synchronization as operators read it.
type syncView struct {
	PublisherID           transfer.PublisherID `json:"publisherId"`
	SynchronizationID     string               `json:"synchronizationId"`
	CorrelationID         string               `json:"correlationId,omitempty"`
	Status                transfer.Status      `json:"status"`
	Result                transfer.Result      `json:"result,omitempty"`
	AccessGranted         *bool                `json:"accessGranted,omitempty"`
	OfferID               string               `json:"offerId,omitempty"`
	TransactionID         string               `json:"transactionId"`
	OriginalTransactionID string               `json:"originalTransactionId,omitempty"`
	Target                transfer.CustomerID  `json:"cleengCustomerId"`
	PreviousOwner         transfer.CustomerID  `json:"previousCleengCustomerId,omitempty"`
	IPAddress             string               `json:"ipAddress,omitempty"`
	FailedAttempts        int                  `json:"failedAttempts"`
	CreatedAt             time.Time            `json:"createdAt"`
	UpdatedAt             time.Time            `json:"updatedAt"`
	FinalizedAt           *time.Time           `json:"finalizedAt,omitempty"`
	// Seconds from acceptance to finalization.
	TookSeconds *float64 `json:"tookSeconds,omitempty"`
	// Webhooks are the deliveries of its inappPurchaseSyncResult event.
	Webhooks []webhookDeliveryView `json:"webhooks"`
}

// webhookDeliveryView is one endpoint's delivery of a synchronization's event.
type webhookDeliveryView struct {
	EndpointID    string     `json:"endpointId"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	LastStatus    int        `json:"lastStatus,omitempty"`
	LastError     string     `json:"lastError,omitempty"`
	LastAttemptAt *time.Time `json:"lastAttemptAt,omitempty"`
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	DeliveredAt   *time.Time `json:"deliveredAt,omitempty"`
}

func viewSync(s transfer.Synchronization) syncView {
	v := syncView{
		PublisherID: s.PublisherID, SynchronizationID: s.ID, CorrelationID: s.CorrelationID, Status: s.Status,
		Result: s.Result, OfferID: s.OfferID, TransactionID: s.TransactionID, OriginalTransactionID: s.OriginalTransactionID,
		Target: s.Target, PreviousOwner: s.PreviousOwner, IPAddress: s.IPAddress, FailedAttempts: s.Attempts,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Webhooks: []webhookDeliveryView{},
	}
	if s.Status == transfer.StatusFinalized {
		granted := s.AccessGranted()
		v.AccessGranted = &granted
		if !s.FinalizedAt.IsZero() {
			at := s.FinalizedAt
			v.FinalizedAt = &at
			took := s.FinalizedAt.Sub(s.CreatedAt).Seconds()
			v.TookSeconds = &took
		}
	}
	return v
}

func newSyncCommand(a *app) *cobra.Command {
	var publisherFlag int64
	show := &cobra.Command{
		Use:   "show SYNCHRONIZATION_ID [--publisher ID]",
		Short: "Show a synchronization: status, result, timings and webhook deliveries",
		Example: `  transferctl --local sync show my-first-transfer
  transferctl --local --json sync show S4BHDJ6KT5FFYT6WJJNPNUBQM4`,
		Args: args("SYNCHRONIZATION_ID"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id := argv[0]
			if !transfer.ValidSynchronizationID(id) {
				return usage("SYNCHRONIZATION_ID %s", transfer.SynchronizationIDRule)
			}
			ctx := cmd.Context()
			store, p, err := a.storeFor(ctx, publisherFlag)
			if err != nil {
				return err
			}
			s, ok, err := store.syncs.Get(ctx, p, id)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("publisher %d has no synchronization %s (records expire after SYNC_RETENTION_DAYS)", p, id)
			}
			v := viewSync(s)
			if v.Webhooks, err = readWebhookDeliveries(ctx, a.conn, p, id); err != nil {
				return err
			}
			if a.jsonOutput {
				return a.printJSON(v)
			}
			a.printSync(v)
			return nil
		},
	}
	a.publisherFlag(show, &publisherFlag)
	return group("sync", "Inspect synchronizations (transfers)", show)
}

func (a *app) printSync(v syncView) {
	t := a.table()
	fmt.Fprintf(t, "Synchronization\t%s\n", v.SynchronizationID)
	fmt.Fprintf(t, "Publisher\t%d\n", v.PublisherID)
	fmt.Fprintf(t, "Status\t%s\n", v.Status)
	if v.Result != "" {
		fmt.Fprintf(t, "Result\t%s\n", v.Result)
	}
	if v.AccessGranted != nil {
		fmt.Fprintf(t, "Access granted\t%s\n", yesNo(*v.AccessGranted))
	}
	if v.OfferID != "" {
		fmt.Fprintf(t, "Offer\t%s\n", v.OfferID)
	}
	fmt.Fprintf(t, "Transaction id\t%s\n", v.TransactionID)
	fmt.Fprintf(t, "Purchase (originalTransactionId)\t%s\n", dash(v.OriginalTransactionID))
	fmt.Fprintf(t, "Target (cleengCustomerId)\t%d\n", v.Target)
	if v.PreviousOwner != 0 {
		fmt.Fprintf(t, "Previous owner\t%d\n", v.PreviousOwner)
	}
	fmt.Fprintf(t, "IP address\t%s\n", dash(v.IPAddress))
	fmt.Fprintf(t, "Correlation-Id\t%s\n", dash(v.CorrelationID))
	fmt.Fprintf(t, "Failed attempts\t%d\n", v.FailedAttempts)
	fmt.Fprintf(t, "Accepted\t%s\n", when(v.CreatedAt))
	fmt.Fprintf(t, "Updated\t%s\n", when(v.UpdatedAt))
	fmt.Fprintf(t, "Finalized\t%s\n", whenPtr(v.FinalizedAt))
	if v.TookSeconds != nil {
		fmt.Fprintf(t, "Took\t%s\n", time.Duration(*v.TookSeconds*float64(time.Second)).Round(time.Millisecond))
	}
	_ = t.Flush()
	a.out("")
	switch {
	case len(v.Webhooks) == 0:
		a.out("Webhook deliveries: none (no endpoint subscribed, or not finalized yet).")
	default:
		a.out("Webhook deliveries:")
		t := a.table()
		fmt.Fprintln(t, "ENDPOINT\tSTATE\tATTEMPTS\tLAST STATUS\tLAST ERROR\tLAST ATTEMPT\tNEXT ATTEMPT")
		for _, d := range v.Webhooks {
			status := "-"
			if d.LastStatus != 0 {
				status = fmt.Sprint(d.LastStatus)
			}
			fmt.Fprintf(t, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", d.EndpointID, d.State, d.Attempts, status, dash(d.LastError),
				whenPtr(d.LastAttemptAt), whenPtr(d.NextAttemptAt))
		}
		_ = t.Flush()
	}
}

func newCustomerCommand(a *app) *cobra.Command {
	var publisherFlag int64
	show := &cobra.Command{
		Use:   "show CLEENG_CUSTOMER_ID [--publisher ID]",
		Short: "Show a customer: latest activity and the purchases it owns now",
		Long: `Show a customer's latest activity (IP address and time, set by transfers to it)
and the purchases it owns now. The purchases come from the byOwner index,
which DynamoDB updates within about a second of a transfer.`,
		Example: `  transferctl --local customer show 900000002`,
		Args:    args("CLEENG_CUSTOMER_ID"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, err := positiveID("CLEENG_CUSTOMER_ID", argv[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			store, p, err := a.storeFor(ctx, publisherFlag)
			if err != nil {
				return err
			}
			cust, err := store.operator.Customer(ctx, p, transfer.CustomerID(id))
			if err != nil {
				return err
			}
			if cust == nil {
				return fmt.Errorf("publisher %d has no customer %d", p, id)
			}
			owned, err := store.operator.CustomerPurchases(ctx, p, transfer.CustomerID(id))
			if err != nil {
				return err
			}
			now := time.Now()
			views := make([]purchaseView, len(owned))
			for i, pur := range owned {
				views[i] = viewPurchase(pur, now)
			}
			if a.jsonOutput {
				return a.printJSON(struct {
					*dynamo.Customer
					Purchases []purchaseView `json:"purchases"`
				}{cust, views})
			}
			t := a.table()
			fmt.Fprintf(t, "Customer (cleengCustomerId)\t%d\n", cust.ID)
			fmt.Fprintf(t, "Publisher\t%d\n", cust.PublisherID)
			fmt.Fprintf(t, "Latest IP address\t%s\n", dash(cust.LastIPAddress))
			fmt.Fprintf(t, "Latest activity\t%s\n", whenPtr(cust.LastActivityAt))
			if err := t.Flush(); err != nil {
				return err
			}
			a.out("")
			if len(views) == 0 {
				a.out("Purchases owned now: none")
				return nil
			}
			a.out("Purchases owned now:")
			t = a.table()
			fmt.Fprintln(t, "ORIGINAL TRANSACTION\tOFFER\tKIND\tSTATE\tEXPIRES\tTRANSACTIONS")
			for _, v := range views {
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%d\n", v.OriginalTransactionID, v.OfferID, v.Kind, v.State, whenPtr(v.ExpiresAt), len(v.TransactionIDs))
			}
			return t.Flush()
		},
	}
	a.publisherFlag(show, &publisherFlag)
	return group("customer", "Inspect customers and what they own", show)
}
