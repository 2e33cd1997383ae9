package operator

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Entry is one valid line of an import, ready to store.
type Entry struct {
	// Line is the line number in the file, counted from 1.
	Line int
	// Customer is created when missing: the customer of a customer line, or
	// the owner of a purchase. Zero when an earlier line already covers it.
	Customer transfer.CustomerID
	// Purchase is set for a purchase line.
	Purchase *transfer.Purchase
}

// Outcome is what storing an entry did.
type Outcome struct {
	CustomerCreated bool
	PurchaseCreated bool
	// PurchaseAssigned: the purchase was stored without an owner and now has
	// the line's customer (Reconcile).
	PurchaseAssigned bool
	// PurchaseUpdated: with update, the stored purchase was brought up to
	// date from the line (Reconcile).
	PurchaseUpdated bool
	// Refused explains why a purchase was not stored although its line was
	// valid on its own (a transactionId already names another purchase).
	Refused string
}

// ImportStore stores import entries.
type ImportStore interface {
	// ImportChunk stores the customers and purchases of entries that do not
	// exist yet, returning one outcome per entry. A purchase that exists is
	// changed only as Reconcile decides (update says whether the import runs
	// with --update), each change conditioned on the version read. Entries
	// of one call name distinct purchases.
	ImportChunk(ctx context.Context, p transfer.PublisherID, entries []Entry, update bool) ([]Outcome, error)
}

// LineError is an input line that was skipped.
type LineError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Report is the result of an import.
type Report struct {
	Lines             int `json:"lines"`
	CustomersCreated  int `json:"customersCreated"`
	CustomersExisting int `json:"customersExisting"`
	PurchasesCreated  int `json:"purchasesCreated"`
	// PurchasesUpdated (with update) and PurchasesAssigned count stored
	// purchases a line changed; one line may do both, and counts in both.
	PurchasesUpdated  int `json:"purchasesUpdated"`
	PurchasesAssigned int `json:"purchasesAssigned"`
	// PurchasesUnchanged were stored and left exactly as they are.
	PurchasesUnchanged int `json:"purchasesUnchanged"`
	// Skipped is the number of lines not imported, each listed in Invalid.
	Skipped int           `json:"skipped"`
	Invalid []LineError   `json:"invalid"`
	Elapsed time.Duration `json:"-"`
}

// Progress is reported while an import runs.
type Progress struct {
	// Lines is the number of input lines handled so far.
	Lines int
	// Bytes of the input handled so far, of TotalBytes (0 when unknown).
	Bytes, TotalBytes int64
	Elapsed           time.Duration
}

// Importer loads customers and purchases from JSON Lines.
//
// The rule that makes an import safe to run again: it creates what is
// missing, and what is stored it changes only as Reconcile decides. By
// default that is nothing, except giving an unowned purchase (known from
// Apple, claimed by nobody) the line's customer as its owner; with update,
// also bringing a purchase's Apple-side fields and transactionIds up to
// date. An owner is never changed and a customer never rewritten, because
// since it was first imported a transfer may have moved the purchase
// (owner, version, history) or set the customer's latest activity.
// Re-running a file creates and changes nothing.
type Importer struct {
	store    ImportStore
	workers  int
	chunk    int
	update   bool
	progress func(Progress)
}

// ImportOption configures an Importer.
type ImportOption func(*Importer)

// WithWorkers sets how many chunks are stored concurrently.
func WithWorkers(n int) ImportOption {
	return func(im *Importer) {
		if n > 0 {
			im.workers = n
		}
	}
}

// WithUpdate makes the import bring purchases that are stored already up to
// date from their lines (Reconcile).
func WithUpdate(update bool) ImportOption { return func(im *Importer) { im.update = update } }

// WithProgress receives progress after each stored chunk, from one goroutine.
func WithProgress(f func(Progress)) ImportOption { return func(im *Importer) { im.progress = f } }

// Defaults: a chunk of 100 lines is one BatchGetItem round of its keys and a
// few BatchWriteItems; eight in flight keep DynamoDB busy without throttling
// a fresh on-demand table.
const (
	defaultImportWorkers = 8
	importChunkLines     = 100
)

// NewImporter wires the import to its storage.
func NewImporter(s ImportStore, opts ...ImportOption) *Importer {
	im := &Importer{store: s, workers: defaultImportWorkers, chunk: importChunkLines, progress: func(Progress) {}}
	for _, o := range opts {
		o(im)
	}
	return im
}

type chunk struct {
	entries []Entry
	lines   int   // input lines covered, valid or not
	bytes   int64 // input bytes covered
}

type chunkResult struct {
	chunk    chunk
	outcomes []Outcome
	err      error
}

// Import reads r (totalBytes long, 0 if unknown) and stores its lines for
// publisher p. Invalid lines are skipped and listed in the report; an error
// means storage failed, and the import may simply be run again.
func (im *Importer) Import(ctx context.Context, p transfer.PublisherID, r io.Reader, totalBytes int64) (Report, error) {
	started := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		report   Report
		invalid  []LineError
		readErr  error
		chunks   = make(chan chunk, im.workers)
		results  = make(chan chunkResult, im.workers)
		workers  sync.WaitGroup
		readDone = make(chan struct{})
	)
	go func() {
		defer close(readDone)
		defer close(chunks)
		invalid, readErr = im.read(ctx, p, r, chunks)
	}()
	for range im.workers {
		workers.Go(func() {
			for c := range chunks {
				out, err := im.store.ImportChunk(ctx, p, c.entries, im.update)
				results <- chunkResult{chunk: c, outcomes: out, err: err}
			}
		})
	}
	go func() { workers.Wait(); close(results) }()

	var (
		storeErr error
		done     Progress
	)
	for res := range results {
		if res.err != nil {
			if storeErr == nil {
				storeErr = res.err
				cancel()
			}
			continue
		}
		for i, e := range res.chunk.entries {
			o := res.outcomes[i]
			if e.Customer != 0 {
				if o.CustomerCreated {
					report.CustomersCreated++
				} else {
					report.CustomersExisting++
				}
			}
			switch {
			case e.Purchase == nil:
			case o.Refused != "":
				report.Invalid = append(report.Invalid, LineError{Line: e.Line, Reason: o.Refused})
			case o.PurchaseCreated:
				report.PurchasesCreated++
			case o.PurchaseAssigned || o.PurchaseUpdated:
				if o.PurchaseAssigned {
					report.PurchasesAssigned++
				}
				if o.PurchaseUpdated {
					report.PurchasesUpdated++
				}
			default:
				report.PurchasesUnchanged++
			}
		}
		done.Lines += res.chunk.lines
		done.Bytes += res.chunk.bytes
		done.TotalBytes = totalBytes
		done.Elapsed = time.Since(started)
		im.progress(done)
	}
	<-readDone
	report.Lines = done.Lines
	report.Invalid = sortedByLine(append(report.Invalid, invalid...))
	report.Skipped = len(report.Invalid)
	report.Elapsed = time.Since(started)
	if storeErr != nil {
		return report, fmt.Errorf("store: %w (nothing is lost: run the import again)", storeErr)
	}
	if readErr != nil && !errors.Is(readErr, context.Canceled) {
		return report, fmt.Errorf("read: %w", readErr)
	}
	return report, ctx.Err()
}

// claim remembers which line first named a transactionId.
type claim struct {
	otx  string
	line int
}

// read parses lines into chunks. Rules that span lines are kept here, in
// one goroutine: a purchase named twice or a transactionId given to two
// purchases is an invalid line (else parallel chunks would race to write
// them), and each customer is created by the first line that names it only.
func (im *Importer) read(ctx context.Context, p transfer.PublisherID, r io.Reader, out chan<- chunk) ([]LineError, error) {
	var (
		invalid   []LineError
		customers = map[transfer.CustomerID]struct{}{}
		purchases = map[string]int{}
		txs       = map[string]claim{}
		cur       chunk
		br        = bufio.NewReaderSize(r, 1<<16)
	)
	send := func() error {
		if cur.lines == 0 {
			return nil
		}
		select {
		case out <- cur:
			cur = chunk{}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for n := 1; ; n++ {
		raw, err := br.ReadBytes('\n')
		if len(raw) == 0 && err == io.EOF {
			return invalid, send()
		}
		if err != nil && err != io.EOF {
			return invalid, err
		}
		cur.lines++
		cur.bytes += int64(len(raw))
		if text := bytes.TrimSpace(raw); len(text) > 0 {
			entry, perr := parseLine(p, text)
			if perr == nil && entry.Purchase != nil {
				perr = checkClaims(entry.Purchase, n, purchases, txs)
			}
			if perr != nil {
				invalid = append(invalid, LineError{Line: n, Reason: perr.Error()})
			} else {
				entry.Line = n
				if _, seen := customers[entry.Customer]; seen {
					entry.Customer = 0
				} else {
					customers[entry.Customer] = struct{}{}
				}
				if entry.Customer != 0 || entry.Purchase != nil {
					cur.entries = append(cur.entries, entry)
				}
			}
		}
		if len(cur.entries) >= im.chunk || cur.lines >= 4*im.chunk {
			if err := send(); err != nil {
				return invalid, err
			}
		}
		if err == io.EOF {
			return invalid, send()
		}
	}
}

func checkClaims(pur *transfer.Purchase, line int, purchases map[string]int, txs map[string]claim) error {
	if first, dup := purchases[pur.OriginalTransactionID]; dup {
		return fmt.Errorf("purchase %s is already on line %d", pur.OriginalTransactionID, first)
	}
	for _, tx := range pur.TransactionIDs {
		if c, taken := txs[tx]; taken && c.otx != pur.OriginalTransactionID {
			return fmt.Errorf("transactionId %s already belongs to purchase %s (line %d)", tx, c.otx, c.line)
		}
	}
	purchases[pur.OriginalTransactionID] = line
	for _, tx := range pur.TransactionIDs {
		txs[tx] = claim{otx: pur.OriginalTransactionID, line: line}
	}
	return nil
}

func sortedByLine(errs []LineError) []LineError {
	if errs == nil {
		return []LineError{}
	}
	slices.SortFunc(errs, func(a, b LineError) int { return cmp.Compare(a.Line, b.Line) })
	return errs
}
