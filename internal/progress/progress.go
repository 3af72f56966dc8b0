// Package progress draws one line on a terminal while a run reads its
// directory or writes its store, so that an administrator watching a long
// run sees it move.
package progress

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Progress lines appear only after progressDelay, so that a quick run
// prints none, and are redrawn every progressEvery.
const (
	progressDelay = 500 * time.Millisecond
	progressEvery = 200 * time.Millisecond
)

// On tells whether to draw progress: on a terminal only, never with
// --quiet or JSON logs (a log collector reads standard error then).
func On(quiet bool, logFormat string, stderr io.Writer) bool {
	if quiet || logFormat == "json" {
		return false
	}
	f, ok := stderr.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// Directory wraps the directory so that its read draws a progress line
// on stderr when on is set (see On); otherwise it returns dir itself.
func Directory(dir upnsync.Directory, on bool, stderr io.Writer) upnsync.Directory {
	if !on {
		return dir
	}
	return &progressDirectory{Directory: dir, w: stderr, delay: progressDelay, every: progressEvery}
}

// progressDirectory is a Directory that counts the people its reader
// streams and redraws one line with the count and the rate. It sees
// people, not pages: pages appear in the line that ends the read.
type progressDirectory struct {
	upnsync.Directory
	w            io.Writer
	delay, every time.Duration
}

func (p *progressDirectory) Read(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	var n atomic.Int64
	line := startProgress(p.w, p.delay, p.every, func(elapsed time.Duration) string {
		c := n.Load()
		return fmt.Sprintf("reading %s: %s entries, %s/s", p.Describe(), Thousands(c), Thousands(rate(c, elapsed)))
	})
	res, err := p.Directory.Read(ctx, func(person upnsync.Person) error {
		n.Add(1)
		return fn(person)
	})
	line.stop(func(elapsed time.Duration) string {
		if err != nil {
			return "" // the error says the rest
		}
		return fmt.Sprintf("read %s entries in %s pages in %s (%s/s)", Thousands(int64(res.Entries)), Thousands(int64(res.Pages)),
			elapsed.Round(100*time.Millisecond), Thousands(rate(int64(res.Entries), elapsed)))
	})
	return res, err
}

// LocateGUID passes the lookups of departed people through: without it, a
// run on a terminal would see a directory that cannot look GUIDs up, and
// --remove-departed would keep every departed person's entries.
func (p *progressDirectory) LocateGUID(ctx context.Context, guid string) (upnsync.Whereabouts, error) {
	loc, ok := p.Directory.(upnsync.GUIDLocator)
	if !ok {
		return upnsync.Whereabouts{}, nil // unclassified: never removed
	}
	return loc.LocateGUID(ctx, guid)
}

// Apply is store.Apply with a line that shows an apply is under way when
// on is set. The store applies all changes in one call, so the line can
// tell how many and for how long, not how far it got.
func Apply(ctx context.Context, store upnsync.Store, run upnsync.Run, changes upnsync.Changes, on bool, stderr io.Writer) (upnsync.Applied, error) {
	if !on {
		return store.Apply(ctx, run, changes)
	}
	line := startProgress(stderr, progressDelay, progressEvery, func(elapsed time.Duration) string {
		return fmt.Sprintf("writing %s changes to %s: %s", Thousands(int64(changes.Len())), store.Describe(), elapsed.Round(time.Second))
	})
	a, err := store.Apply(ctx, run, changes)
	line.stop(func(elapsed time.Duration) string {
		if err != nil {
			return ""
		}
		return fmt.Sprintf("wrote %s users in %s", Thousands(int64(len(a.Written))), elapsed.Round(100*time.Millisecond))
	})
	return a, err
}

// progressLine redraws one terminal line from a goroutine until stopped.
type progressLine struct {
	w       io.Writer
	start   time.Time
	done    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	drawn   bool
	lastLen int
}

func startProgress(w io.Writer, delay, every time.Duration, text func(time.Duration) string) *progressLine {
	p := &progressLine{w: w, start: time.Now(), done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		select {
		case <-p.done:
			return
		case <-time.After(delay):
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			p.draw(text(time.Since(p.start)))
			select {
			case <-p.done:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *progressLine) draw(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pad := ""
	if n := p.lastLen - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", s, pad)
	p.drawn, p.lastLen = true, len(s)
}

// stop ends the line: when progress was drawn, it is replaced by the final
// text (or cleared when that is empty), so that what follows starts on a
// clean line. A run too quick to draw anything prints nothing.
func (p *progressLine) stop(final func(time.Duration) string) {
	close(p.done)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.drawn {
		return
	}
	s := final(time.Since(p.start))
	pad := ""
	if n := p.lastLen - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	if s == "" {
		fmt.Fprintf(p.w, "\r%s\r", pad)
		return
	}
	fmt.Fprintf(p.w, "\r%s%s\n", s, pad)
}

func rate(n int64, elapsed time.Duration) int64 {
	if elapsed <= 0 {
		return 0
	}
	return int64(float64(n) / elapsed.Seconds())
}

// Thousands writes 1234567 as 1,234,567.
func Thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + Thousands(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
