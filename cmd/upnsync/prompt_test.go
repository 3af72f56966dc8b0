package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/internal/testenv"
)

// With --login and no password anywhere, on a terminal the command asks for
// it once (the prompt names the account) and binds to the real directory
// with it; an empty answer is refused; nothing is asked when a password is
// given, or for a file export, or by commands that do not read the
// directory.
func TestPasswordPrompt(t *testing.T) {
	env := testenv.LDAP(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "octopus.db")
	if code, _, errOut := cli(t, nil, "store", "import", "--store", "sqlite:"+db, env.OctopusCSV); code != 0 {
		t.Fatal(errOut)
	}
	data, err := os.ReadFile(env.PasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	password := strings.TrimSpace(string(data))
	var asked []string
	answer := password
	promptPassword = func(prompt string) (string, error) {
		asked = append(asked, prompt)
		return answer, nil
	}
	t.Cleanup(func() { promptPassword = nil })

	mappingFile := filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml")
	args := []string{"--config-file-path", mappingFile, "--store", "sqlite:" + db, "--directory", env.LDAPSURL,
		"--ca-file", env.CAFile, "--login", env.BindDN, "--domain", env.Base}
	code, out, errOut := cli(t, nil, args...)
	if code != exitPending || len(asked) != 1 || asked[0] != "Password for "+env.BindDN+": " {
		t.Fatalf("exit %d, asked %q\n%s\n%s", code, asked, out, errOut)
	}
	if strings.Contains(out+errOut, password) {
		t.Fatal("the typed password was printed")
	}

	asked, answer = nil, ""
	code, _, errOut = cli(t, nil, args...)
	if code != exitError || !strings.Contains(errOut, "no password typed for "+env.BindDN) {
		t.Fatalf("empty answer: exit %d\n%s", code, errOut)
	}

	asked, answer = nil, "unused"
	if code, _, errOut := cli(t, nil, append(args, "--password-file", env.PasswordFile)...); code != exitPending || len(asked) != 0 {
		t.Fatalf("with --password-file: exit %d, asked %q\n%s", code, asked, errOut)
	}
	// upnsync runs does not take --login (refused on the command line);
	// from the environment it is not used, and nothing is asked.
	if code, _, errOut := cli(t, map[string]string{"UPNSYNC_LOGIN": env.BindDN, "UPNSYNC_DIRECTORY": env.LDAPSURL},
		"runs", "--store", "sqlite:"+db); code != exitOK || len(asked) != 0 {
		t.Fatalf("runs: exit %d, asked %q\n%s", code, asked, errOut)
	}
}
