// Package httpx holds what the exporter's HTTP clients (events API, datafile and settings
// file pollers) share: keeping secrets out of what reaches a log line, and draining
// response bodies so connections are reused.
package httpx // import "github.com/experimentationexporter/experimentationexporter/internal/httpx"

import (
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
)

// Redactor replaces secrets by placeholders in text that reaches logs or errors: an
// API may echo a key back in an error body, and request URLs may carry one.
type Redactor struct {
	pairs [][2]string // secret form, placeholder; longest secret first
}

// NewRedactor hides each non-empty secret (raw, path-escaped and query-escaped) behind
// its placeholder. pairs are {secret, placeholder}. Longer secrets are replaced first, so
// one that contains another is hidden whole.
func NewRedactor(pairs ...[2]string) *Redactor {
	r := &Redactor{}
	for _, pr := range pairs {
		if pr[0] == "" {
			continue
		}
		for _, v := range []string{pr[0], url.PathEscape(pr[0]), url.QueryEscape(pr[0])} {
			if !slices.ContainsFunc(r.pairs, func(p [2]string) bool { return p[0] == v }) {
				r.pairs = append(r.pairs, [2]string{v, pr[1]})
			}
		}
	}
	slices.SortStableFunc(r.pairs, func(a, b [2]string) int { return len(b[0]) - len(a[0]) })
	return r
}

// Redact returns s with every secret replaced by its placeholder.
func (r *Redactor) Redact(s string) string {
	for _, p := range r.pairs {
		s = strings.ReplaceAll(s, p[0], p[1])
	}
	return s
}

// Error strips the URL a *url.Error carries (it may hold a key) and, should a secret
// still show, replaces the error by a redacted copy of its message (dropping the chain,
// which would expose it).
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	for {
		var ue *url.Error
		if !errors.As(err, &ue) || ue.Err == nil {
			break
		}
		if ue == err {
			err = ue.Err
			continue
		}
		// A *url.Error deeper in the chain: flatten the message.
		err = errors.New(strings.ReplaceAll(err.Error(), ue.Error(), ue.Err.Error()))
		break
	}
	msg := err.Error()
	if red := r.Redact(msg); red != msg {
		return errors.New(red)
	}
	return err
}

// DrainClose reads at most limit bytes of a response body, so the connection can be
// reused, and closes it.
func DrainClose(body io.ReadCloser, limit int64) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, limit))
	_ = body.Close()
}
