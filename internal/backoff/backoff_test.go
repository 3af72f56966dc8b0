package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayDoublesCapsAndJitters(t *testing.T) {
	p := Policy{Base: time.Second, Max: 5 * time.Second}
	for _, tt := range []struct {
		n      int
		r      float64
		want   time.Duration
		reason string
	}{
		{1, 0, 500 * time.Millisecond, "lowest jitter is half the pause"},
		{1, 0.999999999, time.Second, "highest jitter is the whole pause"},
		{2, 0, time.Second, "the second pause doubles"},
		{3, 0.5, 3 * time.Second, "the third is 4 s, jittered to its middle"},
		{4, 0, 2500 * time.Millisecond, "8 s capped at 5 s"},
		{60, 0, 2500 * time.Millisecond, "no overflow far out"},
		{0, 0, 0, "no retry, no pause"},
	} {
		p.Rand = func() float64 { return tt.r }
		if got := p.Delay(tt.n); got.Round(time.Millisecond) != tt.want {
			t.Errorf("Delay(%d) with rand %v = %v, want %v: %s", tt.n, tt.r, got, tt.want, tt.reason)
		}
	}
}

func TestDelayDefaults(t *testing.T) {
	p := Policy{Base: 10 * time.Second, Rand: func() float64 { return 0.9999999 }}
	if got := p.Delay(10).Round(time.Second); got != DefaultMax {
		t.Errorf("uncapped policy: %v, want the default cap %v", got, DefaultMax)
	}
	p = Policy{Base: 2 * time.Minute, Max: time.Second, Rand: func() float64 { return 0.9999999 }}
	if got := p.Delay(1).Round(time.Second); got != 2*time.Minute {
		t.Errorf("a cap below the base: %v, want the base", got)
	}
	if got := (Policy{}).Delay(3); got != 0 {
		t.Errorf("zero policy: %v", got)
	}
}

// The real random source stays within the bounds.
func TestDelayRandomBounds(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond}
	for range 1000 {
		if d := p.Delay(3); d < 200*time.Millisecond || d > 400*time.Millisecond {
			t.Fatalf("Delay(3) = %v, want within [200ms, 400ms]", d)
		}
	}
}

func TestWaitStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Wait(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on a cancelled context: %v", err)
	}
	if err := Wait(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
