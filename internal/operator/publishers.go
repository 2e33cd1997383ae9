// Package operator manages what the service must know before any transfer:
// publishers, their tokens, customers and purchases. The operator CLI
// (cmd/transferctl) and the demo seed of `make run` both go through it, so
// that the rules live in one place: a token is shown once and only its hash
// is stored; a rotated-out token keeps working for a grace period; an import
// creates what is missing and never changes an owner; an unowned purchase
// gets its first owner only from an operator; a publisher's Apple app is
// valid before it is stored.
package operator

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/transfer"
)

var (
	ErrPublisherExists   = errors.New("a publisher with this id already exists")
	ErrPublisherNotFound = errors.New("no publisher has this id")
	ErrTokenNotFound     = errors.New("no token of this publisher matches")
	ErrTokenAmbiguous    = errors.New("several tokens of this publisher match; give more of the token id")
	ErrTokenNotLive      = errors.New("the token is revoked or already being rotated out")
)

// PublisherInfo is a stored publisher, as an operator sees it.
type PublisherInfo struct {
	ID                  transfer.PublisherID `json:"publisherId"`
	Name                string               `json:"name"`
	StoreKit2Active     bool                 `json:"storeKit2Active"`
	MigrationInProgress bool                 `json:"migrationInProgress"`
	// RequireSignedTransaction and Apple are set by `publisher apple set`.
	RequireSignedTransaction bool `json:"requireSignedTransaction"`
	// VerifyWithApple: the processor asks the App Store Server API before
	// deciding each transfer (off by default).
	VerifyWithApple bool `json:"verifyWithApple"`
	// Apple is nil (null) until the publisher's app is configured.
	Apple     *AppleAppInfo `json:"apple"`
	CreatedAt time.Time     `json:"createdAt"`
}

// TokenInfo is a stored publisher token: its hash and state, never the token.
type TokenInfo struct {
	Hash      string     `json:"-"`
	Label     string     `json:"label,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// ID names the token to operators: the start of its hash, which is enough to
// tell a publisher's tokens apart and reveals nothing of the token.
func (t TokenInfo) ID() string { return TokenID(t.Hash) }

// State is "live", "expiring" (rotated out, within its grace), "expired" or "revoked".
func (t TokenInfo) State(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "expired"
	case t.ExpiresAt != nil:
		return "expiring"
	default:
		return "live"
	}
}

// tokenIDLength is how much of a token's hash names it.
const tokenIDLength = 12

// minTokenIDLength is the shortest prefix accepted to name a token.
const minTokenIDLength = 6

// TokenID is the operator-facing id of a token hash.
func TokenID(hash string) string { return hash[:min(tokenIDLength, len(hash))] }

// NewToken is a token to store: its hash, never the token itself.
type NewToken struct {
	Hash  string
	Label string
}

// PublisherChange names the settings to change; nil fields stay as they are.
type PublisherChange struct {
	Name                *string
	StoreKit2Active     *bool
	MigrationInProgress *bool
}

// PublisherStore is the storage of publishers and tokens.
type PublisherStore interface {
	// CreatePublisher stores the publisher and its first token atomically;
	// ErrPublisherExists when the id is taken.
	CreatePublisher(ctx context.Context, p transfer.Publisher, first NewToken) error
	// UpdatePublisher changes settings; ErrPublisherNotFound when unknown.
	UpdatePublisher(ctx context.Context, id transfer.PublisherID, c PublisherChange) error
	// PublisherInfo reads a publisher; nil when unknown.
	PublisherInfo(ctx context.Context, id transfer.PublisherID) (*PublisherInfo, error)
	Publishers(ctx context.Context) ([]PublisherInfo, error)
	Tokens(ctx context.Context, id transfer.PublisherID) ([]TokenInfo, error)
	// AddToken stores a token; ErrPublisherNotFound when the publisher is unknown.
	AddToken(ctx context.Context, id transfer.PublisherID, t NewToken) error
	// RotateToken stores next and sets the old token's expiry, atomically;
	// ErrTokenNotLive unless the old token is live.
	RotateToken(ctx context.Context, id transfer.PublisherID, oldHash string, next NewToken, graceUntil time.Time) error
	RevokeToken(ctx context.Context, id transfer.PublisherID, hash string) error
}

// Issued is a token as its one-time display shows it.
type Issued struct {
	PublisherID transfer.PublisherID `json:"publisherId"`
	// Token is the secret: printed once, stored nowhere.
	Token   string `json:"token"`
	TokenID string `json:"tokenId"`
}

func issue(id transfer.PublisherID, label string) (Issued, NewToken) {
	token, hash := auth.NewPublisherToken(id)
	return Issued{PublisherID: id, Token: token, TokenID: TokenID(hash)}, NewToken{Hash: hash, Label: label}
}

// Publishers manages publishers and their tokens.
type Publishers struct {
	store PublisherStore
	now   func() time.Time
}

// NewPublishers wires the publisher rules to their storage.
func NewPublishers(s PublisherStore) *Publishers { return &Publishers{store: s, now: time.Now} }

// randomIDAttempts bounds the retries of a random publisher id that is taken.
const randomIDAttempts = 5

// Create stores a publisher with a first token. A zero p.ID picks a random
// nine-digit id not yet taken.
func (ps *Publishers) Create(ctx context.Context, p transfer.Publisher, tokenLabel string) (Issued, error) {
	if p.ID < 0 {
		return Issued{}, fmt.Errorf("publisher id must be positive, got %d", p.ID)
	}
	chosen := p.ID != 0
	for attempt := 0; ; attempt++ {
		if !chosen {
			p.ID = randomPublisherID()
		}
		issued, tok := issue(p.ID, tokenLabel)
		err := ps.store.CreatePublisher(ctx, p, tok)
		if errors.Is(err, ErrPublisherExists) && !chosen && attempt < randomIDAttempts {
			continue
		}
		if err != nil {
			return Issued{}, fmt.Errorf("create publisher %d: %w", p.ID, err)
		}
		return issued, nil
	}
}

// randomPublisherID is a nine-digit id, like the ids Cleeng gives broadcasters.
func randomPublisherID() transfer.PublisherID {
	n, _ := rand.Int(rand.Reader, big.NewInt(900_000_000)) // crypto/rand does not fail on supported platforms
	return transfer.PublisherID(100_000_000 + n.Int64())
}

// Update changes a publisher's settings.
func (ps *Publishers) Update(ctx context.Context, id transfer.PublisherID, c PublisherChange) error {
	if c == (PublisherChange{}) {
		return errors.New("nothing to change")
	}
	if err := ps.store.UpdatePublisher(ctx, id, c); err != nil {
		return fmt.Errorf("update publisher %d: %w", id, err)
	}
	return nil
}

// Get reads a publisher and its tokens.
func (ps *Publishers) Get(ctx context.Context, id transfer.PublisherID) (PublisherInfo, []TokenInfo, error) {
	p, err := ps.store.PublisherInfo(ctx, id)
	if err != nil {
		return PublisherInfo{}, nil, fmt.Errorf("read publisher %d: %w", id, err)
	}
	if p == nil {
		return PublisherInfo{}, nil, fmt.Errorf("publisher %d: %w", id, ErrPublisherNotFound)
	}
	tokens, err := ps.store.Tokens(ctx, id)
	if err != nil {
		return PublisherInfo{}, nil, fmt.Errorf("read tokens of %d: %w", id, err)
	}
	return *p, tokens, nil
}

// List reads every publisher.
func (ps *Publishers) List(ctx context.Context) ([]PublisherInfo, error) {
	list, err := ps.store.Publishers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list publishers: %w", err)
	}
	slices.SortFunc(list, func(a, b PublisherInfo) int { return cmp.Compare(a.ID, b.ID) })
	return list, nil
}

// AddToken issues one more token for a publisher.
func (ps *Publishers) AddToken(ctx context.Context, id transfer.PublisherID, label string) (Issued, error) {
	issued, tok := issue(id, label)
	if err := ps.store.AddToken(ctx, id, tok); err != nil {
		return Issued{}, fmt.Errorf("add token to %d: %w", id, err)
	}
	return issued, nil
}

// RotateToken issues a new token and lets the one named by ref expire after
// grace (0: at once, as far as the API's credential cache allows).
func (ps *Publishers) RotateToken(ctx context.Context, id transfer.PublisherID, ref string, grace time.Duration, label string) (Issued, error) {
	old, err := ps.findToken(ctx, id, ref)
	if err != nil {
		return Issued{}, err
	}
	if label == "" {
		label = old.Label
	}
	issued, tok := issue(id, label)
	if err := ps.store.RotateToken(ctx, id, old.Hash, tok, ps.now().Add(grace)); err != nil {
		return Issued{}, fmt.Errorf("rotate token %s of %d: %w", old.ID(), id, err)
	}
	return issued, nil
}

// RevokeToken makes the token named by ref unusable at once.
func (ps *Publishers) RevokeToken(ctx context.Context, id transfer.PublisherID, ref string) (TokenInfo, error) {
	tok, err := ps.findToken(ctx, id, ref)
	if err != nil {
		return TokenInfo{}, err
	}
	if err := ps.store.RevokeToken(ctx, id, tok.Hash); err != nil {
		return TokenInfo{}, fmt.Errorf("revoke token %s of %d: %w", tok.ID(), id, err)
	}
	return tok, nil
}

// findToken resolves what an operator typed: the token itself (pt_…), or
// its id (a prefix of its hash, as `publisher show` lists it).
func (ps *Publishers) findToken(ctx context.Context, id transfer.PublisherID, ref string) (TokenInfo, error) {
	want := strings.ToLower(ref)
	exact := false
	if strings.HasPrefix(ref, "pt_") {
		want, exact = auth.HashToken(ref), true
	} else if len(want) < minTokenIDLength {
		return TokenInfo{}, fmt.Errorf("token id %q: give at least %d characters", ref, minTokenIDLength)
	}
	tokens, err := ps.store.Tokens(ctx, id)
	if err != nil {
		return TokenInfo{}, fmt.Errorf("read tokens of %d: %w", id, err)
	}
	var found []TokenInfo
	for _, t := range tokens {
		if t.Hash == want || !exact && strings.HasPrefix(t.Hash, want) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return TokenInfo{}, fmt.Errorf("publisher %d: %w", id, ErrTokenNotFound)
	case 1:
		return found[0], nil
	default:
		return TokenInfo{}, fmt.Errorf("publisher %d: %w", id, ErrTokenAmbiguous)
	}
}
