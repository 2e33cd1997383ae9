package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/acme/purchase-transfer/internal/auth"
	svcconfig "github.com/acme/purchase-transfer/internal/config"
	"github.com/acme/purchase-transfer/internal/transfer"
)

func newTokenCommand(a *app) *cobra.Command {
	var (
		publisherFlag int64
		customer      int64
		ttl           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token --customer ID [--publisher ID] [--ttl 1h]",
		Short: "DEVELOPMENT AID: mint a customer JWT (HS256) for a local secret",
		Long: `DEVELOPMENT AID, not an operator tool: mint a customer JWT signed with HS256,
as a customer's app would present it in "Authorization: Bearer <JWT>".

The key is read from the Secrets Manager secret JWT_HS256_SECRET_ID names, as
the functions read it: the one ` + "`make run`" + ` made in its moto (with --local), the
stack's JwtHs256SecretId (with --stack), or set in the environment. In production customer JWTs come from the publisher's own
identity provider; this command exists to try the API and to test.

--ttl is at most the longest lifetime the service accepts (exp - iat): 24h, or
JWT_MAX_LIFETIME_SECONDS when the environment or --local's file sets it as
the functions' configuration does; a longer one would mint a JWT the API
refuses (401), so it is refused here.

The JWT is printed alone on standard output, so it can be captured:
  JWT=$(transferctl --local token --customer 900000002)`,
		Example: `  transferctl --local token --customer 900000002
  curl -s "$API_URL/purchases/synchronizations/my-first-transfer" -H "Authorization: Bearer $(transferctl --local token --customer 900000003)"`,
		Args: args(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if customer <= 0 {
				return usage("--customer is required: a positive cleengCustomerId")
			}
			if ttl <= 0 {
				return usage("--ttl must be positive")
			}
			ctx := cmd.Context()
			p, err := a.publisher(ctx, publisherFlag)
			if err != nil {
				return err
			}
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			longest, err := maxJWTLifetime(c)
			if err != nil {
				return err
			}
			if ttl > longest {
				return usage("--ttl %s is longer than the %s the service accepts (exp - iat, %s): the API would refuse the JWT", ttl, longest, settingJWTMaxLifetime)
			}
			secret, err := c.secretKey(ctx, settingJWTSecretID, auth.DecodeHS256Key)
			if err != nil {
				return err
			}
			jwt, err := auth.MintHS256(secret, p, transfer.CustomerID(customer), ttl)
			if err != nil {
				return fmt.Errorf("sign: %w", err)
			}
			if a.jsonOutput {
				return a.printJSON(map[string]any{"jwt": jwt, "publisherId": p, "customerId": customer, "expiresAt": time.Now().Add(ttl).UTC()})
			}
			fmt.Fprintf(a.stderr, "Development aid: HS256 JWT of customer %d of publisher %d, valid for %s.\n", customer, p, ttl)
			a.out("%s", jwt)
			return nil
		},
	}
	a.publisherFlag(cmd, &publisherFlag)
	cmd.Flags().Int64Var(&customer, "customer", 0, "the customer's cleengCustomerId (`ID`)")
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the JWT is valid")
	return cmd
}

// settingJWTMaxLifetime is the functions' variable for the longest JWT
// lifetime they accept, in seconds.
const settingJWTMaxLifetime = "JWT_MAX_LIFETIME_SECONDS"

// maxJWTLifetime is the longest lifetime the service accepts, read as the
// functions read it: the setting when one is known (--local's file, the
// environment), auth.DefaultMaxLifetime otherwise.
func maxJWTLifetime(c *connection) (time.Duration, error) {
	d, err := svcconfig.JWTMaxLifetime(c.setting)
	if err != nil {
		return 0, usage("%v", err)
	}
	return d, nil
}
