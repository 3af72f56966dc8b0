package mapping

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks, on any input, that nothing panics, that every error is
// a *Error without a bare EOF, and that whenever a file parses AddUPN turns
// it into one that parses and validates with a UPN entry, and is then a
// no-op.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"*.xml", "add-upn/*.xml", "bad/*.xml"} {
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte(`<mappings><mapping Name="User"/></mappings>`))
	f.Add([]byte("<mappings>\r\n\t<mapping Name=\"User\">\r\n\t</mapping>\r\n</mappings>"))

	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.xml"
		m, err := Parse(name, data)
		if err != nil {
			fuzzCheckError(t, err, name)
			_, _, err := AddUPN(name, data)
			if err == nil {
				t.Fatal("AddUPN accepted a file Parse refused")
			}
			return
		}
		var listing bytes.Buffer
		if err := m.WriteListing(&listing); err != nil {
			t.Fatal(err)
		}
		_ = m.Fields().Attributes()
		verr := m.Validate()
		if verr != nil {
			fuzzCheckError(t, verr, name)
		}
		_, had := m.UPN()

		out, changed, err := AddUPN(name, data)
		if err != nil {
			if had && verr != nil {
				return // existing UPN entries that disagree: refusing is right
			}
			t.Fatalf("AddUPN failed on a file that parses: %v\ninput: %q", err, data)
		}
		if changed == had {
			t.Fatalf("changed=%v although a UPN entry was present=%v", changed, had)
		}
		if !changed && !bytes.Equal(out, data) {
			t.Fatal("unchanged output differs from the input")
		}
		m2, err := Parse(name, out)
		if err != nil {
			t.Fatalf("output does not parse: %v\ninput:  %q\noutput: %q", err, data, out)
		}
		if _, ok := m2.UPN(); !ok {
			t.Fatalf("output has no UPN entry: %q", out)
		}
		if err := m2.Validate(); err != nil {
			t.Fatalf("output does not validate: %v", err)
		}
		if len(m2.Attributes) != len(m.Attributes)+btoi(changed) {
			t.Fatalf("output has %d entries, input %d", len(m2.Attributes), len(m.Attributes))
		}
		again, changed2, err := AddUPN(name, out)
		if err != nil || changed2 || !bytes.Equal(again, out) {
			t.Fatalf("second AddUPN: changed=%v err=%v", changed2, err)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func fuzzCheckError(t *testing.T, err error, name string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%v (%T) is not a *Error", err, err)
	}
	if e.File != name || e.Line < 0 {
		t.Fatalf("bad position in %v", err)
	}
	if strings.Contains(err.Error(), "EOF") {
		t.Fatalf("error mentions EOF: %v", err)
	}
	if strings.Contains(err.Error(), "please report") {
		t.Fatalf("internal error: %v", err)
	}
}
