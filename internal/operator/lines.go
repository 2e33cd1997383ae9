package operator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// Line is one line of an import file (JSON Lines). docs/import.md documents
// it with examples; unknown fields are refused so that a misspelt field is
// reported instead of silently dropped.
type Line struct {
	// Type is "customer" or "purchase".
	Type string `json:"type"`
	// CleengCustomerID is the customer, or the owner of a purchase.
	CleengCustomerID int64 `json:"cleengCustomerId"`

	// The rest is for purchases only.
	OriginalTransactionID string `json:"originalTransactionId,omitempty"`
	// TransactionIDs name the purchase too; the originalTransactionId always does.
	TransactionIDs []string   `json:"transactionIds,omitempty"`
	OfferID        string     `json:"offerId,omitempty"`
	ProductID      string     `json:"productId,omitempty"`
	Kind           string     `json:"kind,omitempty"`
	State          string     `json:"state,omitempty"`
	ExpiresAt      *time.Time `json:"expiresAt,omitempty"`
}

// Line types.
const (
	TypeCustomer = "customer"
	TypePurchase = "purchase"
)

// Limits of one line.
const (
	maxLineBytes          = 256 << 10
	maxTransactionIDs     = 1000
	maxOfferOrProductSize = 256
)

// CustomerLine is the import line of a customer.
func CustomerLine(c transfer.CustomerID) Line {
	return Line{Type: TypeCustomer, CleengCustomerID: int64(c)}
}

// PurchaseLine is the import line of a purchase.
func PurchaseLine(p transfer.Purchase) Line {
	l := Line{
		Type:                  TypePurchase,
		CleengCustomerID:      int64(p.Owner),
		OriginalTransactionID: p.OriginalTransactionID,
		TransactionIDs:        p.TransactionIDs,
		OfferID:               p.OfferID,
		ProductID:             p.ProductID,
		Kind:                  string(p.Kind),
		State:                 string(p.State),
	}
	if !p.ExpiresAt.IsZero() {
		at := p.ExpiresAt.UTC()
		l.ExpiresAt = &at
	}
	return l
}

// parseLine decodes and validates one line into an entry of publisher p.
func parseLine(p transfer.PublisherID, raw []byte) (Entry, error) {
	if len(raw) > maxLineBytes {
		return Entry{}, fmt.Errorf("line is longer than %d bytes", maxLineBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var l Line
	if err := dec.Decode(&l); err != nil {
		return Entry{}, explainJSON(err)
	}
	if dec.More() {
		return Entry{}, errors.New("more than one JSON value on the line")
	}
	if l.CleengCustomerID <= 0 {
		return Entry{}, errors.New("cleengCustomerId must be a positive integer")
	}
	customer := transfer.CustomerID(l.CleengCustomerID)
	switch l.Type {
	case TypeCustomer:
		if l.OriginalTransactionID != "" || len(l.TransactionIDs) > 0 || l.OfferID != "" || l.ProductID != "" ||
			l.Kind != "" || l.State != "" || l.ExpiresAt != nil {
			return Entry{}, errors.New(`a "customer" line has only type and cleengCustomerId`)
		}
		return Entry{Customer: customer}, nil
	case TypePurchase:
		purchase, err := l.purchase(p)
		if err != nil {
			return Entry{}, err
		}
		return Entry{Customer: customer, Purchase: &purchase}, nil
	case "":
		return Entry{}, errors.New(`type is required: "customer" or "purchase"`)
	default:
		return Entry{}, fmt.Errorf(`type %q: must be "customer" or "purchase"`, l.Type)
	}
}

func (l Line) purchase(p transfer.PublisherID) (transfer.Purchase, error) {
	if !transfer.ValidTransactionID(l.OriginalTransactionID) {
		return transfer.Purchase{}, errors.New("originalTransactionId is required: 1-128 characters of [A-Za-z0-9._-]")
	}
	if len(l.TransactionIDs) > maxTransactionIDs {
		return transfer.Purchase{}, fmt.Errorf("transactionIds: at most %d", maxTransactionIDs)
	}
	txs := []string{l.OriginalTransactionID}
	for _, tx := range l.TransactionIDs {
		if !transfer.ValidTransactionID(tx) {
			return transfer.Purchase{}, fmt.Errorf("transactionIds: %q is not 1-128 characters of [A-Za-z0-9._-]", tx)
		}
		if !slices.Contains(txs, tx) {
			txs = append(txs, tx)
		}
	}
	if l.OfferID == "" || len(l.OfferID) > maxOfferOrProductSize {
		return transfer.Purchase{}, fmt.Errorf("offerId is required (at most %d characters)", maxOfferOrProductSize)
	}
	if len(l.ProductID) > maxOfferOrProductSize {
		return transfer.Purchase{}, fmt.Errorf("productId: at most %d characters", maxOfferOrProductSize)
	}
	kind := transfer.PurchaseKind(l.Kind)
	switch kind {
	case transfer.KindAutoRenewable, transfer.KindNonRenewing, transfer.KindNonConsumable:
	default:
		return transfer.Purchase{}, fmt.Errorf(`kind %q: must be "auto-renewable", "non-renewing" or "non-consumable"`, l.Kind)
	}
	state := transfer.PurchaseState(l.State)
	switch state {
	case transfer.StateActive, transfer.StateExpired, transfer.StateRevoked:
	default:
		return transfer.Purchase{}, fmt.Errorf(`state %q: must be "active", "expired" or "revoked"`, l.State)
	}
	out := transfer.Purchase{
		PublisherID:           p,
		OriginalTransactionID: l.OriginalTransactionID,
		TransactionIDs:        txs,
		Owner:                 transfer.CustomerID(l.CleengCustomerID),
		OfferID:               l.OfferID,
		ProductID:             l.ProductID,
		Kind:                  kind,
		State:                 state,
	}
	if l.ExpiresAt != nil {
		// RFC 3339 offsets can carry a date past either end of what RFC 3339
		// writes in UTC (0000-01-01T00:00:00+01:00 is in the year -1): such
		// a purchase could be stored but never exported.
		at := l.ExpiresAt.UTC()
		if at.Year() < 1 || at.Year() > 9999 {
			return transfer.Purchase{}, errors.New("expiresAt: must be within the years 0001 to 9999 in UTC")
		}
		out.ExpiresAt = at
	}
	return out, nil
}

// explainJSON turns a decoding error into a message about the line's fields.
func explainJSON(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Errorf("%s: expected %s, got %s", typeErr.Field, typeName(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &typeErr):
		return fmt.Errorf("expected a JSON object, got %s", typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("not valid JSON: %v", syntaxErr)
	case errors.As(err, &timeErr):
		return fmt.Errorf("expiresAt: not an RFC 3339 time (e.g. 2027-01-31T00:00:00Z): %q", timeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return fmt.Errorf("not valid JSON: %v", err)
	}
}

func typeName(kind string) string {
	switch kind {
	case "int64":
		return "an integer"
	case "string":
		return "a string"
	case "slice":
		return "an array of strings"
	case "struct":
		return "an RFC 3339 time string"
	default:
		return kind
	}
}
