package plural

import "testing"

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		n          int
		noun, want string
	}{
		{1, "page", "1 page"}, {0, "page", "0 pages"}, {2, "page", "2 pages"},
		{1, "entry", "1 entry"}, {3, "entry", "3 entries"}, {2, "key", "2 keys"},
		{1, "person", "1 person"}, {5, "person", "5 people"}, {2, "pass", "2 passes"},
		{2, "user", "2 users"}, {1, "referral", "1 referral"},
	} {
		if got := Count(tt.n, tt.noun); got != tt.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
		}
	}
}
