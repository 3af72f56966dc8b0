package progress

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
)

// slowDirectory streams n people, one every step, as a directory whose
// pages take time would.
type slowDirectory struct {
	n    int
	step time.Duration
	err  error
}

func (d *slowDirectory) Read(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	for i := range d.n {
		time.Sleep(d.step)
		if err := fn(upnsync.Person{UPN: "p" + strconv.Itoa(i) + "@corp.example.com"}); err != nil {
			return upnsync.ReadResult{}, err
		}
	}
	if d.err != nil {
		return upnsync.ReadResult{Entries: d.n}, d.err
	}
	return upnsync.ReadResult{Complete: true, Entries: d.n, Pages: 2}, nil
}
func (d *slowDirectory) Describe() string { return "ldaps://dc1.corp.example.com" }
func (d *slowDirectory) Close() error     { return nil }

// The decorator passes every person through and draws a line that ends
// with the read's count, pages and rate.
func TestProgressDirectoryDrawsAndPassesEverythingThrough(t *testing.T) {
	var buf bytes.Buffer
	p := &progressDirectory{Directory: &slowDirectory{n: 40, step: 2 * time.Millisecond}, w: &buf, delay: 0, every: 5 * time.Millisecond}
	var got int
	res, err := p.Read(context.Background(), func(upnsync.Person) error { got++; return nil })
	if err != nil || got != 40 || !res.Complete || res.Pages != 2 {
		t.Fatalf("read %d, %+v, %v", got, res, err)
	}
	out := buf.String()
	if !strings.Contains(out, "\rreading ldaps://dc1.corp.example.com: ") || !strings.Contains(out, " entries, ") ||
		!strings.Contains(out, "read 40 entries in 2 pages in ") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("progress output %q", out)
	}
}

// A failed read clears the line instead of claiming a result.
func TestProgressClearsTheLineOnError(t *testing.T) {
	var buf bytes.Buffer
	p := &progressDirectory{Directory: &slowDirectory{n: 5, step: 2 * time.Millisecond, err: errors.New("connection lost")}, w: &buf, every: time.Millisecond}
	if _, err := p.Read(context.Background(), func(upnsync.Person) error { return nil }); err == nil {
		t.Fatal("the error was lost")
	}
	if out := buf.String(); strings.Contains(out, "read 5 entries") || !strings.HasSuffix(out, "\r") {
		t.Fatalf("progress output %q", out)
	}
}

// A quick read prints nothing: the line waits for its delay.
func TestProgressSilentForQuickReads(t *testing.T) {
	var buf bytes.Buffer
	p := &progressDirectory{Directory: &slowDirectory{n: 3}, w: &buf, delay: time.Hour, every: time.Millisecond}
	if _, err := p.Read(context.Background(), func(upnsync.Person) error { return nil }); err != nil || buf.Len() != 0 {
		t.Fatalf("%v %q", err, buf.String())
	}
}

// Off when standard error is not a terminal, with --quiet and with JSON logs.
func TestProgressOnlyOnATerminal(t *testing.T) {
	dir := &slowDirectory{}
	var buf bytes.Buffer
	if On(false, "text", &buf) || Directory(dir, false, &buf) != upnsync.Directory(dir) {
		t.Error("progress drawn into a buffer")
	}
	if On(true, "text", os.Stderr) || On(false, "json", os.Stderr) {
		t.Error("progress with --quiet or JSON logs")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// locatingDirectory is a slowDirectory that can look GUIDs up.
type locatingDirectory struct{ slowDirectory }

func (*locatingDirectory) LocateGUID(_ context.Context, guid string) (upnsync.Whereabouts, error) {
	return upnsync.Whereabouts{Reason: upnsync.DepartedDeleted, Detail: "no object has " + guid}, nil
}

// The progress line must not hide the directory's lookups of departed
// people: planned on a terminal, a departure is classified (and its
// entries removed with --remove-departed) as anywhere else.
func TestProgressKeepsTheGUIDLookups(t *testing.T) {
	guid := "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	store := oneUser{ID: "1001", WindowsUsernames: "jdoe;old@corp.example.com",
		Owned: []upnsync.Owned{{Entry: "old@corp.example.com", GUID: guid}}}
	dir := &progressDirectory{Directory: &locatingDirectory{slowDirectory{n: 1}}, w: &bytes.Buffer{}, delay: time.Hour, every: time.Hour}
	plan, err := upnsync.BuildPlan(context.Background(), store, dir, upnsync.Options{RemoveDeparted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Departures) != 1 || plan.Departures[0].Reason != upnsync.DepartedDeleted || !plan.Departures[0].Removed ||
		plan.Stats.Removals != 1 {
		t.Fatalf("departures %+v, removals %d", plan.Departures, plan.Stats.Removals)
	}
}

// oneUser is a store of one user.
type oneUser upnsync.User

func (u oneUser) Users(_ context.Context, fn func(upnsync.User) error) error {
	return fn(upnsync.User(u))
}
func (oneUser) Apply(context.Context, upnsync.Run, upnsync.Changes) (upnsync.Applied, error) {
	return upnsync.Applied{}, errors.New("not here")
}
func (oneUser) Describe() string { return "one user" }
func (oneUser) Close() error     { return nil }
