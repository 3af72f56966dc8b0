package octopus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// redactPostgres hides the password of a postgres URL (in the user
// information or a password= parameter), for errors and reports.
func redactPostgres(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redactURL(raw)
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	changed := false
	for k := range q {
		if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	s := u.String()
	// url.String escapes the placeholder's neighbours differently in some
	// forms; what matters is that no password survives.
	return s
}

// unwrapParse drops pgx's "cannot parse `URL`:" prefix (the URL is quoted by
// our own message, redacted).
func unwrapParse(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "`: "); i >= 0 {
		return msg[i+3:]
	}
	return msg
}

// scrub removes the password from a message, whatever produced it.
func (s *pgStore) scrub(msg string) string {
	if s.password != "" {
		msg = strings.ReplaceAll(msg, s.password, "xxxxx")
	}
	return oneLineMsg(msg)
}

func oneLineMsg(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// explain turns a PostgreSQL or connection failure into what an
// administrator can act on, without the password.
func (s *pgStore) explain(what string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.Detail != "" {
			msg += " (" + pe.Detail + ")"
		}
		msg = s.scrub(msg)
		hint := ""
		switch {
		case pe.Code == "28P01" || pe.Code == "28000":
			hint = "; give the password with --store-password-file FILE, the UPNSYNC_STORE_PASSWORD environment variable or a PGPASSFILE, and check the user name"
		case pe.Code == "3D000":
			hint = "; create the database first (createdb " + s.database + ") or correct the URL"
		case pe.Code == "42501":
			hint = "; grant this account the rights it needs on " + s.tableName + " and schema " + pgSchema + " (or ask a DBA to create schema " + pgSchema + " for it)"
		case pe.Code == "25006" && s.readOnly:
			hint = "; the store was opened read-only (dry run); nothing was written"
		case pe.Code == "25006":
			hint = "; the database refuses writes (default_transaction_read_only is on for this database or account, or the server is a standby): point --store at the primary, or ask a DBA to allow writes"
		case pe.Code == "42P01":
			hint = "; create the table with `upnsync store import` or name it with --store-table"
		case pe.Code == "42703":
			hint = "; name the columns with --store-columns"
		case pe.Code == "22001":
			hint = "; the column is too small for the value"
		case pe.Code == "42P10":
			hint = "; the id column of " + s.tableName + " needs a unique constraint (ALTER TABLE " + s.tableName + " ADD PRIMARY KEY (...))"
		case pe.Code == "55P03":
			hint = fmt.Sprintf("; another session holds a lock on %s or its rows (waited %s); retry when it has finished (pg_locks and pg_stat_activity say which session)", s.tableName, s.busy)
		case pe.Code == "57014" && strings.Contains(pe.Message, "statement timeout"):
			hint = "; the server's statement_timeout (set for this account or database) is shorter than the statement needed: raise it for upnsync's account (ALTER ROLE ... SET statement_timeout = '5min') and run upnsync again"
		case pe.Code == "57014":
			hint = "; the statement was cancelled (upnsync was stopped, or an administrator cancelled it); run upnsync again"
		case pe.Code == "40001" || pe.Code == "40P01":
			hint = "; another session held the same rows; run upnsync again"
		case strings.HasPrefix(pe.Code, "57P"):
			hint = "; the server ended the session (shut down or terminated by an administrator); run upnsync again when it is back"
		case strings.HasPrefix(pe.Code, "53"):
			hint = "; the server is out of resources (connections, memory or disk)"
		}
		return &pgError{msg: fmt.Sprintf("store %s: %s: %s (SQLSTATE %s)%s", s.Describe(), what, msg, pe.Code, hint), lost: sessionLost(err), err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("store %s: %s: %w", s.Describe(), what, err)
	}
	if connLost(err) {
		return &pgError{msg: fmt.Sprintf("store %s: %s: lost the connection to the server (%s); check that PostgreSQL is running and reachable, then run upnsync again",
			s.Describe(), what, s.scrub(errText(err))), lost: true, err: err}
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("store %s: %s: %s; check the host, port and TLS settings (sslmode, sslrootcert) and that PostgreSQL is running",
			s.Describe(), what, s.scrub(errText(err)))
	}
	return fmt.Errorf("store %s: %s: %s", s.Describe(), what, s.scrub(errText(err)))
}

// errConnLost marks errors where the connection went away, so that the
// outcome of a commit in flight is unknown until the journal is read.
var errConnLost = errors.New("connection lost")

// pgError is a store error whose message is safe to show (no password);
// the driver's error stays reachable through Unwrap for programs.
type pgError struct {
	msg  string
	lost bool
	err  error
}

func (e *pgError) Error() string        { return e.msg }
func (e *pgError) Unwrap() error        { return e.err }
func (e *pgError) Is(target error) bool { return e.lost && target == errConnLost }

// errText is an error's message without the bare "EOF"s network errors end
// with.
func errText(err error) string {
	msg := err.Error()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		msg = strings.TrimSuffix(strings.TrimSuffix(msg, "unexpected EOF"), "EOF")
		msg = strings.TrimRight(msg, ": ")
		if msg == "" {
			msg = "the server closed the connection"
		} else {
			msg += ": the server closed the connection"
		}
	}
	return msg
}

// sessionLost tells whether err ended the session: the connection broke,
// or the server ended it (57P01 administrator command, a shutdown, a
// FATAL error).
func sessionLost(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "57P") || pe.Severity == "FATAL" || pe.Severity == "PANIC"
	}
	return connLost(err)
}

// connLost tells whether err means the connection broke (as opposed to the
// server refusing a statement).
func connLost(err error) bool {
	var ne net.Error
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &ce):
		return false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.As(err, &ne):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "conn busy")
}
