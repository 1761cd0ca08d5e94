package privacy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestZeroConfigIsNoGate(t *testing.T) {
	var c Config
	require.NoError(t, c.Validate())
	g := New(c)
	assert.Nil(t, g)
	var counts Counts
	_, replaced, keep := g.Attribute("email", pcommon.NewValueStr("a@b.example"), 0, &counts)
	assert.True(t, keep)
	assert.False(t, replaced)
	v := pcommon.NewValueStr("user-1")
	assert.Equal(t, v, g.VisitorID(v))
}

// RFC 4231 test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?").
func TestHMACVector(t *testing.T) {
	g := New(Config{VisitorID: VisitorID{Mode: "hash", Key: "Jefe"}})
	assert.Equal(t, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		g.VisitorID(pcommon.NewValueStr("what do ya want for nothing?")).Str())
}

func TestHashedVisitorIDIsStableAndNeverTheRawID(t *testing.T) {
	key := "a-secret-of-32-characters-length"
	g1 := New(Config{VisitorID: VisitorID{Mode: "hash", Key: "a-secret-of-32-characters-length"}})
	g2 := New(Config{VisitorID: VisitorID{Mode: "hash", Key: "a-secret-of-32-characters-length"}}) // another replica, or after a restart
	other := New(Config{VisitorID: VisitorID{Mode: "hash", Key: "another-secret-of-32-characters!"}})
	for _, raw := range []pcommon.Value{pcommon.NewValueStr("user-123"), pcommon.NewValueInt(42), pcommon.NewValueStr("alice@example.com")} {
		h := g1.VisitorID(raw).Str()
		assert.Equal(t, h, g2.VisitorID(raw).Str(), "stable across instances")
		assert.NotEqual(t, raw.AsString(), h)
		assert.NotContains(t, h, raw.AsString())
		assert.NotContains(t, h, key)
		assert.Len(t, h, 64)
		assert.Equal(t, strings.ToLower(h), h)
		assert.NotEqual(t, h, other.VisitorID(raw).Str(), "the key matters")
	}
	assert.Equal(t, g1.VisitorID(pcommon.NewValueInt(42)).Str(), g1.VisitorID(pcommon.NewValueStr("42")).Str(), "an int id hashes like its text")
}

func TestDetectors(t *testing.T) {
	for _, tc := range []struct {
		value string
		email bool
		ip    bool
		card  bool
	}{
		{"alice@example.com", true, false, false},
		{"contact: Bob.Smith+tag@mail.example.co.uk please", true, false, false},
		{"@handle", false, false, false},
		{"user@localhost", false, false, false},
		{"a@b.c", false, false, false},
		{"192.168.1.20", false, true, false},
		{"2001:db8::1", false, true, false},
		{"10.0.0.1:8080", false, true, false},
		{"1.2.3", false, false, false},
		{"4111 1111 1111 1111", false, false, true},
		{"card 5500-0000-0000-0004 exp 12/29", false, false, true},
		{"4111111111111112", false, false, false}, // fails Luhn
		{"123456789012", false, false, false},     // too short
		{"order 2024-11-23", false, false, false},
		{"pro", false, false, false},
		{"write to a@example.com.", true, false, false},
		{"a@example.com. Thanks", true, false, false},
		{"a@example.c.", false, false, false},
		{"0000000000000", false, false, false},
		{"12345678901234567890124111111111111111", false, false, false}, // one long digit run, not a card
		{"id 4111111111111111", false, false, true},
	} {
		assert.Equal(t, tc.email, hasEmail(tc.value), "email %q", tc.value)
		assert.Equal(t, tc.ip, isIP(tc.value), "ip %q", tc.value)
		assert.Equal(t, tc.card, luhnRun(tc.value), "card %q", tc.value)
	}
}

func TestAttributeRules(t *testing.T) {
	c := Config{
		VisitorAttributes:  AttributeRules{Allow: []string{"plan", "country*", "email*", "note"}, Deny: []string{"email*"}},
		DropValuesMatching: []string{"email", "ip", "card", "^secret-.*"},
		MaxAttributes:      3,
		MaxValueLength:     5,
	}
	require.NoError(t, c.Validate())
	g := New(c)
	var counts Counts
	type out struct {
		s              string
		replaced, keep bool
	}
	check := func(key string, v pcommon.Value, kept int) out {
		s, r, k := g.Attribute(key, v, kept, &counts)
		return out{s, r, k}
	}
	assert.Equal(t, out{"", false, true}, check("plan", pcommon.NewValueStr("pro"), 0))
	assert.Equal(t, out{"", false, true}, check("country_code", pcommon.NewValueStr("DE"), 0))
	assert.Equal(t, out{"", false, false}, check("email_hash", pcommon.NewValueStr("x"), 0), "deny wins over allow")
	assert.Equal(t, out{"", false, false}, check("age", pcommon.NewValueInt(34), 0), "not in the allowlist")
	assert.Equal(t, out{"", false, false}, check("note", pcommon.NewValueStr("mail bob@example.org"), 0))
	assert.Equal(t, out{"", false, false}, check("note", pcommon.NewValueStr("10.1.2.3"), 0))
	assert.Equal(t, out{"", false, false}, check("note", pcommon.NewValueInt(4111111111111111), 0), "a card number as an int")
	assert.Equal(t, out{"", false, false}, check("note", pcommon.NewValueStr("secret-42"), 0))
	assert.Equal(t, out{"überl", true, true}, check("note", pcommon.NewValueStr("überlang"), 0), "truncated to 5 characters, not bytes")
	assert.Equal(t, out{"", false, false}, check("plan", pcommon.NewValueStr("pro"), 3), "the fourth attribute")
	assert.Equal(t, Counts{NotAllowed: 1, Denied: 1, Email: 1, IP: 1, Card: 1, Pattern: 1, MaxAttributes: 1, Truncated: 1}, counts)

	hashing := New(Config{DropValuesMatching: []string{"email"}, MatchedValues: "hash", VisitorID: VisitorID{Key: "0123456789abcdef"}})
	counts = Counts{}
	s, replaced, keep := hashing.Attribute("contact", pcommon.NewValueStr("bob@example.org"), 0, &counts)
	assert.True(t, keep)
	assert.True(t, replaced)
	assert.Len(t, s, 64)
	assert.Equal(t, Counts{Email: 1, Hashed: 1}, counts)
}

func TestValidate(t *testing.T) {
	c := Config{
		VisitorAttributes:  AttributeRules{Allow: []string{"[bad"}},
		VisitorID:          VisitorID{Mode: "hash", Key: "short"},
		DropValuesMatching: []string{"phone", "(unclosed"},
		MatchedValues:      "mask",
		OversizeValues:     "cut",
		MaxAttributes:      -1,
		MaxValueLength:     -1,
	}
	err := c.Validate()
	require.Error(t, err)
	for _, want := range []string{
		`privacy::visitor_attributes::allow: "[bad" is not a valid glob pattern`,
		"privacy::visitor_id::key must be set (at least 16 characters)",
		`privacy::drop_values_matching: "(unclosed" is neither a detector`,
		"privacy::matched_values must be drop or hash",
		"privacy::oversize_values must be truncate or drop",
		"privacy::max_attributes must not be negative",
		"privacy::max_value_length must not be negative",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), `"phone"`, "a plain word is a valid regular expression")
}

func TestGlobShapes(t *testing.T) {
	g := New(Config{VisitorAttributes: AttributeRules{Allow: []string{"plan", "country*", "*_tier", "dev?ce", "[ab]x"}}})
	for key, want := range map[string]bool{
		"plan": true, "plans": false, "country": true, "country_code": true, "gold_tier": true, "tier": false,
		"device": true, "devxce": true, "devices": false, "ax": true, "cx": false,
	} {
		var c Counts
		_, _, keep := g.Attribute(key, pcommon.NewValueStr("v"), 0, &c)
		assert.Equal(t, want, keep, key)
	}
}
