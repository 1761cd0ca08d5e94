// Package jsnum reads and prints numbers as JavaScript does, where the newest SDKs
// (Optimizely JavaScript 6.x, vwo-node-sdk) decide what an event carries: parseInt,
// parseFloat and Number.prototype.toString.
package jsnum // import "github.com/experimentationexporter/experimentationexporter/internal/jsnum"

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

var (
	floatRE = regexp.MustCompile(`^[+-]?(Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)`)
	intRE   = regexp.MustCompile(`^[+-]?\d+`)
)

const space = " \t\n\r\v\f"

// ParseFloat is JavaScript's parseFloat: the longest numeric prefix after white space.
func ParseFloat(s string) (float64, bool) {
	m := floatRE.FindString(strings.TrimLeft(s, space))
	if m == "" {
		return 0, false
	}
	if strings.HasSuffix(m, "Infinity") {
		if m[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	f, err := strconv.ParseFloat(m, 64)
	return f, err == nil
}

// ParseInt is JavaScript's parseInt(s) in base 10: the longest integer prefix after
// white space, as a float64 (JavaScript numbers are doubles).
func ParseInt(s string) (float64, bool) {
	m := intRE.FindString(strings.TrimLeft(s, space))
	if m == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(m, 64)
	return f, err == nil
}

// Format is JavaScript's Number.prototype.toString.
func Format(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	abs := math.Abs(f)
	if abs >= 1e21 || abs < 1e-6 {
		s := strconv.FormatFloat(f, 'e', -1, 64) // 1.5e+21, 1e-07
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		exp = strings.TrimLeft(exp[1:], "0")
		return mant + "e" + string(sign) + exp
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
