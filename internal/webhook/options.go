package webhook

import "time"

// ClockOption sets the clock of a Deliverer, a Dispatcher or a Redispatcher.
type ClockOption func() time.Time

func (c ClockOption) applyDeliverer(d *Deliverer)       { d.now = c }
func (c ClockOption) applyDispatcher(d *Dispatcher)     { d.now = c }
func (c ClockOption) applyRedispatcher(r *Redispatcher) { r.now = c }

// WithClock reads the time from now instead of time.Now (nil keeps
// time.Now).
func WithClock(now func() time.Time) ClockOption {
	if now == nil {
		now = time.Now
	}
	return ClockOption(now)
}
