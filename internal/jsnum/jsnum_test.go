package jsnum

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Expected values are what node prints for the same calls.
func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in  string
		f   float64
		fok bool
		i   float64
		iok bool
	}{
		{"4200", 4200, true, 4200, true},
		{" 42.5abc", 42.5, true, 42, true},
		{"-0.5", -0.5, true, 0, true}, // parseInt("-0.5") is -0
		{".5", 0.5, true, 0, false},
		{"1e3", 1000, true, 1, true},
		{"+7", 7, true, 7, true},
		{"Infinity", math.Inf(1), true, 0, false},
		{"abc", 0, false, 0, false},
		{"", 0, false, 0, false},
	} {
		f, ok := ParseFloat(tt.in)
		assert.Equal(t, tt.fok, ok, tt.in)
		if ok {
			assert.Equal(t, tt.f, f, tt.in)
		}
		i, ok := ParseInt(tt.in)
		assert.Equal(t, tt.iok, ok, tt.in)
		if ok {
			assert.Equal(t, tt.i, i, tt.in)
		}
	}
}

func TestFormat(t *testing.T) {
	for in, want := range map[float64]string{
		30: "30", 1.5: "1.5", -0.25: "-0.25", 1e21: "1e+21", 1.5e-7: "1.5e-7", 123456789012: "123456789012",
		0.000001: "0.000001", math.NaN(): "NaN", math.Inf(-1): "-Infinity",
	} {
		assert.Equal(t, want, Format(in))
	}
}
