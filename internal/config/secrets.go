package config

import (
	"context"
	"log/slog"
	"time"

	"github.com/acme/purchase-transfer/internal/auth"
	"github.com/acme/purchase-transfer/internal/secrets"
	"github.com/acme/purchase-transfer/internal/webhook"
)

// initLoadTimeout bounds the fetch of a secret at init: a Secrets Manager
// that does not answer must not eat the whole init phase (10 s).
const initLoadTimeout = 3 * time.Second

// HS256Keys are the HS256 keys of the secret id (JWT_HS256_SECRET_ID), the
// previous version's too (tokens signed before a rotation), loaded now; nil
// when id is "" (HS256 off). A failed load does not stop the function: the
// requests that need the key try again and answer 500 S0004 meanwhile.
// opts are for tests (the functions take the defaults).
func HS256Keys(ctx context.Context, api secrets.API, id string, opts ...secrets.Option) auth.HS256Keys {
	if id == "" {
		return nil
	}
	return load(ctx, secrets.New(api, id, auth.DecodeHS256Key, append([]secrets.Option{secrets.WithPrevious()}, opts...)...))
}

// SealingKeys are the webhook sealing keys of the secret id
// (WEBHOOK_SEALING_KEY_SECRET_ID): the current one seals, both it and the
// previous one open. Loaded now, like HS256Keys.
func SealingKeys(ctx context.Context, api secrets.API, id string, opts ...secrets.Option) webhook.SealingKeys {
	return load(ctx, sealingKeys(api, id, opts...))
}

// SealingKeysOnUse are SealingKeys, fetched when first used rather than at
// init: for a function that needs them only for some of its work (the
// processor, for verifyWithApple publishers), so that its cold start does
// not wait for Secrets Manager.
func SealingKeysOnUse(api secrets.API, id string, opts ...secrets.Option) webhook.SealingKeys {
	return sealingKeys(api, id, opts...)
}

func sealingKeys(api secrets.API, id string, opts ...secrets.Option) *secrets.Keys {
	decode := func(v []byte) ([]byte, error) { return webhook.ParseSealingKey(string(v)) }
	return secrets.New(api, id, decode, append([]secrets.Option{secrets.WithPrevious()}, opts...)...)
}

func load(ctx context.Context, k *secrets.Keys) *secrets.Keys {
	ctx, cancel := context.WithTimeout(ctx, initLoadTimeout)
	defer cancel()
	if err := k.Load(ctx); err != nil {
		// The error names the secret and why, never its value.
		slog.ErrorContext(ctx, "a secret could not be loaded at init; it is tried again on use", "secret", k.ID(), "error", err)
	}
	return k
}
