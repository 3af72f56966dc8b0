package textfile

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func readAll(r io.Reader) error {
	_, err := io.Copy(io.Discard, iotest.HalfReader(r))
	return err
}

// The bounds hold however the reads split the text, and name the line.
func TestLimitedBounds(t *testing.T) {
	ok := strings.Repeat("a,b,c\n", 1000) + strings.Repeat("x", MaxLine) + "\n" + "last\n"
	l := Limit(strings.NewReader(ok))
	if err := readAll(l); err != nil || l.Unterminated() {
		t.Fatalf("a line of exactly %d bytes: %v (unterminated %v)", MaxLine, err, l.Unterminated())
	}

	long := "header\nrow\n" + strings.Repeat("x", MaxLine+1) + "\nmore\n"
	var tl *TooLongError
	if err := readAll(Limit(strings.NewReader(long))); !errors.As(err, &tl) || tl.Line != 3 || tl.Record ||
		err.Error() != "line 3: line longer than 1 MiB: this is not an export of users (or it holds a huge value)" {
		t.Fatalf("long line: %v", err)
	}
	// Without a line break at all.
	if err := readAll(Limit(strings.NewReader(strings.Repeat("x", 3*MaxLine)))); !errors.As(err, &tl) || tl.Line != 1 {
		t.Fatalf("one endless line: %v", err)
	}

	// Short lines, but no Mark: one record that never ends.
	quoted := "h\n\"" + strings.Repeat("short line\n", MaxRecord/10)
	if err := readAll(Limit(strings.NewReader(quoted))); !errors.As(err, &tl) || !tl.Record || tl.Line < MaxRecord/11 {
		t.Fatalf("endless record: %v", err)
	}
	if line, why := tl.At(2); line != 2 || !strings.HasPrefix(why, "a value that begins here runs on past 4 MiB (to line ") {
		t.Fatalf("endless record at %d: %s", line, why)
	}
	// The same text read record by record (Mark after each) passes.
	l = Limit(strings.NewReader(quoted))
	buf := make([]byte, 4096)
	for {
		_, err := l.Read(buf)
		l.Mark()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("marked: %v", err)
		}
	}
}

func TestLimitedUnterminated(t *testing.T) {
	for text, want := range map[string]bool{"": false, "a\n": false, "a\r\n": false, "a": true, "a\nb": true, "a\r": true} {
		l := Limit(strings.NewReader(text))
		if err := readAll(l); err != nil || l.Unterminated() != want {
			t.Errorf("%q: unterminated %v, want %v (%v)", text, l.Unterminated(), want, err)
		}
	}
}
