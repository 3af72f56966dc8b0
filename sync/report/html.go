package report

// The HTML report: one self-contained file for the people who review a
// dry run before --apply (a change board, a colleague), opened from a file
// share or an e-mail attachment, printed, or read with the keyboard.
//
// How it is built, and why:
//   - The header (the run, its directory, store, read and guards) and the
//     summary cards are rendered here with html/template: they are on the
//     first screen at once, and printing and a browser without script
//     still show them.
//   - The lists (a first rollout plans tens of thousands of changes) are
//     not HTML: the page carries the JSON report itself as a data block
//     (<script type="application/json">, written by the JSON report's own
//     streaming code with <, >, &, U+2028 and U+2029 escaped so that no
//     value can end the block), and a small inline script (html/report.js)
//     renders one page of rows at a time, with a filter and sorting. Rows
//     as HTML would be several times the JSON's size and freeze the tab at
//     100,000 changes; the JSON in compact form is smaller than the JSON
//     report, and parsing it takes well under a second.
//   - The script builds every cell with textContent, never innerHTML, and
//     makes no link from data: a UPN, name or DN is text whatever it holds.
//   - A Content-Security-Policy meta allows nothing but that one script and
//     that one stylesheet, by their SHA-256: no network, no inline event
//     handler, no injected script, even if a value did become markup.
//   - Values are shown as the text report shows them (safe.go): control
//     characters and bidirectional overrides escaped (\u202e), so that a
//     name cannot disguise itself on the reviewer's screen either.

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
)

//go:embed html/report.css html/report.js html/report.html.tmpl
var htmlAssets embed.FS

// The page's stylesheet and script, exactly as embedded in the page, and
// the Content-Security-Policy that allows those two only.
var (
	htmlStyle  = mustAsset("html/report.css")
	htmlScript = mustAsset("html/report.js")
	htmlCSP    = "default-src 'none'; script-src " + cspHash(htmlScript) + "; style-src " + cspHash(htmlStyle) +
		"; img-src 'none'; base-uri 'none'; form-action 'none'"
	htmlPage = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
		"num":  formatCount,
		"dict": templateDict,
	}).ParseFS(htmlAssets, "html/report.html.tmpl"))
)

// htmlDataID is the id of the data block the script reads.
const htmlDataID = "upnsync-data"

func mustAsset(name string) string {
	b, err := htmlAssets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// HTML writes the report as one self-contained HTML page.
func HTML(out io.Writer, plan *upnsync.Plan, meta Meta) error {
	plan, meta = forTerminal(plan, meta)
	view := htmlViewOf(plan, meta)
	if err := htmlPage.ExecuteTemplate(out, "head", view); err != nil {
		return err
	}
	if _, err := io.WriteString(out, `<script type="application/json" id="`+htmlDataID+`">`); err != nil {
		return err
	}
	r, lists := jsonOf(plan, meta)
	if err := streamJSON(out, r, lists, jsonInHTML); err != nil {
		return err
	}
	if _, err := io.WriteString(out, "</script>\n"); err != nil {
		return err
	}
	return htmlPage.ExecuteTemplate(out, "tail", view)
}

// htmlView is what the template renders on the server side.
type htmlView struct {
	Title, Subtitle string
	Apply           bool
	CSP             string
	Style           template.CSS
	Script          template.JS
	Banners         []htmlBanner
	Facts           []htmlFact
	Cards, Context  []htmlCard
	Guards          []htmlGuard
	Tripped         []string
	Closing         string
	Notes           []string
	NextSteps       []string

	Changes, Unmatched, Skipped, Departures, Stale htmlList
	Pinned                                         htmlList
	Conflicts                                      htmlList
	ConflictGroups                                 []htmlGroup
	MatchKinds, DepartureKinds                     []Explanation
}

// htmlList is one list: how many it stands for, and how many the page
// holds (a plan may count more than it lists; a saved plan lists only its
// changes and departures).
type htmlList struct{ Count, Listed int }

// NotListed is how many are counted but not in the page.
func (l htmlList) NotListed() int { return max(0, l.Count-l.Listed) }

type htmlGroup struct {
	Explanation
	Count int
}

type htmlBanner struct{ Class, Title, Text string }

type htmlFact struct {
	Label string
	Lines []string
	Warn  bool
}

type htmlCard struct {
	Key, Label, Href string
	Count            int
	Warn             bool
	Parts            []htmlPart
}

type htmlPart struct {
	Label string
	Count int
}

type htmlGuard struct {
	Name, Option, Threshold, Plan, State string
	Tripped                              bool
}

func htmlViewOf(plan *upnsync.Plan, meta Meta) *htmlView {
	st := plan.Stats
	v := &htmlView{
		Title: "upnsync dry run", Subtitle: "Nothing was written. This is what an apply would change.",
		CSP: htmlCSP, Style: template.CSS(htmlStyle), Script: template.JS(htmlScript),
		Closing: closing(plan, meta), Notes: meta.Notes, NextSteps: meta.NextSteps,
		Changes:    htmlList{max(st.Changes, plan.Changes.Len()), plan.Changes.Len()},
		Conflicts:  htmlList{max(st.Conflicts, len(plan.Conflicts)), len(plan.Conflicts)},
		Unmatched:  htmlList{unmatchedCount(plan), len(plan.Unmatched)},
		Skipped:    htmlList{skippedCount(plan), len(plan.Skipped)},
		Departures: htmlList{max(st.Departed, len(plan.Departures)), len(plan.Departures)},
		Pinned:     htmlList{pinnedCount(plan), len(plan.PinnedMissing)},
		MatchKinds: MatchKinds,
	}
	if meta.Mode == ModeApply {
		v.Title, v.Subtitle, v.Apply = "upnsync apply", "What this run wrote, and what it left alone.", true
	}
	if meta.Applied != nil {
		v.Stale = htmlList{len(meta.Applied.Stale), len(meta.Applied.Stale)}
	}
	if meta.Stopped != "" {
		v.Subtitle = "The run stopped before writing anything. This is what it would have changed."
		v.Banners = append(v.Banners, htmlBanner{"stop", "Stopped before writing anything", meta.Stopped})
	}
	if !plan.Read.Complete {
		v.Banners = append(v.Banners, htmlBanner{"stop", "The directory read is not complete",
			strings.TrimPrefix(readLine(&plan.Read), "INCOMPLETE: ") +
				". Nothing is written, replaced or removed after such a read."})
	}
	if meta.Forced && len(meta.Guards) > 0 {
		v.Banners = append(v.Banners, htmlBanner{"warn", "Safety guards let through by --force",
			"This plan trips the guards below; --force let the run through them."})
	}
	v.Facts = htmlFacts(plan, meta)
	v.ConflictGroups = conflictGroups(plan.Conflicts)
	v.Cards, v.Context = htmlCards(plan, v)
	v.Guards, v.Tripped = htmlGuards(plan, meta)
	seen := map[string]bool{}
	for _, d := range plan.Departures {
		k := string(d.Reason)
		if k == "" {
			k = "unknown"
		}
		if !seen[k] {
			seen[k] = true
			v.DepartureKinds = append(v.DepartureKinds, Explain(DepartureKinds, k))
		}
	}
	return v
}

func htmlFacts(plan *upnsync.Plan, meta Meta) []htmlFact {
	var facts []htmlFact
	add := func(label string, warn bool, lines ...string) {
		if len(lines) > 0 && lines[0] != "" {
			facts = append(facts, htmlFact{label, lines, warn})
		}
	}
	mode := "Dry run (nothing written)"
	if meta.Mode == ModeApply {
		mode = "Apply"
	}
	add("Mode", false, mode)
	add("Run id", false, runID(meta))
	if !meta.Started.IsZero() {
		when := meta.Started.UTC().Format("2006-01-02 15:04:05 UTC")
		if !meta.Finished.IsZero() {
			when += " (" + meta.Finished.Sub(meta.Started).Round(time.Second).String() + ")"
		}
		add("Time", false, when)
	}
	if meta.Source != "" {
		add("Source", false, meta.Source)
	} else {
		add("Directory", false, withKind(meta.Directory, meta.DirectoryKind))
	}
	add("Read", !plan.Read.Complete, readLine(&plan.Read))
	if m := meta.Read; m != nil {
		add("Read mode", false, readModeLine(m))
	}
	var bases []string
	for _, b := range plan.Read.Bases {
		s := fmt.Sprintf("%s: %s, %s", baseName(b.Base), plural(b.Entries, "entry"), plural(b.Pages, "page"))
		if b.Referrals > 0 {
			s += ", " + plural(b.Referrals, "referral") + " skipped"
		}
		bases = append(bases, s)
	}
	add("Search bases", false, bases...)
	add("Store", false, withKind(meta.Store, meta.StoreKind)+fmt.Sprintf(" (%s)", plural(plan.Stats.StoreUsers, "user")))
	add("Mapping file", false, meta.MappingFile)
	add("NetBIOS name", false, NetBIOSText(meta))
	return facts
}

func withKind(s, kind string) string {
	if s == "" || kind == "" || strings.HasPrefix(s, kind+":") || strings.HasPrefix(s, kind+"s:") {
		return s
	}
	return s + " [" + kind + "]"
}

// conflictGroups are the kinds of conflict in the plan: the known ones in
// ConflictKinds' order, then any other in order of appearance.
func conflictGroups(conflicts []upnsync.Conflict) []htmlGroup {
	count := map[string]int{}
	var order []string
	for _, c := range conflicts {
		if count[c.Reason] == 0 {
			order = append(order, c.Reason)
		}
		count[c.Reason]++
	}
	var groups []htmlGroup
	for _, k := range ConflictKinds {
		if n := count[k.Kind]; n > 0 {
			groups = append(groups, htmlGroup{k, n})
			delete(count, k.Kind)
		}
	}
	for _, r := range order {
		if n, ok := count[r]; ok {
			groups = append(groups, htmlGroup{Explain(ConflictKinds, r), n})
		}
	}
	return groups
}

// htmlCards are the summary's cards: what needs a look, then the counts
// that put them in context.
func htmlCards(plan *upnsync.Plan, v *htmlView) ([]htmlCard, []htmlCard) {
	st := plan.Stats
	cards := []htmlCard{
		{Key: "changes", Label: "Changes", Href: "#changes", Count: v.Changes.Count},
		{Key: "conflicts", Label: "Conflicts", Href: "#conflicts", Count: v.Conflicts.Count, Warn: v.Conflicts.Count > 0},
		{Key: "unmatched", Label: "Unmatched", Href: "#unmatched", Count: v.Unmatched.Count},
		{Key: "skipped", Label: "Skipped", Href: "#skipped", Count: v.Skipped.Count},
		{Key: "departed", Label: "Departed", Href: "#departures", Count: v.Departures.Count,
			Parts: []htmlPart{{removalsLabel(st.Removals, v.Apply), st.Removals}}, Warn: st.Removals > 0},
	}
	if st.NotFound > 0 {
		// Kept: not visible to the account, or deleted and purged.
		cards[4].Parts = append(cards[4].Parts, htmlPart{"not found (kept)", st.NotFound})
		cards[4].Warn = true
	}
	for _, g := range v.ConflictGroups {
		cards[1].Parts = append(cards[1].Parts, htmlPart{g.Kind, g.Count})
	}
	var rules []htmlPart
	for _, k := range MatchKinds {
		if n := st.ByRule[upnsync.MatchRule(k.Kind)]; n > 0 {
			rules = append(rules, htmlPart{"by " + k.Kind, n})
		}
	}
	return cards, []htmlCard{
		{Key: "read", Label: "Read", Count: st.Read},
		{Key: "matched", Label: "Matched", Count: st.Matched, Parts: rules},
		{Key: "unchanged", Label: "Unchanged", Count: st.Unchanged},
		{Key: "store_users", Label: "Octopus users", Count: st.StoreUsers}}
}

// removalsLabel follows the count of entries of departed people removed.
func removalsLabel(n int, applied bool) string {
	noun := strings.TrimPrefix(plural(n, "entry"), strconv.Itoa(n)+" ")
	if applied {
		return noun + " removed"
	}
	return noun + " to remove"
}

// htmlGuards lists each guard with its threshold (when the run's limits
// are known) and what this plan counts, and the messages of those it trips.
func htmlGuards(plan *upnsync.Plan, meta Meta) ([]htmlGuard, []string) {
	tripped := map[string]upnsync.GuardStop{}
	var msgs []string
	for _, g := range meta.Guards {
		tripped[g.Guard] = g
		msgs = append(msgs, g.Message)
	}
	if meta.Limits == nil && len(meta.Guards) == 0 {
		return nil, nil
	}
	changes, removals, users := plan.Changes.Len(), plan.Stats.Removals, plan.Stats.StoreUsers
	pct := func(n int) string {
		if users == 0 {
			return strconv.Itoa(n)
		}
		return fmt.Sprintf("%d (%s%%)", n, strconv.FormatFloat(100*float64(n)/float64(users), 'f', 1, 64))
	}
	type def struct {
		name, option string
		limit        func(upnsync.Limits) (float64, bool)
		percent      bool
		plan         string
	}
	defs := []def{
		{upnsync.GuardMaxChanges, "--max-changes", func(l upnsync.Limits) (float64, bool) { return float64(l.MaxChanges), l.MaxChanges >= 0 }, false, strconv.Itoa(changes)},
		{upnsync.GuardMaxChangePercent, "--max-change-percent", func(l upnsync.Limits) (float64, bool) { return l.MaxChangePercent, l.MaxChangePercent >= 0 }, true, pct(changes)},
		{upnsync.GuardMaxRemovals, "--max-removals", func(l upnsync.Limits) (float64, bool) { return float64(l.MaxRemovals), l.MaxRemovals >= 0 }, false, strconv.Itoa(removals)},
		{upnsync.GuardMaxRemovalPercent, "--max-removal-percent", func(l upnsync.Limits) (float64, bool) { return l.MaxRemovalPercent, l.MaxRemovalPercent >= 0 }, true, pct(removals)},
		{upnsync.GuardMaxReadDrop, "--max-read-drop", func(l upnsync.Limits) (float64, bool) { return l.MaxReadDrop, l.MaxReadDrop >= 0 }, true, readDrop(meta)},
	}
	var rows []htmlGuard
	for _, d := range defs {
		g := htmlGuard{Name: d.name, Option: d.option, Plan: d.plan, Threshold: "not known", State: "not known"}
		if meta.Limits != nil {
			if n, on := d.limit(*meta.Limits); on {
				g.Threshold, g.State = strconv.FormatFloat(n, 'f', -1, 64), "within"
				if d.percent {
					g.Threshold += "%"
				}
			} else {
				g.Threshold, g.State = "off", "off"
			}
		}
		if t, ok := tripped[d.name]; ok {
			g.Tripped, g.State = true, "tripped"
			if meta.Forced {
				g.State = "tripped, let through by --force"
			}
			if g.Threshold == "not known" {
				g.Threshold = strconv.Itoa(t.Threshold)
			}
		}
		rows = append(rows, g)
	}
	return rows, msgs
}

// readDrop is what the plan counts for G7: the largest drop of a base
// when the guard tripped; a plan does not keep the last read's counts.
func readDrop(meta Meta) string {
	drop := -1
	for _, g := range meta.Guards {
		if g.Guard == upnsync.GuardMaxReadDrop {
			drop = max(drop, g.Count)
		}
	}
	if drop < 0 {
		return "within"
	}
	return strconv.Itoa(drop) + " fewer people in a base"
}

// formatCount writes n with thousands separators: 100,000.
func formatCount(n int) string {
	if n < 0 {
		return "-" + formatCount(-n)
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// templateDict makes a map of its key, value arguments, for a template
// that takes several.
func templateDict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
