package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/upnsync/upnsync/internal/backoff"
	"github.com/upnsync/upnsync/internal/plural"
	"github.com/upnsync/upnsync/sync/directory"
)

// graphError is Microsoft Graph's documented error body:
// {"error":{"code":"Authorization_RequestDenied","message":"..."}}.
type graphError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// errBodyLimit bounds how much of an error answer is read.
const errBodyLimit = 64 << 10

// errDeltaExpired is wrapped by the error of a delta link Graph no longer
// honours (410 Gone, or syncStateNotFound after the link's 7 days).
var errDeltaExpired = errors.New("the delta link expired")

// throttled are the statuses answered by waiting for Retry-After.
func throttled(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// retryPolicy spaces out retries of throttled requests that carry no
// Retry-After.
var retryPolicy = backoff.Policy{Base: 2 * time.Second, Max: 30 * time.Second}

// get sends one GET to Graph and returns the response of status 200, with
// the context its body must be read under (cancel it after the body):
// the time-out covers the whole page, body included. Throttled answers
// are retried after Retry-After, at most d.retries times, each wait
// within the time-out; other answers become errors an administrator can
// act on.
func (d *Directory) get(ctx context.Context, link, what string) (*http.Response, context.CancelFunc, error) {
	if err := d.sameHost(link); err != nil {
		return nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		tok, err := d.token(ctx)
		if err != nil {
			return nil, nil, err
		}
		rctx, cancel := context.WithTimeout(ctx, d.timeout)
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, link, nil)
		if err != nil {
			cancel()
			return nil, nil, &directory.Error{Msg: fmt.Sprintf("cannot read %s: %v", what, err), Err: err}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		resp, err := d.http.Do(req)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil, nil, &directory.Error{Msg: fmt.Sprintf("the read of %s was cancelled: %v; the read is incomplete", what, ctx.Err()), Err: ctx.Err()}
			}
			return nil, nil, &directory.Error{Msg: fmt.Sprintf("cannot reach Microsoft Graph at %s for %s: %s; the read is incomplete", d.endpoint.Host, what, d.scrub(netText(err))), Err: err}
		}
		if resp.StatusCode == http.StatusOK {
			return resp, cancel, nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, errBodyLimit))
		resp.Body.Close()
		cancel()
		var ge graphError
		_ = json.Unmarshal(body, &ge)
		if !throttled(resp.StatusCode) {
			return nil, nil, d.statusError(resp.StatusCode, ge, what)
		}
		wait, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok {
			wait = retryPolicy.Delay(attempt + 1)
		}
		status := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		if attempt >= d.retries {
			return nil, nil, &directory.Error{Msg: fmt.Sprintf("Microsoft Graph answered %s to %s %s (throttled or busy); gave up after --retries %d; the read is incomplete: run again later", status, what, plural.Count(attempt+1, "time"), d.retries)}
		}
		if wait > d.timeout {
			return nil, nil, &directory.Error{Msg: fmt.Sprintf("Microsoft Graph answered %s to %s and asks to wait %s (Retry-After), longer than --timeout %s; the read is incomplete: run again later or raise --timeout", status, what, wait.Round(time.Second), d.timeout)}
		}
		d.log.Warn("Microsoft Graph is throttling the read; waiting as it asks", "status", status, "retry_after", wait.String(), "attempt", attempt+1, "of", d.retries+1)
		if err := d.wait(ctx, wait); err != nil {
			return nil, nil, &directory.Error{Msg: fmt.Sprintf("the read of %s was cancelled while waiting for Microsoft Graph's Retry-After: %v; the read is incomplete", what, err), Err: err}
		}
	}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// statusError explains an answer other than 200 and throttling.
func (d *Directory) statusError(status int, ge graphError, what string) error {
	code, msg := ge.Error.Code, oneLine(d.scrub(ge.Error.Message))
	said := fmt.Sprintf("%d %s", status, http.StatusText(status))
	if code != "" {
		said += " " + code
	}
	if msg != "" {
		said += ": " + msg
	}
	switch {
	case status == http.StatusGone || strings.EqualFold(code, "syncStateNotFound") || strings.EqualFold(code, "resyncRequired"):
		return &directory.Error{Msg: fmt.Sprintf("Microsoft Graph no longer honours the saved delta link of %s (%s): delta links last 7 days; a full read is needed", d.Describe(), said), Err: errDeltaExpired}
	case status == http.StatusForbidden:
		return &directory.Error{Msg: fmt.Sprintf("Microsoft Graph refused to let %s read %s (%s): %s", d.auth.who, what, said, d.auth.grantHint(d.tenant)), Err: httpStatus(status)}
	case status == http.StatusUnauthorized:
		return &directory.Error{Msg: fmt.Sprintf("Microsoft Graph did not accept the token of %s for %s (%s): check that --graph-endpoint %s belongs to the same cloud as --authority-host, and that %s", d.auth.who, what, said, d.endpoint.String(), d.auth.grantHint(d.tenant)), Err: httpStatus(status)}
	case status == http.StatusNotFound:
		return &directory.Error{Msg: fmt.Sprintf("Microsoft Graph found no %s (%s): check the tenant %q and --graph-endpoint %s", what, said, d.tenant, d.endpoint.String()), Err: httpStatus(status)}
	}
	return &directory.Error{Msg: fmt.Sprintf("Microsoft Graph refused %s (%s); the read is incomplete", what, said), Err: httpStatus(status)}
}

// httpStatus is the cause of an error Graph answered with a status.
type httpStatus int

func (h httpStatus) Error() string { return fmt.Sprintf("HTTP %d %s", int(h), http.StatusText(int(h))) }

// sameHost refuses a link to another place than the Graph endpoint: a
// nextLink or deltaLink is followed with the bearer token, which must not
// reach anyone else.
func (d *Directory) sameHost(link string) error {
	u, err := url.Parse(link)
	if err != nil || !strings.EqualFold(u.Scheme, d.endpoint.Scheme) || !strings.EqualFold(u.Host, d.endpoint.Host) {
		return &directory.Error{Msg: fmt.Sprintf("Microsoft Graph sent a link to %s, not to %s; it is not followed (the token would go there) and the read is incomplete", hostOf(link), d.endpoint.Host)}
	}
	return nil
}

func hostOf(link string) string {
	if u, err := url.Parse(link); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return clip(link)
}

// netText is a transport error without Go's "Get \"URL\":" prefix.
func netText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return oneLine(err.Error())
}

// oneLine makes a server's text fit on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
