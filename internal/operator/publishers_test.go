package operator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/transfer"
)

// tokenStore is a PublisherStore with fixed tokens that records revocations.
type tokenStore struct {
	PublisherStore
	tokens  []TokenInfo
	revoked []string
	taken   map[transfer.PublisherID]bool
	created []transfer.PublisherID
}

func (s *tokenStore) Tokens(context.Context, transfer.PublisherID) ([]TokenInfo, error) {
	return s.tokens, nil
}

func (s *tokenStore) RevokeToken(_ context.Context, _ transfer.PublisherID, hash string) error {
	s.revoked = append(s.revoked, hash)
	return nil
}

func (s *tokenStore) CreatePublisher(_ context.Context, p transfer.Publisher, _ NewToken) error {
	if s.taken[p.ID] {
		return ErrPublisherExists
	}
	s.created = append(s.created, p.ID)
	return nil
}

func TestTokensAreNamedByHashPrefixOrByThemselves(t *testing.T) {
	token, hash := auth.NewPublisherToken(1)
	store := &tokenStore{tokens: []TokenInfo{
		{Hash: hash},
		{Hash: "abcdef0000000000"},
		{Hash: "abcdef1111111111"},
	}}
	ps := NewPublishers(store)
	ctx := context.Background()
	for ref, want := range map[string]error{
		token:           nil,
		hash[:8]:        nil,
		"ABCDEF00":      nil, // hex ids are case-insensitive
		"abcdef":        ErrTokenAmbiguous,
		"abc":           nil, // too short: a usage error, not a lookup
		"999999999999":  ErrTokenNotFound,
		"pt_1_nottoken": ErrTokenNotFound,
	} {
		_, err := ps.RevokeToken(ctx, 1, ref)
		switch {
		case ref == "abc":
			if err == nil {
				t.Errorf("%q: a too short id was accepted", ref)
			}
		case want == nil && err != nil, want != nil && !errors.Is(err, want):
			t.Errorf("%q: got %v, want %v", ref, err, want)
		}
	}
	count := map[string]int{}
	for _, h := range store.revoked {
		count[h]++
	}
	if len(store.revoked) != 3 || count[hash] != 2 || count["abcdef0000000000"] != 1 {
		t.Errorf("revoked %v", store.revoked)
	}
}

func TestCreateRetriesATakenRandomIdButNotAChosenOne(t *testing.T) {
	store := &tokenStore{taken: map[transfer.PublisherID]bool{42: true}}
	ps := NewPublishers(store)
	if _, err := ps.Create(context.Background(), transfer.Publisher{ID: 42, Name: "x"}, ""); !errors.Is(err, ErrPublisherExists) {
		t.Fatalf("a chosen id that is taken: %v", err)
	}
	issued, err := ps.Create(context.Background(), transfer.Publisher{Name: "x"}, "")
	if err != nil || issued.PublisherID < 100_000_000 || issued.PublisherID > 999_999_999 {
		t.Fatalf("random id: %+v %v", issued, err)
	}
	if cred, ok := auth.ParsePublisherToken(issued.Token); !ok || cred.Publisher != issued.PublisherID || TokenID(cred.TokenHash) != issued.TokenID {
		t.Fatalf("issued token %+v does not parse as its publisher's", issued)
	}
}

func TestTokenStates(t *testing.T) {
	now := time.Now()
	past, future := now.Add(-time.Minute), now.Add(time.Minute)
	for want, tok := range map[string]TokenInfo{
		"live":     {},
		"expiring": {ExpiresAt: &future},
		"expired":  {ExpiresAt: &past},
		"revoked":  {RevokedAt: &past, ExpiresAt: &future},
	} {
		if got := tok.State(now); got != want {
			t.Errorf("State = %s, want %s", got, want)
		}
	}
}
