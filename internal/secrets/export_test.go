package secrets

import "time"

// SetClock makes k read the time from now, so that tests move past a TTL
// without waiting for it.
func SetClock(k *Keys, now func() time.Time) { k.now = now }
