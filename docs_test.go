package upnsync

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The documentation's relative links point to files that exist, and their
// #anchors to headings of the target (GitHub's slug rules), so that moving
// or renaming a section cannot leave README.md or docs/ pointing nowhere.

var (
	fencedCode = regexp.MustCompile("(?s)```.*?```")
	inlineCode = regexp.MustCompile("``.*?``|`[^`\n]*`")
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading  = regexp.MustCompile(`(?m)^#{1,6} +(.*?) *#*$`)
	slugDrop   = regexp.MustCompile(`[^\p{L}\p{N}_\- ]`)
	urlScheme  = regexp.MustCompile(`^[a-z][a-z0-9+.-]*:`)
)

func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	more, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append(files, more...)
}

// slugs are the anchors GitHub gives the headings of a Markdown file.
func slugs(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := fencedCode.ReplaceAllString(string(data), "")
	out, seen := map[string]bool{}, map[string]int{}
	for _, m := range mdHeading.FindAllStringSubmatch(text, -1) {
		s := strings.ToLower(strings.TrimSpace(m[1]))
		s = strings.ReplaceAll(slugDrop.ReplaceAllString(s, ""), " ", "-")
		n := seen[s]
		seen[s]++
		if n > 0 {
			s += "-" + itoa(n)
		}
		out[s] = true
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestDocsLinks(t *testing.T) {
	anchors := map[string]map[string]bool{}
	checked := 0
	for _, f := range docFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := inlineCode.ReplaceAllString(fencedCode.ReplaceAllString(string(data), ""), "")
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			link := m[1]
			if urlScheme.MatchString(link) {
				continue
			}
			checked++
			target, anchor, _ := strings.Cut(link, "#")
			path := f
			if target != "" {
				path = filepath.Join(filepath.Dir(f), target)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: link %s: no file %s", f, link, path)
				continue
			}
			if anchor == "" || !strings.HasSuffix(path, ".md") {
				continue
			}
			if anchors[path] == nil {
				anchors[path] = slugs(t, path)
			}
			if !anchors[path][anchor] {
				t.Errorf("%s: link %s: no heading #%s in %s", f, link, anchor, path)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found: the test reads nothing")
	}
}

// The check itself must be able to fail.
func TestDocsLinksSlugs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.md")
	if err := os.WriteFile(p, []byte("# Exit codes (`--x`)\n## Safety: guards\n## Safety: guards\n```\n# not a heading\n```\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := slugs(t, p)
	for _, want := range []string{"exit-codes---x", "safety-guards", "safety-guards-1"} {
		if !got[want] {
			t.Errorf("slug %q missing from %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Errorf("a line in a code block counted as a heading: %v", got)
	}
}
