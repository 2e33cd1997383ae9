package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/acme/purchase-transfer/internal/operator"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// defaultTokenGrace is how long a rotated-out token keeps working, so that
// clients can switch to the new one without an outage.
const defaultTokenGrace = 24 * time.Hour

func newPublisherCommand(a *app) *cobra.Command {
	return group("publisher", "Create, list, show and configure publishers and their Apple apps; manage their tokens",
		a.publisherCreateCommand(),
		a.publisherListCommand(),
		a.publisherShowCommand(),
		a.publisherSetCommand(),
		a.publisherAppleCommand(),
		group("token", "Add, rotate and revoke a publisher's tokens",
			a.tokenAddCommand(),
			a.tokenRotateCommand(),
			a.tokenRevokeCommand(),
		),
	)
}

// publishers is the operator package's publisher management on the connected table.
func (a *app) publishers(ctx context.Context) (*operator.Publishers, error) {
	c, err := a.connect(ctx)
	if err != nil {
		return nil, err
	}
	store, err := c.store()
	if err != nil {
		return nil, err
	}
	return operator.NewPublishers(store.operator), nil
}

func (a *app) publisherCreateCommand() *cobra.Command {
	var (
		id         int64
		name       string
		storeKit2  bool
		migrating  bool
		tokenLabel string
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [--id ID]",
		Short: "Create a publisher and print its first token (shown once)",
		Long: `Create a publisher and print its id and a new publisher token.

The token is printed once and stored nowhere: only its SHA-256 is kept. Pass it
to the publisher's server, which sends it as X-Publisher-Token.

Without --id a random nine-digit id is chosen. An id that is already taken is
refused (exit code 1).`,
		Example: `  transferctl --local publisher create --name "Acme TV"
  TOKEN=$(transferctl --local publisher create --name "Acme TV" --id 555000001 --quiet)
  transferctl --stack transfers-prod publisher create --name "Acme TV" --id 123456789 --storekit2=false`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usage("--name is required")
			}
			if id < 0 {
				return usage("--id must be positive")
			}
			ps, err := a.publishers(cmd.Context())
			if err != nil {
				return err
			}
			p := transfer.Publisher{ID: transfer.PublisherID(id), Name: name, StoreKit2Active: storeKit2, MigrationInProgress: migrating}
			issued, err := ps.Create(cmd.Context(), p, tokenLabel)
			if err != nil {
				return err
			}
			if a.jsonOutput || a.tokenOnly {
				return a.printIssued(issued, "")
			}
			a.out("Created publisher %d (%s): StoreKit 2 active %s, migration in progress %s.", issued.PublisherID, name, yesNo(storeKit2), yesNo(migrating))
			return a.printIssued(issued, "Token")
		},
	}
	f := cmd.Flags()
	f.Int64Var(&id, "id", 0, "publisher `ID` (default: a random nine-digit id)")
	f.StringVar(&name, "name", "", "the publisher's `NAME` (required)")
	f.BoolVar(&storeKit2, "storekit2", true, "StoreKit 2 integration active (transfers refused with SK2C0004 when false)")
	f.BoolVar(&migrating, "migration", false, "migration in progress (transfers refused with SK2C0005 when true)")
	f.StringVar(&tokenLabel, "token-label", "initial", "`LABEL` of the first token, shown by publisher show")
	a.tokenOnlyFlag(cmd)
	return cmd
}

func (a *app) publisherListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every publisher",
		Long:  "List every publisher with its two flags. (It scans the table: fine for an operator, not for a request path.)",
		Args:  args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := a.publishers(cmd.Context())
			if err != nil {
				return err
			}
			list, err := ps.List(cmd.Context())
			if err != nil {
				return err
			}
			if a.jsonOutput {
				return a.printJSON(nonNil(list))
			}
			t := a.table()
			fmt.Fprintln(t, "PUBLISHER\tNAME\tSTOREKIT2\tMIGRATION\tCREATED")
			for _, p := range list {
				fmt.Fprintf(t, "%d\t%s\t%s\t%s\t%s\n", p.ID, p.Name, yesNo(p.StoreKit2Active), yesNo(p.MigrationInProgress), when(p.CreatedAt))
			}
			return t.Flush()
		},
	}
}

func (a *app) publisherShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show PUBLISHER_ID",
		Short: "Show a publisher's settings and its tokens (ids and state, never the tokens)",
		Args:  args("PUBLISHER_ID"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, err := positiveID("PUBLISHER_ID", argv[0])
			if err != nil {
				return err
			}
			ps, err := a.publishers(cmd.Context())
			if err != nil {
				return err
			}
			p, tokens, err := ps.Get(cmd.Context(), transfer.PublisherID(id))
			if err != nil {
				return err
			}
			now := time.Now()
			if a.jsonOutput {
				type tokenView struct {
					ID    string `json:"tokenId"`
					State string `json:"state"`
					operator.TokenInfo
				}
				views := make([]tokenView, len(tokens))
				for i, t := range tokens {
					views[i] = tokenView{ID: t.ID(), State: t.State(now), TokenInfo: t}
				}
				return a.printJSON(struct {
					operator.PublisherInfo
					Tokens []tokenView `json:"tokens"`
				}{p, views})
			}
			t := a.table()
			fmt.Fprintf(t, "Publisher\t%d\n", p.ID)
			fmt.Fprintf(t, "Name\t%s\n", p.Name)
			fmt.Fprintf(t, "StoreKit 2 active\t%s\n", yesNo(p.StoreKit2Active))
			fmt.Fprintf(t, "Migration in progress\t%s\n", yesNo(p.MigrationInProgress))
			fmt.Fprintf(t, "Require signed transaction\t%s\n", yesNo(p.RequireSignedTransaction))
			fmt.Fprintf(t, "Apple app\t%s\n", appleSummary(p.Apple))
			fmt.Fprintf(t, "Created\t%s\n", when(p.CreatedAt))
			if err := t.Flush(); err != nil {
				return err
			}
			a.out("")
			t = a.table()
			fmt.Fprintln(t, "TOKEN ID\tSTATE\tLABEL\tCREATED\tEXPIRES\tREVOKED")
			for _, tok := range tokens {
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\n", tok.ID(), tok.State(now), dash(tok.Label), when(tok.CreatedAt), whenPtr(tok.ExpiresAt), whenPtr(tok.RevokedAt))
			}
			return t.Flush()
		},
	}
}

func (a *app) publisherSetCommand() *cobra.Command {
	var (
		name      string
		storeKit2 bool
		migrating bool
	)
	cmd := &cobra.Command{
		Use:   "set PUBLISHER_ID [--storekit2=true|false] [--migration=true|false] [--name NAME]",
		Short: "Change a publisher's flags or name",
		Long: `Change a publisher's StoreKit 2 and migration flags, or its name. Only the
flags given change. The API caches publisher settings for up to
AUTH_CACHE_TTL_SECONDS (10 s) per container.`,
		Example: `  transferctl --local publisher set 100000001 --migration=true
  transferctl --local publisher set 100000001 --storekit2=false`,
		Args: args("PUBLISHER_ID"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, err := positiveID("PUBLISHER_ID", argv[0])
			if err != nil {
				return err
			}
			var change operator.PublisherChange
			f := cmd.Flags()
			if f.Changed("name") {
				change.Name = &name
			}
			if f.Changed("storekit2") {
				change.StoreKit2Active = &storeKit2
			}
			if f.Changed("migration") {
				change.MigrationInProgress = &migrating
			}
			if change == (operator.PublisherChange{}) {
				return usage("give at least one of --storekit2, --migration, --name")
			}
			ps, err := a.publishers(cmd.Context())
			if err != nil {
				return err
			}
			if err := ps.Update(cmd.Context(), transfer.PublisherID(id), change); err != nil {
				return err
			}
			p, _, err := ps.Get(cmd.Context(), transfer.PublisherID(id))
			if err != nil {
				return err
			}
			if a.jsonOutput {
				return a.printJSON(p)
			}
			a.out("Publisher %d (%s): StoreKit 2 active %s, migration in progress %s.", p.ID, p.Name, yesNo(p.StoreKit2Active), yesNo(p.MigrationInProgress))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new `NAME`")
	f.BoolVar(&storeKit2, "storekit2", false, "StoreKit 2 integration active")
	f.BoolVar(&migrating, "migration", false, "migration in progress")
	return cmd
}

func (a *app) tokenAddCommand() *cobra.Command {
	var label string
	cmd := &cobra.Command{
		Use:   "add PUBLISHER_ID [--label LABEL]",
		Short: "Issue one more token for a publisher (shown once)",
		Args:  args("PUBLISHER_ID"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, err := positiveID("PUBLISHER_ID", argv[0])
			if err != nil {
				return err
			}
			ps, err := a.publishers(cmd.Context())
			if err != nil {
				return err
			}
			issued, err := ps.AddToken(cmd.Context(), transfer.PublisherID(id), label)
			if err != nil {
				return err
			}
			return a.printIssued(issued, "New token")
		},
	}
	cmd.Flags().StringVar(&label, "label", "", "`LABEL` shown by publisher show, e.g. who holds the token")
	a.tokenOnlyFlag(cmd)
	return cmd
}

func (a *app) tokenRotateCommand() *cobra.Command {
	var (
		grace time.Duration
		label string
	)
	cmd := &cobra.Command{
		Use:   "rotate PUBLISHER_ID TOKEN_ID [--grace 24h]",
		Short: "Issue a new token; the old one keeps working for a grace period",
		Long: `Issue a new token (shown once) and let the old one expire after --grace, so the
publisher can switch without an outage. --grace 0 ends the old token at once
(as far as the API's credential cache of AUTH_CACHE_TTL_SECONDS allows).

TOKEN_ID is the id that publisher show lists (a prefix of the token's hash,
at least 6 characters), or the token itself.`,
		Example: `  transferctl --local publisher token rotate 100000001 3f2a9c01b7de
  transferctl --local publisher token rotate 100000001 3f2a9c01b7de --grace 1h`,
		Args: args("PUBLISHER_ID", "TOKEN_ID"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, err := positiveID("PUBLISHER_ID", argv[0])
			if err != nil {
				return err
			}
			if grace < 0 {
				return usage("--grace must not be negative")
			}
			ps, err := a.publishers(cmd.Context())
			if err != nil {
				return err
			}
			issued, err := ps.RotateToken(cmd.Context(), transfer.PublisherID(id), argv[1], grace, label)
			if err != nil {
				return err
			}
			if err := a.printIssued(issued, "New token"); err != nil || a.jsonOutput || a.tokenOnly {
				return err
			}
			a.out("")
			a.out("The old token stops working at %s.", when(time.Now().Add(grace)))
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", defaultTokenGrace, "how long the old token keeps working (e.g. 1h, 0)")
	cmd.Flags().StringVar(&label, "label", "", "`LABEL` of the new token (default: the old token's)")
	a.tokenOnlyFlag(cmd)
	return cmd
}

func (a *app) tokenRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke PUBLISHER_ID TOKEN_ID",
		Short: "Make a token unusable at once",
		Long: `Revoke a token: the API refuses it (401 AUTH0002) from now on, within its
credential cache of AUTH_CACHE_TTL_SECONDS (10 s). TOKEN_ID is the id that
publisher show lists, or the token itself.`,
		Args: args("PUBLISHER_ID", "TOKEN_ID"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, err := positiveID("PUBLISHER_ID", argv[0])
			if err != nil {
				return err
			}
			ps, err := a.publishers(cmd.Context())
			if err != nil {
				return err
			}
			tok, err := ps.RevokeToken(cmd.Context(), transfer.PublisherID(id), argv[1])
			if err != nil {
				return err
			}
			if a.jsonOutput {
				return a.printJSON(map[string]any{"publisherId": id, "tokenId": tok.ID(), "state": "revoked"})
			}
			a.out("Revoked token %s of publisher %d.", tok.ID(), id)
			return nil
		},
	}
}

// tokenOnlyFlag adds --quiet to a command that issues a token.
func (a *app) tokenOnlyFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&a.tokenOnly, "quiet", "q", false, "print only the token, for scripts: TOKEN=$(transferctl ... -q)")
}

// printIssued shows a new token, the only time it is ever shown.
func (a *app) printIssued(issued operator.Issued, what string) error {
	switch {
	case a.jsonOutput:
		return a.printJSON(issued)
	case a.tokenOnly:
		a.out("%s", issued.Token)
		return nil
	}
	a.out("%s of publisher %d (id %s), shown only this once; only its hash is stored:", what, issued.PublisherID, issued.TokenID)
	a.out("")
	a.out("  %s", issued.Token)
	return nil
}
