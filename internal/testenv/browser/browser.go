// Package browser drives a real Chromium for the tests of the HTML
// report: headless, from a fresh profile, with no network of its own,
// opening pages from files as a reviewer would. The browser is found by
// testenv.Chromium (skipped without one, a failure with CI=true).
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/upnsync/upnsync/internal/testenv"
)

// Tab is one headless Chromium tab, with what its pages wrote to the
// console and, in window.__csp, the Content-Security-Policy violations
// each page saw.
type Tab struct {
	// Ctx is the tab's chromedp context, for chromedp.Run and Do.
	Ctx     context.Context
	mu      sync.Mutex
	console []string
}

// New starts Chromium with the flags that work on a machine with no
// network (no background connections, no component updates) and a fresh
// profile, removed when the test ends.
func New(t *testing.T) *Tab {
	t.Helper()
	exe := testenv.Chromium(t)
	profile, err := os.MkdirTemp("", "upnsync-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helpers may still write there for a moment after it ends.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	b := &Tab{Ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m.String())
			b.mu.Unlock()
		}
	}()
	// Record CSP violations as the page sees them (a script added this way
	// is the browser's, not the page's: the page's policy does not apply).
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) { window.__csp.push(e.violatedDirective + " " + e.blockedURI); });
new MutationObserver(function (_, o) {
	if (document.documentElement && document.documentElement.hasAttribute("data-ready")) { window.__readyAt = performance.now(); o.disconnect(); }
}).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-ready"] });`,
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// Open writes html to a file, opens it and waits until the report's
// script has rendered its lists; it returns the file's path.
func (b *Tab) Open(t *testing.T, html string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, []byte(html), 0o600); err != nil {
		t.Fatal(err)
	}
	b.Navigate(t, path)
	return path
}

// Navigate opens the page at path and waits until the report's script has
// rendered its lists (html[data-ready]).
func (b *Tab) Navigate(t *testing.T, path string) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	// A page whose script does not run never gets ready: a minute is ample
	// for 100,000 changes on a slow machine.
	ctx, cancel := context.WithTimeout(b.Ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+filepath.ToSlash(abs)),
		chromedp.WaitReady(chromedp.CSS("html[data-ready]"))); err != nil {
		t.Fatalf("opening %s: %v (console: %v)", path, err, b.Messages())
	}
}

// Messages are what the pages wrote to the console so far.
func (b *Tab) Messages() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](t *testing.T, b *Tab, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// WaitFor polls a JavaScript condition for up to five seconds.
func WaitFor(t *testing.T, b *Tab, js string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if Eval[bool](t, b, js) {
			return
		}
	}
	t.Fatalf("still false after 5 s: %s", js)
}

// Counts are the numbers the report's page shows: each summary card's
// count ("changes", "conflicts", "read"...), the conflicts by kind in the
// conflicts card and in the tables, and the rows each other table holds.
type Counts struct {
	Cards, ConflictCards, ConflictTables, Rows map[string]int
}

// CountsOf reads Counts from the page open in b.
func CountsOf(t *testing.T, b *Tab) Counts {
	t.Helper()
	return Counts{
		Cards: Eval[map[string]int](t, b, `Object.fromEntries([...document.querySelectorAll("[data-card]")].map(
			c => [c.dataset.card, Number(c.querySelector(".n").textContent.replace(/,/g, ""))]))`),
		ConflictCards: Eval[map[string]int](t, b, `Object.fromEntries([...document.querySelectorAll("[data-card=conflicts] [data-part]")].map(
			p => [p.dataset.part, Number(p.textContent.replace(/,/g, ""))]))`),
		ConflictTables: Eval[map[string]int](t, b, `Object.fromEntries([...document.querySelectorAll("[data-list=conflicts]")].map(
			h => [h.dataset.kind, Number(h.dataset.rows)]))`),
		Rows: Eval[map[string]int](t, b, `Object.fromEntries([...document.querySelectorAll("[data-list]:not([data-list=conflicts])")].map(
			h => [h.dataset.list, Number(h.dataset.rows)]))`),
	}
}

// CountsOfJSON are the Counts the page of a JSON report (--report json)
// must show: its summary, its conflicts by kind and the length of each
// list.
func CountsOfJSON(t *testing.T, report []byte) Counts {
	t.Helper()
	var r struct {
		Summary map[string]int
		Read    struct {
			StoreUsers int `json:"store_users"`
		}
		Changes, Conflicts, Unmatched, Skipped, Departures []map[string]any
	}
	if err := json.Unmarshal(report, &r); err != nil {
		t.Fatalf("not a JSON report: %v", err)
	}
	byKind := map[string]int{}
	for _, c := range r.Conflicts {
		reason, _ := c["reason"].(string)
		byKind[reason]++
	}
	// A list with no rows has no table, only a sentence saying so.
	rows := map[string]int{}
	for name, list := range map[string][]map[string]any{"changes": r.Changes, "unmatched": r.Unmatched, "skipped": r.Skipped, "departures": r.Departures} {
		if len(list) > 0 {
			rows[name] = len(list)
		}
	}
	return Counts{
		Cards: map[string]int{"changes": r.Summary["changes"], "conflicts": r.Summary["conflicts"], "unmatched": r.Summary["unmatched"],
			"skipped": r.Summary["skipped"], "departed": r.Summary["departed"], "read": r.Summary["read"],
			"matched": r.Summary["matched"], "unchanged": r.Summary["unchanged"], "store_users": r.Read.StoreUsers},
		ConflictCards: byKind, ConflictTables: byKind,
		Rows: rows,
	}
}

// Equal tells whether two Counts are the same numbers.
func (c Counts) Equal(o Counts) bool { return fmt.Sprint(c) == fmt.Sprint(o) }
