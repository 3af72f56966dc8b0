package report

import (
	"bytes"
	"strings"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

// The CSV report opens in Excel on a French Windows: a UTF-8 byte order
// mark (else accents are read in the ANSI code page), CRLF line ends, and
// ';' between values when asked (else every row is one column).
func TestCSVOpensInExcel(t *testing.T) {
	p := samplePlan()
	p.Changes = p.Changes.Map(func(c upnsync.Change) upnsync.Change { c.UserName = "Émilie Lefèvre"; return c })
	for _, sep := range []rune{0, ';'} {
		meta := sampleMeta()
		meta.CSVSeparator = sep
		var buf bytes.Buffer
		if err := CSV(&buf, p, meta); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.HasPrefix(out, "\xef\xbb\xbf") {
			t.Errorf("separator %q: no UTF-8 byte order mark: %q", sep, out[:20])
		}
		if strings.Count(out, "\n") != strings.Count(out, "\r\n") || strings.Count(out, "\r\n") < 3 {
			t.Errorf("separator %q: not CRLF throughout", sep)
		}
		want := ","
		if sep == ';' {
			want = ";"
		}
		if !strings.HasPrefix(out, "\xef\xbb\xbfkind"+want+"user_id"+want) || !strings.Contains(out, want+"Émilie Lefèvre"+want) {
			t.Errorf("separator %q: header or name not separated by %q: %q", sep, want, out[:80])
		}
	}
	meta := sampleMeta()
	meta.CSVSeparator = '|'
	if err := CSV(&bytes.Buffer{}, p, meta); err == nil {
		t.Error("'|' accepted")
	}
}
