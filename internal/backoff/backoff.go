// Package backoff spaces out retries: each pause twice the one before,
// capped, and jittered so that clients that failed together (every
// scheduled task of a site when a domain controller restarts) do not come
// back together.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// DefaultMax caps a pause when Policy.Max is zero.
const DefaultMax = time.Minute

// Policy says how long to wait before each retry.
type Policy struct {
	// Base is the pause before the first retry, before jitter.
	Base time.Duration
	// Max caps every pause (DefaultMax when zero; never below Base).
	Max time.Duration
	// Rand returns a number in [0, 1); nil uses math/rand/v2. Tests set it.
	Rand func() float64
}

// Delay is the pause before retry n (1 for the first): Base·2^(n-1),
// capped, then a random point in the upper half of that ("equal jitter"):
// never less than half the pause, so the back-off still grows.
func (p Policy) Delay(n int) time.Duration {
	if p.Base <= 0 || n <= 0 {
		return 0
	}
	limit := p.Max
	if limit <= 0 {
		limit = DefaultMax
	}
	limit = max(limit, p.Base)
	d := p.Base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}
	half := d / 2
	return half + time.Duration(r()*float64(d-half))
}

// Wait pauses for d, or less when ctx ends first, and then returns
// ctx.Err().
func Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
