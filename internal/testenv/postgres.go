package testenv

import (
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// PostgresEnv describes the test PostgreSQL cluster: a role that may log in
// over TCP with a password (and TLS from the test CA) and create databases.
type PostgresEnv struct {
	// URL is postgres://ROLE@127.0.0.1:PORT/DATABASE?sslmode=verify-full&...,
	// without the password.
	URL string
	// Password is the role's password, read from PasswordFile.
	Password     string
	PasswordFile string
}

// Variable names, as written to the env file by scripts/testdirs.sh.
const (
	VarPostgresURL          = "UPNSYNC_TEST_POSTGRES_URL"
	VarPostgresPasswordFile = "UPNSYNC_TEST_POSTGRES_PASSWORD_FILE"
)

const postgresHint = "start it with scripts/testdirs.sh start postgres"

// Postgres returns the test PostgreSQL server, or skips the test (fails it
// when CI=true) when none is configured or it does not answer.
func Postgres(t testing.TB) PostgresEnv {
	t.Helper()
	vars, src, err := settings()
	if err != nil {
		missing(t, "test servers: %v; %s", err, postgresHint)
	}
	e := PostgresEnv{URL: vars[VarPostgresURL], PasswordFile: vars[VarPostgresPasswordFile]}
	if e.URL == "" {
		missing(t, "no test PostgreSQL server configured (%s unset, none in %s); %s", VarPostgresURL, src, postgresHint)
	}
	if e.PasswordFile == "" {
		missing(t, "test PostgreSQL settings from %s lack %s; %s", src, VarPostgresPasswordFile, postgresHint)
	}
	pw, err := os.ReadFile(e.PasswordFile)
	if err != nil {
		missing(t, "cannot read the test PostgreSQL password file: %v; %s", err, postgresHint)
	}
	e.Password = strings.TrimRight(string(pw), "\r\n")
	u, err := url.Parse(e.URL)
	if err != nil {
		missing(t, "%s=%q (from %s) is not a URL: %v", VarPostgresURL, e.URL, src, err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		missing(t, "the test PostgreSQL server at %s does not answer (%v); %s", host, err, postgresHint)
	}
	c.Close()
	return e
}
