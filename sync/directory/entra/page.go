package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/upnsync/upnsync/internal/plural"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// errPageTooLarge ends a page that grew over Options.PageLimit.
var errPageTooLarge = errors.New("page over the size limit")

// limitedBody reads a page body and fails, rather than ending quietly,
// once it has given more than its limit.
type limitedBody struct {
	r    io.Reader
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, errPageTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, errPageTooLarge
	}
	return n, err
}

// removedUser is a user a delta page reported deleted.
type removedUser struct {
	id, reason string
}

// pages is what a run of pages ended with.
type pages struct {
	deltaLink string
	removed   []removedUser
}

// readPages reads the pages from link on, following @odata.nextLink,
// handing each user to fn as it is decoded. A delta read must end with an
// @odata.deltaLink; its deleted users are collected, not handed on.
func (d *Directory) readPages(ctx context.Context, link string, delta bool, fn func(upnsync.Person) error, res *upnsync.ReadResult) (pages, error) {
	var out pages
	res.Bases = append(res.Bases, upnsync.BaseCount{Base: d.endpoint.Host + "/v1.0/users"})
	bc := &res.Bases[len(res.Bases)-1]
	what := "the users of " + d.Describe()
	for {
		page := res.Pages + 1
		next, deltaLink, n, err := d.readPage(ctx, link, page, delta, fn, res, &out)
		bc.Entries += n
		if err != nil {
			return out, err
		}
		res.Pages++
		bc.Pages++
		switch {
		case next != "":
			if next == link {
				return out, &directory.Error{Msg: fmt.Sprintf("page %d of %s links to itself; the read is incomplete", page, what)}
			}
			link = next
		case delta && deltaLink == "":
			return out, &directory.Error{Msg: fmt.Sprintf("the last page (%d) of the changes to %s has neither an @odata.nextLink nor an @odata.deltaLink: the read cannot be proven complete", page, what)}
		default:
			out.deltaLink = deltaLink
			return out, nil
		}
	}
}

// readPage reads one page, streaming: the JSON decoder holds one user at
// a time, and the body is bounded by the page limit. It returns the
// page's links and how many users it handed on.
func (d *Directory) readPage(ctx context.Context, link string, page int, delta bool, fn func(upnsync.Person) error, res *upnsync.ReadResult, out *pages) (next, deltaLink string, n int, err error) {
	what := fmt.Sprintf("page %d of the users of %s", page, d.Describe())
	resp, cancel, err := d.get(ctx, link, what)
	if err != nil {
		return "", "", 0, err
	}
	defer cancel()
	defer resp.Body.Close()
	body := &limitedBody{r: resp.Body, left: d.pageLimit}
	dec := json.NewDecoder(body)
	broken := func(err error) error {
		switch {
		case errors.Is(err, errPageTooLarge):
			return &directory.Error{Msg: fmt.Sprintf("%s is over the page limit of %s; the read is incomplete", what, sizeText(d.pageLimit)), Err: err}
		case ctx.Err() != nil:
			return &directory.Error{Msg: fmt.Sprintf("the read of %s was cancelled after %s: %v; the read is incomplete", what, plural.Count(n, "user"), ctx.Err()), Err: ctx.Err()}
		case errors.Is(err, context.DeadlineExceeded):
			return &directory.Error{Msg: fmt.Sprintf("%s did not arrive within --timeout %s (%s read of it); the read is incomplete", what, d.timeout, plural.Count(n, "user")), Err: err}
		case isFormatError(err):
			return &directory.Error{Msg: fmt.Sprintf("%s is not a Microsoft Graph users page (%s); check --graph-endpoint; the read is incomplete", what, oneLine(err.Error())), Err: err}
		}
		// Anything else came from reading the body: the connection closed
		// or was reset (HTTP/1.1), or the stream was (HTTP/2).
		return &directory.Error{Msg: fmt.Sprintf("%s was cut off after %s (%s): the connection closed in the middle of the page; the read is incomplete: run again", what, plural.Count(n, "user"), netText(err)), Err: io.ErrUnexpectedEOF}
	}
	if err := expectDelim(dec, '{'); err != nil {
		return "", "", n, broken(err)
	}
	sawValue := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", "", n, broken(err)
		}
		key, _ := t.(string)
		switch key {
		case "@odata.nextLink":
			err = dec.Decode(&next)
		case "@odata.deltaLink":
			err = dec.Decode(&deltaLink)
		case "value":
			sawValue = true
			if err = expectDelim(dec, '['); err != nil {
				break
			}
			for dec.More() {
				var u graphUser
				if err = dec.Decode(&u); err != nil {
					break
				}
				if u.Removed != nil {
					if !delta {
						continue // not expected outside delta; nobody to hand on
					}
					out.removed = append(out.removed, removedUser{u.ID, u.Removed.Reason})
					continue
				}
				p, warn := d.m.person(&u)
				if warn != "" {
					d.log.Warn(warn)
				}
				n++
				res.Entries++
				if ferr := fn(p); ferr != nil {
					if ctx.Err() != nil && errors.Is(ferr, ctx.Err()) {
						return "", "", n, &directory.Error{Msg: fmt.Sprintf("the read of %s was cancelled at %s; the read is incomplete", d.Describe(), what), Err: ferr}
					}
					return "", "", n, &directory.Error{Msg: fmt.Sprintf("the read of %s stopped at %s: %v; the read is incomplete", d.Describe(), what, ferr), Err: ferr}
				}
			}
			if err == nil {
				err = expectDelim(dec, ']')
			}
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return "", "", n, broken(err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return "", "", n, broken(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = formatError("more data after the page's closing brace")
		}
		return "", "", n, broken(err)
	}
	if !sawValue {
		return "", "", n, broken(formatError(`the page has no "value" array`))
	}
	return next, deltaLink, n, nil
}

// expectDelim reads one JSON delimiter; the end of the stream instead of
// it is io.ErrUnexpectedEOF (the page was cut).
func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	if got, ok := t.(json.Delim); !ok || got != want {
		return formatError(fmt.Sprintf("expected %q, found %v", string(want), t))
	}
	return nil
}

// formatError is a page that is JSON but not a users page.
type formatError string

func (f formatError) Error() string { return string(f) }

// isFormatError tells an answer that is not a users page from a body
// whose reading failed.
func isFormatError(err error) bool {
	var fe formatError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return errors.As(err, &fe) || errors.As(err, &se) || errors.As(err, &te)
}

// sizeText writes a byte count for people.
func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
