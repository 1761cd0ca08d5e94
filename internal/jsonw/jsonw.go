// Package jsonw appends JSON to byte slices without reflection, so building an event
// costs no allocations beyond the growth of the caller's buffer.
package jsonw // import "github.com/experimentationexporter/experimentationexporter/internal/jsonw"

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

const hex = "0123456789abcdef"

// safe marks the ASCII bytes a JSON string carries as they are.
var safe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// MaxSafeInteger is 2^53: numbers beyond it lose precision in JavaScript-based backends.
const MaxSafeInteger = 1 << 53

// maxDepth bounds recursion into nested maps and slices of attribute values.
const maxDepth = 16

// String appends s as a JSON string. Invalid UTF-8 is replaced by U+FFFD so the
// output is always valid JSON.
func String(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if safe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 break JavaScript parsers; escape them as encoding/json does.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Int appends an integer.
func Int(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// Float appends a finite float in the shortest form that round-trips. The caller must
// have rejected NaN and ±Inf, which JSON cannot carry.
func Float(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// Finite reports whether f can be written as a JSON number.
func Finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Value appends an OTLP attribute value as JSON: maps become objects, slices arrays,
// bytes base64 strings. NaN and ±Inf become null, and nesting deeper than 16 levels is
// cut off with null, so any input yields valid JSON.
func Value(dst []byte, v pcommon.Value) []byte { return value(dst, v, 0) }

func value(dst []byte, v pcommon.Value, depth int) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return String(dst, v.Str())
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(dst, v.Bool())
	case pcommon.ValueTypeInt:
		return Int(dst, v.Int())
	case pcommon.ValueTypeDouble:
		if !Finite(v.Double()) {
			return append(dst, "null"...)
		}
		return Float(dst, v.Double())
	case pcommon.ValueTypeMap:
		if depth >= maxDepth {
			return append(dst, "null"...)
		}
		return Map(dst, v.Map(), depth+1)
	case pcommon.ValueTypeSlice:
		if depth >= maxDepth {
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = value(dst, s.At(i), depth+1)
		}
		return append(dst, ']')
	case pcommon.ValueTypeBytes:
		return String(dst, v.AsString())
	default:
		return append(dst, "null"...)
	}
}

// Map appends m as a JSON object.
func Map(dst []byte, m pcommon.Map, depth int) []byte {
	dst, _ = OpenMap(dst, m, depth)
	return append(dst, '}')
}

// OpenMap appends m as a JSON object without its closing brace, leaving out the keys
// in skip, so the caller can add members; it returns how many members it wrote.
func OpenMap(dst []byte, m pcommon.Map, depth int, skip ...string) ([]byte, int) {
	dst = append(dst, '{')
	n := 0
	for k, v := range m.All() {
		if slices.Contains(skip, k) {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = String(dst, k)
		dst = append(dst, ':')
		dst = value(dst, v, depth)
	}
	return dst, n
}

// TruncateRunes cuts s to at most n characters (runes), never inside one.
func TruncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
