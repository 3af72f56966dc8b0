package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

// referenceJSON is the report as one encoding of the whole value, as JSON
// wrote it before the lists were streamed.
func referenceJSON(t *testing.T, plan *upnsync.Plan, meta Meta) string {
	t.Helper()
	var buf bytes.Buffer
	if err := JSON(&buf, &upnsync.Plan{Read: plan.Read, Stats: plan.Stats}, meta); err != nil {
		t.Fatal(err)
	}
	var r jsonReport
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	r.UnmatchedNotListed = unmatchedCount(plan) - len(plan.Unmatched)
	r.SkippedNotListed = skippedCount(plan) - len(plan.Skipped)
	for _, c := range plan.Changes.All() {
		r.Changes = append(r.Changes, changeJSON(&c))
	}
	for i := range plan.Conflicts {
		r.Conflicts = append(r.Conflicts, conflictJSON(&plan.Conflicts[i]))
	}
	for _, p := range plan.Unmatched {
		r.Unmatched = append(r.Unmatched, jsonPerson{DN: p.DN, UPN: p.UPN, GUID: p.GUID})
	}
	for _, s := range plan.Skipped {
		r.Skipped = append(r.Skipped, jsonSkip(s))
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestJSONStreamed: the streamed report is byte for byte the encoding of
// the whole value, lists empty or full, values with quotes, newlines,
// HTML characters and the list markers themselves.
func TestJSONStreamed(t *testing.T) {
	big := &upnsync.Plan{Read: upnsync.ReadResult{Complete: true, Pages: 3, Entries: 2000,
		Bases: []upnsync.BaseCount{{Base: "DC=corp", Entries: 2000, Pages: 3}}}}
	for i := 0; i < 2000; i++ {
		dn := fmt.Sprintf("CN=R&D <%d> \"x\",OU=\\n  \"changes\": [],DC=corp", i)
		switch i % 4 {
		case 0:
			big.Changes.Append(upnsync.Change{UserID: fmt.Sprint(i), UserName: "Ann\nO'Neil",
				Match: upnsync.MatchEmail, Before: "a", After: "a;b@x", Added: []string{"b@x"}, Person: upnsync.Person{DN: dn, UPN: "b@x", GUID: "g"}})
		case 1:
			big.Conflicts = append(big.Conflicts, upnsync.Conflict{Reason: upnsync.ConflictDuplicateUPN, UPN: "u@x",
				Users: []string{"1"}, People: []string{dn, "\u2028"}, Detail: "d"})
		case 2:
			big.Unmatched = append(big.Unmatched, upnsync.Person{DN: dn, UPN: "n@x"})
		default:
			big.Skipped = append(big.Skipped, upnsync.Skip{DN: dn, Reason: "no userPrincipalName"})
		}
	}
	limited := *big
	limited.Stats.Unmatched, limited.Stats.Skipped = 900, 700
	meta := sampleMeta()
	meta.Applied = &upnsync.Applied{RunID: "r1", Written: []string{"1"}, Stale: []upnsync.Stale{{UserID: "2", Expected: "a", Found: "b"}}}
	for name, plan := range map[string]*upnsync.Plan{"sample": samplePlan(), "empty": {}, "big": big, "not all listed": &limited,
		"big, in blocks": big} {
		t.Run(name, func(t *testing.T) {
			if strings.HasSuffix(name, "in blocks") {
				// Every list through encodeBlocks, in blocks of 7 items,
				// on at least two goroutines.
				defer func(items, block, procs int) {
					jsonParallelItems, jsonBlock = items, block
					runtime.GOMAXPROCS(procs)
				}(jsonParallelItems, jsonBlock, runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
				jsonParallelItems, jsonBlock = 1, 7
			}
			var got bytes.Buffer
			if err := JSON(&got, plan, meta); err != nil {
				t.Fatal(err)
			}
			if want := referenceJSON(t, plan, meta); got.String() != want {
				i := 0
				for i < len(want) && i < got.Len() && want[i] == got.String()[i] {
					i++
				}
				t.Fatalf("streamed JSON differs at byte %d:\n%q\nwant\n%q", i, got.String()[max(0, i-80):min(got.Len(), i+80)], want[max(0, i-80):min(len(want), i+80)])
			}
			if name == "not all listed" && (!strings.Contains(got.String(), `"unmatched_not_listed": 400`) || !strings.Contains(got.String(), `"skipped_not_listed": 200`)) {
				t.Errorf("counts of people not listed missing")
			}
		})
	}
}

// TestNotListed: people a plan counts but does not list are said so by
// every report.
func TestNotListed(t *testing.T) {
	plan := &upnsync.Plan{Read: upnsync.ReadResult{Complete: true}}
	for i := 0; i < 150; i++ {
		plan.Unmatched = append(plan.Unmatched, upnsync.Person{DN: fmt.Sprintf("CN=%d", i)})
	}
	plan.Skipped = []upnsync.Skip{{DN: "CN=s", Reason: "r"}}
	plan.Stats.Unmatched, plan.Stats.Skipped = 1150, 21
	tests := []struct{ format, want string }{
		{"text", "Unmatched directory users (no Octopus user found): 1150\n"},
		{"text", "  ... and 1050 more (the JSON and CSV reports list 50 of them; the other 1000 are only counted)\n"},
		{"text", "Skipped: 21\n  CN=s: r\n  ... and 20 more (only counted: a plan lists at most 1)\n"},
		{"csv", "not-listed,,,,,,,,,unmatched,1000 more unmatched directory users are counted but not listed"},
		{"csv", "not-listed,,,,,,,,,skipped,20 more skipped directory users are counted but not listed"},
		{"json", `"unmatched_not_listed": 1000,`},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := Write(&b, tt.format, plan, sampleMeta()); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("%s report lacks %q:\n%s", tt.format, tt.want, b.String())
		}
	}
	// All listed: the usual words.
	plan.Stats.Unmatched, plan.Stats.Skipped = 150, 1
	var b bytes.Buffer
	Write(&b, "text", plan, sampleMeta())
	if !strings.Contains(b.String(), "... and 50 more (the JSON and CSV reports list them all)") || strings.Contains(b.String(), "not_listed") {
		t.Errorf("text report:\n%s", b.String())
	}
}

// The items as json.go's structs give them, for encoding/json to encode.

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func changeJSON(c *upnsync.Change) jsonChange {
	return jsonChange{
		UserID: c.UserID, Name: c.UserName, ExternalID: c.ExternalID, Match: string(c.Match),
		Before: c.Before, After: c.After, Added: nonNil(c.Added), Replaced: nonNil(c.Replaced),
		DN: c.Person.DN, UPN: c.Person.UPN, GUID: c.Person.GUID,
		Removed: nonNil(c.Removed), Departed: string(c.Departed), Notes: c.Notes,
	}
}

func departureJSON(d *upnsync.Departure) jsonDeparture {
	jd := jsonDeparture{GUID: d.GUID, Reason: departureReason(d.Reason), DN: d.DN, Detail: d.Detail,
		Entries: make([]jsonDepartedItem, 0, len(d.Entries)), Removed: d.Removed, Kept: d.Kept}
	for _, e := range d.Entries {
		jd.Entries = append(jd.Entries, jsonDepartedItem{UserID: e.UserID, Name: e.UserName, Entry: e.Entry})
	}
	return jd
}

func conflictJSON(c *upnsync.Conflict) jsonConfl {
	return jsonConfl{Reason: c.Reason, UPN: c.UPN, Users: nonNil(c.Users), People: nonNil(c.People), Detail: c.Detail}
}

// TestJSONItems: each list item jsonEnc writes is byte for byte what
// encoding/json writes for the item's struct, in both styles (the JSON
// report's indentation inside a list, and the HTML report's one line with
// <, > and & escaped), with lists nil, empty and full and strings that
// need every kind of escape.
func TestJSONItems(t *testing.T) {
	values := []string{"", "plain", `q"uote\back`, "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f", "<script>&amp;", "R&D",
		"\u2028\u2029", "Zoë Müller 芳", "bad\xffutf8\xc3", "emoji 🙂", "OU=\\n  \"changes\": []"}
	r := rand.New(rand.NewPCG(7, 11))
	str := func() string { return values[r.IntN(len(values))] }
	strs := func() []string {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		out := make([]string, 1+r.IntN(3))
		for i := range out {
			out[i] = str()
		}
		return out
	}
	for round := 0; round < 300; round++ {
		c := upnsync.Change{UserID: str(), UserName: str(), ExternalID: str(), Match: upnsync.MatchRule(str()), Before: str(), After: str(),
			Added: strs(), Removed: strs(), Notes: strs(), Departed: upnsync.DepartureReason(str()),
			Person: upnsync.Person{DN: str(), UPN: str(), GUID: str(), SAMAccountName: str()}}
		for range r.IntN(3) {
			c.Replaced = append(c.Replaced, upnsync.Replacement{Old: str(), New: str()})
		}
		if r.IntN(2) == 0 {
			c.Replaced = []upnsync.Replacement{}
		}
		conf := upnsync.Conflict{Reason: str(), UPN: str(), Detail: str(), Users: strs(), People: strs()}
		p := upnsync.Person{DN: str(), UPN: str(), GUID: str()}
		s := upnsync.Skip{DN: str(), Reason: str()}
		d := upnsync.Departure{GUID: str(), Whereabouts: upnsync.Whereabouts{Reason: upnsync.DepartureReason(str()), DN: str(), Detail: str()},
			Removed: r.IntN(2) == 0, Kept: str()}
		for range r.IntN(3) {
			d.Entries = append(d.Entries, upnsync.DepartedEntry{UserID: str(), UserName: str(), Entry: str()})
		}
		items := []struct {
			name string
			enc  func(e *jsonEnc)
			v    any
		}{
			{"change", func(e *jsonEnc) { e.change(&c) }, changeJSON(&c)},
			{"conflict", func(e *jsonEnc) { e.conflict(&conf) }, conflictJSON(&conf)},
			{"person", func(e *jsonEnc) { e.person(&p) }, jsonPerson{DN: p.DN, UPN: p.UPN, GUID: p.GUID}},
			{"skip", func(e *jsonEnc) { e.skip(&s) }, jsonSkip(s)},
			{"departure", func(e *jsonEnc) { e.departure(&d) }, departureJSON(&d)},
		}
		for _, it := range items {
			for _, html := range []bool{false, true} {
				e := &jsonEnc{html: html}
				prefix, indent := "", ""
				if !html {
					e.indent, e.nl = true, []byte("\n    ")
					prefix, indent = "    ", "  "
				}
				it.enc(e)
				want, err := encodeJSON(it.v, prefix, indent, html)
				if err != nil {
					t.Fatal(err)
				}
				if string(e.b) != string(want) {
					t.Fatalf("%s (html %v):\n%s\nwant\n%s", it.name, html, e.b, want)
				}
			}
		}
	}
}

// FuzzJSONString: appendJSONString writes any string as encoding/json
// does, with and without the HTML escapes.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\x00\b\f\n\r\t\x1f\x7f", "<>&", "\u2028\u2029", "\xff\xc3(", "Zoë 芳 🙂"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{false, true} {
			want, err := encodeJSON(s, "", "", html)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendJSONString(nil, s, html); string(got) != string(want) {
				t.Fatalf("%q (html %v): %s, want %s", s, html, got, want)
			}
		}
	})
}

// A write that fails stops the encoding of a list in blocks, and the
// report says why.
func TestJSONBlocksWriteFails(t *testing.T) {
	plan := &upnsync.Plan{}
	for i := range 5000 {
		plan.Changes.Append(upnsync.Change{UserID: fmt.Sprint(i), After: "x"})
	}
	defer func(items, block, procs int) {
		jsonParallelItems, jsonBlock = items, block
		runtime.GOMAXPROCS(procs)
	}(jsonParallelItems, jsonBlock, runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	jsonParallelItems, jsonBlock = 1, 10
	w := &failingWriter{after: 3}
	if err := JSON(w, plan, sampleMeta()); err == nil || err.Error() != "disk full" {
		t.Fatalf("err = %v, want the write's", err)
	}
	if w.writes > 4 {
		t.Errorf("%d writes after the one that failed", w.writes-4)
	}
}

type failingWriter struct{ after, writes int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.writes > w.after {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}
