package report

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

// BenchmarkReport writes the report of a first rollout (100,000 changes,
// or UPNSYNC_BENCH_CHANGES) in each format to nowhere: what the report
// costs a dry run after the plan, which scripts/bench.sh measures whole.
//
//	go test ./sync/report -run '^$' -bench Report -benchmem
func BenchmarkReport(b *testing.B) {
	n := 100_000
	if v := os.Getenv("UPNSYNC_BENCH_CHANGES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("UPNSYNC_BENCH_CHANGES=%q: want a positive number", v)
		}
	}
	changes := make([]upnsync.Change, n)
	for i := range changes {
		upn := fmt.Sprintf("anna.smith%d@corp.example.com", i)
		changes[i] = upnsync.Change{UserID: fmt.Sprintf("Users-%d", i), UserName: "Anna Smith",
			ExternalID: fmt.Sprintf("%08x-1111-4222-8333-%012x", i, i), Match: upnsync.MatchExternalID,
			Before: fmt.Sprintf("asmith%d", i), After: fmt.Sprintf("asmith%d;%s", i, upn), Added: []string{upn},
			Person: upnsync.Person{DN: fmt.Sprintf("CN=Anna Smith (asmith%d),OU=Sales,OU=Amsterdam,OU=People,DC=corp,DC=example,DC=com", i),
				UPN: upn, SAMAccountName: fmt.Sprintf("asmith%d", i), GUID: fmt.Sprintf("%08x-1111-4222-8333-%012x", i, i)}}
	}
	plan := &upnsync.Plan{Changes: upnsync.ChangesOf(changes...), Read: upnsync.ReadResult{Complete: true, Entries: n}}
	plan.Stats.Changes = n
	for _, format := range []string{"text", "json", "csv"} {
		b.Run(format, func(b *testing.B) {
			var w countingWriter
			for b.Loop() {
				w.n = 0
				if err := Write(&w, format, plan, sampleMeta()); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(w.n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/change")
		})
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)
