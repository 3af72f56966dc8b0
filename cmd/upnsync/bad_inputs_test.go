package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The bad-input corpus (testdata/bad/, listed with the error each must
// give in testdata/bad/expect.txt) through the command: every malformed
// mapping file, LDIF export, store CSV, settings file, password file and
// argument list ends with exit code 1 and one error line that names the
// file and line (or the option) and contains the expected text, never a Go
// stack, and nothing is written.

const badDir = "../../testdata/bad"

type badCase struct {
	kind, file, want string
	line             int // in expect.txt
}

func readBadCases(t *testing.T) []badCase {
	t.Helper()
	f, err := os.Open(filepath.Join(badDir, "expect.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []badCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 || parts[2] == "" {
			t.Fatalf("expect.txt:%d: want KIND<tab>FILE<tab>EXPECTED, got %q", n, line)
		}
		cases = append(cases, badCase{kind: parts[0], file: parts[1], want: parts[2], line: n})
	}
	return cases
}

// Every file of the corpus has a case, and every case a file.
func TestBadInputCorpusIsComplete(t *testing.T) {
	cases := readBadCases(t)
	listed := map[string]bool{}
	for _, c := range cases {
		if listed[c.file] {
			t.Errorf("expect.txt:%d: %s listed twice", c.line, c.file)
		}
		listed[c.file] = true
		if _, err := os.Stat(filepath.Join(badDir, c.file)); err != nil {
			t.Errorf("expect.txt:%d: %v", c.line, err)
		}
	}
	for _, sub := range []string{"mapping", "ldif", "dircsv", "dirxlsx", "export", "csv", "args", "settings", "pwfile"} {
		files, _ := filepath.Glob(filepath.Join(badDir, sub, "*"))
		for _, f := range files {
			if rel := sub + "/" + filepath.Base(f); !listed[rel] {
				t.Errorf("%s has no case in expect.txt", rel)
			}
		}
	}
	// The corpus's malformed mapping files of the mapping package count too.
	files, _ := filepath.Glob("../../testdata/mapping/bad/*.xml")
	for _, f := range files {
		if rel := "../mapping/bad/" + filepath.Base(f); !listed[rel] {
			t.Errorf("%s has no case in expect.txt", rel)
		}
	}
	if len(cases) < 40 {
		t.Errorf("%d cases; the corpus holds at least 40", len(cases))
	}
}

// badArgs reads an argument list: one argument per line, # comments, a
// line in double quotes is a Go string (for NUL and control characters).
func badArgs(t *testing.T, path string, subst func(string) string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		l = subst(l)
		if strings.HasPrefix(l, `"`) {
			u, err := strconv.Unquote(l)
			if err != nil {
				t.Fatalf("%s: %q: %v", path, l, err)
			}
			l = u
		}
		args = append(args, l)
	}
	return args
}

func TestBadInputs(t *testing.T) {
	cases := readBadCases(t)
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			d := newDemo(t)
			src := filepath.Join(badDir, c.file)
			abs, err := filepath.Abs(src)
			if err != nil {
				t.Fatal(err)
			}
			subst := func(s string) string {
				return strings.NewReplacer("{file}", abs, "{dir}", d.dir, "{mapping}", d.mapping, "{ldif}", d.ldif,
					"{store}", d.store, "{db}", d.db).Replace(s)
			}
			want := subst(c.want)
			newDB := filepath.Join(d.dir, "new.db")
			before, users := fileHash(t, d.db), usersDump(t, d.db)

			var args []string
			code := exitError
			switch c.kind {
			case "mapping":
				args = []string{"--config-file-path", abs, "--directory", "ldif:" + d.ldif, "--store", d.store, "--apply"}
			case "ldif":
				args = []string{"--config-file-path", d.mapping, "--directory", "ldif:" + abs, "--store", d.store, "--apply"}
			case "conflict":
				// The export's kind is its extension: ldif, csv or xlsx.
				kind := strings.TrimPrefix(filepath.Ext(abs), ".")
				args = []string{"--config-file-path", d.mapping, "--directory", kind + ":" + abs, "--store", d.store, "--apply"}
				code = exitConflicts
			case "dircsv", "dirxlsx":
				args = []string{"--config-file-path", d.mapping, "--directory", strings.TrimPrefix(c.kind, "dir") + ":" + abs, "--store", d.store, "--apply"}
			case "export":
				args = []string{"--config-file-path", d.mapping, "--directory", "ldif:" + d.ldif, "--store", "dataimporter:" + filepath.Join(d.dir, "upn-import.xlsx"),
					"--octopus-export", abs, "--apply"}
			case "csv":
				args = []string{"store", "import", "--store", d.store, abs}
			case "settings":
				args = []string{"--settings", abs, "--config-file-path", d.mapping, "--directory", "ldif:" + d.ldif, "--store", d.store, "--apply"}
			case "pwfile":
				pw := filepath.Join(d.dir, filepath.Base(src))
				mode := os.FileMode(0o600)
				if strings.Contains(c.file, "readable") {
					mode = 0o644
				}
				if err := os.WriteFile(pw, mustRead(t, src), mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(pw, mode) // whatever the umask
				want = strings.ReplaceAll(c.want, "{file}", pw)
				args = []string{"--config-file-path", d.mapping, "--directory", "ldaps://127.0.0.1:1", "--login", "svc@corp",
					"--password-file", pw, "--store", d.store, "--apply"}
			case "args":
				args = badArgs(t, src, subst)
			default:
				t.Fatalf("expect.txt:%d: unknown kind %q", c.line, c.kind)
			}

			got, out, errOut := cli(t, nil, args...)
			noStack(t, out, errOut)
			if got != code {
				t.Fatalf("exit %d, want %d\nstdout %.500s\nstderr %s", got, code, out, errOut)
			}
			switch {
			case c.kind == "conflict":
				// A run that ends: it may note its read in upnsync's
				// state (the read counts of rule G7), but writes no user.
				if usersDump(t, d.db) != users {
					t.Fatal("the store's users changed")
				}
			case fileHash(t, d.db) != before:
				t.Fatal("the store changed")
			}
			for _, made := range []string{"upn-import.xlsx", "upn-import.xml", "upn-import.xlsx.upnsync-state.db"} {
				if _, err := os.Stat(filepath.Join(d.dir, made)); err == nil {
					t.Fatalf("the DataImporter store wrote %s", made)
				}
			}
			if c.kind == "conflict" {
				// Not an error: a UPN that cannot be written is a conflict
				// of that person, which never stops the rest of the run.
				if !strings.Contains(out, want) || !strings.Contains(out, "Applied: nothing to write.") {
					t.Fatalf("the report lacks %q:\n%s", want, out)
				}
				return
			}
			msg := errorLine(t, errOut)
			if !strings.Contains(msg, want) {
				t.Fatalf("error line\n  %s\nlacks\n  %s", msg, want)
			}
			if c.kind != "args" && !strings.Contains(msg, abs) && !strings.Contains(msg, filepath.Base(abs)) {
				t.Fatalf("error line does not name the file:\n  %s", msg)
			}
			if c.kind == "csv" {
				// Into a store that does not exist yet: not created.
				if code, _, errOut := cli(t, nil, "store", "import", "--store", "sqlite:"+newDB, abs); code != exitError || !strings.Contains(errOut, want) {
					t.Fatalf("import into a new store: exit %d\n%s", code, errOut)
				}
				if _, err := os.Stat(newDB); err == nil {
					t.Fatal("a refused import created the store")
				}
			}
		})
	}
}

// errorLine is the one error line of stderr: warnings may precede it, the
// pointer to --help may follow it; nothing else may.
func errorLine(t *testing.T, stderr string) string {
	t.Helper()
	var errs []string
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "upnsync: warning: "), l == "Run upnsync --help for the options.":
		case strings.HasPrefix(l, "upnsync: "):
			errs = append(errs, l)
		default:
			t.Fatalf("stderr has a line that is not a message of upnsync: %q\n%s", l, stderr)
		}
	}
	if len(errs) != 1 {
		t.Fatalf("want one error line, got %d:\n%s", len(errs), stderr)
	}
	return errs[0]
}

// A mapping file far larger than any real one (made here, not kept in the
// corpus): refused by its size before it is parsed.
func TestBadInputHugeMappingFile(t *testing.T) {
	d := newDemo(t)
	huge := filepath.Join(d.dir, "huge.xml")
	data := "<mappings><mapping Name=\"User\"><attribute LDAPAttribute=\"" + strings.Repeat("a", 11<<20) + "\" OctopusAttribute=\"UPN\"/></mapping></mappings>"
	if err := os.WriteFile(huge, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	before := fileHash(t, d.db)
	code, out, errOut := cli(t, nil, "--config-file-path", huge, "--directory", "ldif:"+d.ldif, "--store", d.store, "--apply")
	noStack(t, out, errOut)
	if msg := errorLine(t, errOut); code != exitError || !strings.Contains(msg, huge+": the file is 11.0 MiB, and a mapping file is a few kilobytes") {
		t.Fatalf("exit %d: %s", code, msg)
	}
	if fileHash(t, d.db) != before {
		t.Fatal("the store changed")
	}
}
