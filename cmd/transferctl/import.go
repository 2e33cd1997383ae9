package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/acme/purchase-transfer/internal/operator"
)

func newImportCommand(a *app) *cobra.Command {
	var (
		publisherFlag int64
		workers       int
		update        bool
	)
	cmd := &cobra.Command{
		Use:   "import FILE [--publisher ID] [--update]",
		Short: "Import customers and purchases of a publisher from JSON Lines",
		Long: `Import customers and purchases of one publisher from a JSON Lines file (one
JSON object a line; "-" reads standard input). docs/import.md describes the
lines, with examples:

  {"type":"customer","cleengCustomerId":900000004}
  {"type":"purchase","cleengCustomerId":900000004,"originalTransactionId":"2000000000000500",
   "transactionIds":["2000000000000501"],"offerId":"S123456789_US",
   "productId":"com.example.premium.monthly","kind":"auto-renewable","state":"active",
   "expiresAt":"2027-01-31T00:00:00Z"}

A purchase line also creates its owner when missing. The import creates what
is missing and leaves what is stored as it is (a purchase transferred since, a
customer's latest activity), with two exceptions:

  - a line naming a stored purchase that has no owner (Apple told the service
    of it before anyone claimed it) makes the line's customer its owner;
  - with --update, a stored purchase is brought up to date from its line:
    state, expiresAt, productId, offerId, kind, and transactionIds its chain
    lacks. Never its owner: a transfer may have moved it since.

Each change is conditioned on the version read and bumps it. Running the same
file again changes nothing. Invalid lines are reported with their line number
and skipped.

Progress goes to standard error: a bar on a terminal, plain lines otherwise.

Exit codes: 0 every line imported (or nothing to change); 3 some lines were invalid
and skipped (the rest is imported); 1 storage failed (run it again: nothing
is lost); 2 bad command line.`,
		Example: `  transferctl --local import examples/purchases.jsonl
  transferctl --local import --update examples/purchases.jsonl
  transferctl --stack transfers-prod import --publisher 123456789 purchases.jsonl`,
		Args: args("FILE"),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if workers < 1 {
				return usage("--workers must be at least 1")
			}
			ctx := cmd.Context()
			publisher, err := a.publisher(ctx, publisherFlag)
			if err != nil {
				return err
			}
			in, size, name, err := openInput(argv[0])
			if err != nil {
				return err
			}
			defer in.Close()
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			store, err := c.store()
			if err != nil {
				return err
			}
			// An import into a publisher that does not exist would create
			// data no token can ever reach.
			if info, err := store.operator.PublisherInfo(ctx, publisher); err != nil {
				return err
			} else if info == nil {
				return fmt.Errorf("publisher %d: %w (create it first: transferctl publisher create)", publisher, operator.ErrPublisherNotFound)
			}
			bar := newProgressBar(a.stderr, name)
			report, err := operator.NewImporter(store.operator, operator.WithWorkers(workers), operator.WithUpdate(update), operator.WithProgress(bar.update)).
				Import(ctx, publisher, in, size)
			bar.finish()
			for _, bad := range report.Invalid {
				fmt.Fprintf(a.stderr, "%s:%d: %s\n", name, bad.Line, bad.Reason)
			}
			if err != nil {
				return err
			}
			if a.jsonOutput {
				if err := a.printJSON(struct {
					PublisherID int64   `json:"publisherId"`
					Seconds     float64 `json:"seconds"`
					operator.Report
				}{int64(publisher), report.Elapsed.Seconds(), report}); err != nil {
					return err
				}
			} else {
				a.out("Imported %s into publisher %d in %.1fs: %d lines.", name, publisher, report.Elapsed.Seconds(), report.Lines)
				a.out("  customers: %d created, %d already there", report.CustomersCreated, report.CustomersExisting)
				a.out("  purchases: %d created, %d updated, %d assigned an owner, %d unchanged",
					report.PurchasesCreated, report.PurchasesUpdated, report.PurchasesAssigned, report.PurchasesUnchanged)
				if report.Skipped > 0 {
					a.out("  skipped: %d line(s) (listed on standard error)", report.Skipped)
				} else {
					a.out("  skipped: 0 lines")
				}
			}
			if n := len(report.Invalid); n > 0 {
				return &partialError{msg: fmt.Sprintf("%d invalid line(s) skipped", n)}
			}
			return nil
		},
	}
	a.publisherFlag(cmd, &publisherFlag)
	cmd.Flags().IntVar(&workers, "workers", 8, "chunks of 100 lines stored concurrently")
	cmd.Flags().BoolVar(&update, "update", false, "bring stored purchases up to date from their lines (never their owner)")
	return cmd
}

// openInput opens a file, or standard input for "-", and tells its size
// when known (for the progress bar's ETA).
func openInput(path string) (io.ReadCloser, int64, string, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), 0, "stdin", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, path, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, path, err
	}
	return f, st.Size(), path, nil
}
