package eventsapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// maxAttrLen bounds a VWO visitor attribute's key and value, in characters.
const maxAttrLen = 255

var vwoSuccess = []byte(`{"message":"success"}`)

// vwo answers POST [/<collection>]/server-side/batch-events: 200 on success, 401 for
// a bad Authorization, 413 for an oversized body or batch, 400 otherwise.
func (s *Server) vwo(r *http.Request, body []byte) (int, []byte, outcome) {
	q := r.URL.Query()
	if a := q.Get("a"); a == "" || !allDigits(a) {
		return http.StatusBadRequest, errorBody(fmt.Sprintf("a: must be a numeric account id, got %q", a)), outcome{}
	}
	env := q.Get("env")
	if env == "" {
		return http.StatusBadRequest, errorBody("env: required"), outcome{}
	}
	if r.Header.Get("Authorization") != env {
		return http.StatusUnauthorized, errorBody("unauthorized: Authorization header must equal env"), outcome{}
	}
	if int64(len(body)) > s.opts.MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, errorBody("payload too large"), outcome{}
	}
	// The SDKs send no Content-Type (Go: net/http defaults; Node: only
	// Content-Length and Authorization): the body is JSON whatever it says. One that
	// names another type is refused.
	if r.Header.Get("Content-Type") != "" && !isJSON(r) {
		return http.StatusBadRequest, errorBody("content-type must be application/json"), outcome{}
	}
	v, err := decode(body)
	if err != nil {
		return http.StatusBadRequest, errorBody(err.Error()), outcome{}
	}
	batch, err := asObject(v, "body")
	if err != nil {
		return http.StatusBadRequest, errorBody(err.Error()), outcome{}
	}
	evs, err := reqArray(batch, "", "ev", true)
	if err != nil {
		return http.StatusBadRequest, errorBody(err.Error()), outcome{}
	}
	if len(evs) > s.opts.MaxVWOEvents {
		msg := fmt.Sprintf("ev: too many events (%d > %d)", len(evs), s.opts.MaxVWOEvents)
		return http.StatusRequestEntityTooLarge, errorBody(msg), outcome{}
	}
	// The raw texts give each event its identity for UUIDs.
	var raw struct {
		Ev []json.RawMessage `json:"ev"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || len(raw.Ev) != len(evs) {
		return http.StatusBadRequest, errorBody("body: invalid JSON"), outcome{}
	}
	var out outcome
	for i, e := range evs {
		if err := checkVWOEvent(e, index("ev", i), &out); err != nil {
			return http.StatusBadRequest, errorBody(err.Error()), outcome{}
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, raw.Ev[i])
		out.ids = append(out.ids, buf.String())
	}
	return http.StatusOK, vwoSuccess, out
}

func checkVWOEvent(v any, path string, out *outcome) error {
	ev, err := asObject(v, path)
	if err != nil {
		return err
	}
	et, err := reqInteger(ev, path, "eT")
	if err != nil {
		return err
	}
	if et != "1" && et != "2" && et != "3" {
		return fieldErr(join(path, "eT"), "must be 1, 2 or 3, got %s", et)
	}
	u, err := reqString(ev, path, "u", false)
	if err != nil {
		return err
	}
	if !isUpperHex32(u) {
		return fieldErr(join(path, "u"), "must be 32 uppercase hex characters, got %q", u)
	}
	sid, err := reqInteger(ev, path, "sId")
	if err != nil {
		return err
	}
	if len(sid) != 10 || !allDigits(string(sid)) {
		return fieldErr(join(path, "sId"), "must be a 10-digit epoch-seconds integer, got %s", sid)
	}
	// Optional: the Node SDK sends them ("" unless the app gives them) on eT 1 and 2,
	// the Go SDK never. Typed when present.
	if err := optString(ev, path, "visitor_ua"); err != nil {
		return err
	}
	if err := optString(ev, path, "visitor_ip"); err != nil {
		return err
	}
	// Other keys are ignored: the Go SDK repeats the sdk key as "env" in every event.
	out.events++
	switch et {
	case "1": // impression
		for _, k := range []string{"e", "c"} {
			if _, err := reqInteger(ev, path, k); err != nil {
				return err
			}
		}
		out.impressions++
	case "2": // goal conversion
		for _, k := range []string{"e", "c", "g"} {
			if _, err := reqInteger(ev, path, k); err != nil {
				return err
			}
		}
		if err := optRevenue(ev, path, "r"); err != nil {
			return err
		}
		out.conversions++
	case "3": // visitor attribute
		t, err := reqString(ev, path, "t", true)
		if err != nil {
			return err
		}
		if err := checkVWOAttribute(t); err != nil {
			return fieldErr(join(path, "t"), "%v", err)
		}
	}
	return nil
}

// optRevenue checks that m[key], if present, is a number or a numeric string: the Go
// SDK sends revenue as a string ("100", "12.5", or the string the app gave), the Node
// SDK as the app gave it (12.5 or "7.25").
func optRevenue(m map[string]any, path, key string) error {
	v, ok := m[key]
	if !ok {
		return nil
	}
	switch r := v.(type) {
	case json.Number:
		return nil
	case string:
		if isNumberLiteral(r) {
			return nil
		}
		return fieldErr(join(path, key), "must be a number or a numeric string, got %q", r)
	}
	return fieldErr(join(path, key), "must be a number or a numeric string, got %s", typeName(v))
}

// isNumberLiteral reports whether s is a JSON number: -?int[.frac][(e|E)[+-]exp].
func isNumberLiteral(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	start := i
	if n := digits(); n == 0 || (n > 1 && s[start] == '0') {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

func isUpperHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// checkVWOAttribute checks that t is {"u":{"<key>":"<value>"}} in one of the two
// encodings the SDKs send: the whole JSON percent-encoded (Node:
// encodeURIComponent(JSON.stringify(...)); decoded with PathUnescape, where '+' is
// literal), or the JSON itself with key and value query-escaped (Go:
// `{"u":{"` + url.QueryEscape(k) + `":"` + url.QueryEscape(v) + `"}}`).
func checkVWOAttribute(t string) error {
	queryEscaped := len(t) > 0 && t[0] == '{' && json.Valid([]byte(t))
	dec := t
	if !queryEscaped {
		var err error
		if dec, err = url.PathUnescape(t); err != nil {
			return fmt.Errorf("must be percent-encoded: %v", err)
		}
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(dec), &doc); err != nil {
		return fmt.Errorf(`must decode to a JSON object {"u":{"key":"value"}}: %v`, err)
	}
	if len(doc) != 1 || doc["u"] == nil {
		return fmt.Errorf(`must decode to {"u":{...}} with "u" its only key`)
	}
	var attrs map[string]any
	if err := json.Unmarshal(doc["u"], &attrs); err != nil || attrs == nil {
		return fmt.Errorf(`"u" must be an object of one string attribute`)
	}
	if len(attrs) != 1 {
		return fmt.Errorf(`"u" must hold exactly one attribute, got %d`, len(attrs))
	}
	for k, v := range attrs {
		s, ok := v.(string)
		if queryEscaped {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				return fmt.Errorf("attribute key must be query-escaped: %v", err)
			}
			if ok {
				if s, err = url.QueryUnescape(s); err != nil {
					return fmt.Errorf("attribute %q value must be query-escaped: %v", k, err)
				}
			}
		}
		switch {
		case k == "":
			return fmt.Errorf("attribute key must be non-empty")
		case utf8.RuneCountInString(k) > maxAttrLen:
			return fmt.Errorf("attribute key longer than %d characters", maxAttrLen)
		case !ok:
			return fmt.Errorf("attribute %q must have a string value, got %s", k, typeName(v))
		case utf8.RuneCountInString(s) > maxAttrLen:
			return fmt.Errorf("attribute %q value longer than %d characters", k, maxAttrLen)
		}
	}
	return nil
}
