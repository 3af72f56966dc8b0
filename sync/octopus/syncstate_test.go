package octopus

import (
	"context"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/internal/testenv"
)

// Every store that keeps upnsync's record keeps the incremental-read state:
// nothing before the first save, the value after, replaced by the next
// save, kept apart per key, refused read-only (a dry run saves nothing),
// and still there after reopening. PostgreSQL is the real server.
func TestSyncStateEveryStore(t *testing.T) {
	testenv.Postgres(t)
	ctx := context.Background()
	for _, b := range []backend{sqliteBackend(), stateBackend(), pgBackend()} {
		t.Run(b.name, func(t *testing.T) {
			s, url := seeded(t, b, Options{})
			st, ok := s.(SyncStater)
			if !ok {
				t.Fatalf("%T keeps no incremental-read state", s)
			}
			if v, err := st.SyncState(ctx, "incremental:ldaps://dc1"); err != nil || v != "" {
				t.Fatalf("before any save: %q, %v", v, err)
			}
			if err := st.SaveSyncState(ctx, "incremental:ldaps://dc1", `{"usn":1}`); err != nil {
				t.Fatal(err)
			}
			if err := st.SaveSyncState(ctx, "incremental:ldaps://dc1", `{"usn":2}`); err != nil {
				t.Fatal(err)
			}
			if err := st.SaveSyncState(ctx, "dirsync:ldaps://dc1", `{"cookie":"x"}`); err != nil {
				t.Fatal(err)
			}
			s.Close()

			_, opts := b.fresh(t)
			opts.ReadOnly = true
			ro := b.openT(t, url, opts)
			defer ro.Close()
			rst := ro.(SyncStater)
			if v, err := rst.SyncState(ctx, "incremental:ldaps://dc1"); err != nil || v != `{"usn":2}` {
				t.Fatalf("after reopening: %q, %v", v, err)
			}
			if v, err := rst.SyncState(ctx, "dirsync:ldaps://dc1"); err != nil || v != `{"cookie":"x"}` {
				t.Fatalf("the other key: %q, %v", v, err)
			}
			err := rst.SaveSyncState(ctx, "incremental:ldaps://dc1", `{"usn":3}`)
			if err == nil || !strings.Contains(err.Error(), "read-only") {
				t.Fatalf("a read-only store saved the state: %v", err)
			}
		})
	}
}
