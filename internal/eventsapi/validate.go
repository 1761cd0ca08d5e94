package eventsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// fieldError names the offending field by its path in the payload, e.g.
// "visitors[3].snapshots[0].events[0].timestamp", so clients can bisect a batch.
type fieldError struct {
	path, reason string
}

func (e *fieldError) Error() string { return e.path + ": " + e.reason }

func fieldErr(path, format string, args ...any) error {
	return &fieldError{path: path, reason: fmt.Sprintf(format, args...)}
}

// join builds a child path: join("visitors[0]", "visitor_id").
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// isJSON reports whether the Content-Type is application/json (parameters such as
// charset allowed).
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// decode parses one JSON value, keeping numbers as their literal text so integer-ness
// can be judged the way the real APIs' strict parsers do.
func decode(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fieldErr("body", "invalid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fieldErr("body", "invalid JSON: data after the top-level value")
	}
	return v, nil
}

// typeName names a decoded JSON value's type for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func asObject(v any, path string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fieldErr(path, "must be an object, got %s", typeName(v))
	}
	return m, nil
}

// reqString returns m[key], which must be a string, non-empty if nonEmpty.
func reqString(m map[string]any, path, key string, nonEmpty bool) (string, error) {
	p := join(path, key)
	v, ok := m[key]
	if !ok {
		return "", fieldErr(p, "required")
	}
	s, ok := v.(string)
	if !ok {
		return "", fieldErr(p, "must be a string, got %s", typeName(v))
	}
	if nonEmpty && s == "" {
		return "", fieldErr(p, "must be a non-empty string")
	}
	return s, nil
}

// optString checks that m[key], if present, is a string. Optional fields are typed
// when present: null is not a string.
func optString(m map[string]any, path, key string) error {
	if v, ok := m[key]; ok {
		if _, ok := v.(string); !ok {
			return fieldErr(join(path, key), "must be a string, got %s", typeName(v))
		}
	}
	return nil
}

func optBool(m map[string]any, path, key string) error {
	if v, ok := m[key]; ok {
		if _, ok := v.(bool); !ok {
			return fieldErr(join(path, key), "must be a boolean, got %s", typeName(v))
		}
	}
	return nil
}

// reqArray returns m[key], which must be an array, non-empty if nonEmpty.
func reqArray(m map[string]any, path, key string, nonEmpty bool) ([]any, error) {
	p := join(path, key)
	v, ok := m[key]
	if !ok {
		return nil, fieldErr(p, "required")
	}
	a, ok := v.([]any)
	if !ok {
		return nil, fieldErr(p, "must be an array, got %s", typeName(v))
	}
	if nonEmpty && len(a) == 0 {
		return nil, fieldErr(p, "must be a non-empty array")
	}
	return a, nil
}

// optArray returns m[key] if present, which must then be an array.
func optArray(m map[string]any, path, key string) ([]any, error) {
	if _, ok := m[key]; !ok {
		return nil, nil
	}
	return reqArray(m, path, key, false)
}

// isInteger reports whether a number literal has no fraction or exponent.
func isInteger(n json.Number) bool {
	s := string(n)
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	return s != "" && allDigits(s)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// reqInteger returns m[key], which must be an integer number literal.
func reqInteger(m map[string]any, path, key string) (json.Number, error) {
	p := join(path, key)
	v, ok := m[key]
	if !ok {
		return "", fieldErr(p, "required")
	}
	n, ok := v.(json.Number)
	if !ok {
		return "", fieldErr(p, "must be an integer, got %s", typeName(v))
	}
	if !isInteger(n) {
		return "", fieldErr(p, "must be an integer, got %s", n)
	}
	return n, nil
}

// optNumber checks that m[key], if present, is a number.
func optNumber(m map[string]any, path, key string) error {
	if v, ok := m[key]; ok {
		if _, ok := v.(json.Number); !ok {
			return fieldErr(join(path, key), "must be a number, got %s", typeName(v))
		}
	}
	return nil
}
