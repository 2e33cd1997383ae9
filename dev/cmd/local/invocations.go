package main

import (
	"time"

	"github.com/acme/purchase-transfer/dev/localaws"
)

// timeouts are the template's function Timeouts, by logical id. The runner
// gives each invocation the deadline Lambda would give it; the handlers then
// keep their margin to answer within it (internal/deadline), as in AWS.
type timeouts map[string]time.Duration

func functionTimeouts(s *localaws.Stack) timeouts { return s.FunctionTimeouts() }
