// Package privacy is the gate between a record's visitor data and what leaves for an
// experimentation platform: attribute allow/deny lists, value detectors, caps and a
// keyed hash of visitor ids. A nil *Gate lets everything through at no cost.
package privacy // import "github.com/experimentationexporter/experimentationexporter/internal/privacy"

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/experimentationexporter/experimentationexporter/internal/jsonw"
)

// Config is the exporter's privacy section. The zero value changes nothing.
type Config struct {
	VisitorAttributes AttributeRules `mapstructure:"visitor_attributes"`
	VisitorID         VisitorID      `mapstructure:"visitor_id"`
	// DropValuesMatching names detectors (email, ip, card) and regular expressions; an
	// attribute whose value matches one is dropped (or hashed, see MatchedValues).
	DropValuesMatching []string `mapstructure:"drop_values_matching"`
	// MatchedValues is drop (default) or hash (HMAC with visitor_id::key).
	MatchedValues string `mapstructure:"matched_values"`
	// MaxAttributes caps the attributes sent per visitor (0: no cap); the rest are dropped.
	MaxAttributes int `mapstructure:"max_attributes"`
	// MaxValueLength caps string values in characters (0: no cap); longer ones are
	// truncated, or dropped when OversizeValues is drop.
	MaxValueLength int    `mapstructure:"max_value_length"`
	OversizeValues string `mapstructure:"oversize_values"`
	// ForceAnonymizeIP sets Optimizely's anonymize_ip whatever the datafile says and
	// drops VWO's visitor_ip.
	ForceAnonymizeIP bool `mapstructure:"force_anonymize_ip"`
}

// AttributeRules are glob patterns (path.Match: *, ?, [...]) over attribute keys. An
// empty Allow allows every key; Deny wins over Allow.
type AttributeRules struct {
	Allow []string `mapstructure:"allow"`
	Deny  []string `mapstructure:"deny"`
}

// VisitorID says what becomes of visitor ids: keep (default) or hash.
type VisitorID struct {
	Mode string              `mapstructure:"mode"`
	Key  configopaque.String `mapstructure:"key"`
}

// Detectors built in to drop_values_matching.
const (
	DetectEmail = "email"
	DetectIP    = "ip"
	DetectCard  = "card"
)

// Validate names every bad value.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, list := range []struct {
		name     string
		patterns []string
	}{{"allow", c.VisitorAttributes.Allow}, {"deny", c.VisitorAttributes.Deny}} {
		for _, p := range list.patterns {
			if _, err := path.Match(p, ""); err != nil || p == "" {
				add("privacy::visitor_attributes::%s: %q is not a valid glob pattern", list.name, p)
			}
		}
	}
	switch c.VisitorID.Mode {
	case "", "keep":
	case "hash":
		if len(c.VisitorID.Key) < 16 {
			add("privacy::visitor_id::key must be set (at least 16 characters) when privacy::visitor_id::mode is hash")
		}
	default:
		add("privacy::visitor_id::mode must be keep or hash, got %q", c.VisitorID.Mode)
	}
	for _, d := range c.DropValuesMatching {
		switch d {
		case DetectEmail, DetectIP, DetectCard:
		default:
			if _, err := regexp.Compile(d); err != nil {
				add("privacy::drop_values_matching: %q is neither a detector (email, ip, card) nor a valid regular expression: %v", d, err)
			}
		}
	}
	switch c.MatchedValues {
	case "", "drop":
	case "hash":
		if len(c.VisitorID.Key) < 16 {
			add("privacy::matched_values hash needs privacy::visitor_id::key (at least 16 characters)")
		}
	default:
		add("privacy::matched_values must be drop or hash, got %q", c.MatchedValues)
	}
	switch c.OversizeValues {
	case "", "truncate", "drop":
	default:
		add("privacy::oversize_values must be truncate or drop, got %q", c.OversizeValues)
	}
	if c.MaxAttributes < 0 {
		add("privacy::max_attributes must not be negative, got %d", c.MaxAttributes)
	}
	if c.MaxValueLength < 0 {
		add("privacy::max_value_length must not be negative, got %d", c.MaxValueLength)
	}
	return errors.Join(errs...)
}

// Reason is why the gate removed or changed an attribute, as counted in metrics.
type Reason uint8

// The reasons.
const (
	NotAllowed Reason = iota
	Denied
	Email
	IP
	Card
	Pattern
	MaxAttributes
	Truncated
	Oversize
	Hashed
	NumReasons
)

var reasonNames = [NumReasons]string{"not_allowed", "denied", "email", "ip", "card", "pattern", "max_attributes", "truncated", "oversize", "hashed"}

func (r Reason) String() string { return reasonNames[r] }

// Counts tallies the gate's work on one record.
type Counts [NumReasons]uint16

// Gate applies a Config. It is immutable and safe for concurrent use.
type Gate struct {
	allow, deny      keyPatterns
	allowAll         bool
	email, ip, card  bool
	patterns         []*regexp.Regexp
	hashValues       bool
	maxAttrs, maxLen int
	dropOversize     bool
	hashIDs          bool
	anonymizeIP      bool
	macs             sync.Pool // hash.Hash keyed with visitor_id::key
}

// New returns the gate for c, or nil when c changes nothing. c must be valid.
func New(c Config) *Gate {
	if c.VisitorID.Mode != "hash" && len(c.VisitorAttributes.Allow) == 0 && len(c.VisitorAttributes.Deny) == 0 &&
		len(c.DropValuesMatching) == 0 && c.MaxAttributes == 0 && c.MaxValueLength == 0 && !c.ForceAnonymizeIP {
		return nil
	}
	g := &Gate{
		allowAll:     len(c.VisitorAttributes.Allow) == 0,
		hashValues:   c.MatchedValues == "hash",
		maxAttrs:     c.MaxAttributes,
		maxLen:       c.MaxValueLength,
		dropOversize: c.OversizeValues == "drop",
		hashIDs:      c.VisitorID.Mode == "hash",
		anonymizeIP:  c.ForceAnonymizeIP,
	}
	g.allow = newKeyPatterns(c.VisitorAttributes.Allow)
	g.deny = newKeyPatterns(c.VisitorAttributes.Deny)
	for _, d := range c.DropValuesMatching {
		switch d {
		case DetectEmail:
			g.email = true
		case DetectIP:
			g.ip = true
		case DetectCard:
			g.card = true
		default:
			g.patterns = append(g.patterns, regexp.MustCompile(d))
		}
	}
	key := []byte(c.VisitorID.Key)
	g.macs.New = func() any { return hmac.New(sha256.New, key) }
	return g
}

// ForceAnonymizeIP reports whether IPs must never leave.
func (g *Gate) ForceAnonymizeIP() bool { return g != nil && g.anonymizeIP }

// HashesVisitorIDs reports whether visitor ids leave hashed.
func (g *Gate) HashesVisitorIDs() bool { return g != nil && g.hashIDs }

// VisitorID returns the id to send for a visitor: the id itself, or its HMAC-SHA256
// with visitor_id::key in lowercase hex.
func (g *Gate) VisitorID(v pcommon.Value) pcommon.Value {
	if !g.HashesVisitorIDs() {
		return v
	}
	var scratch [32]byte
	var raw []byte
	if v.Type() == pcommon.ValueTypeInt {
		raw = strconv.AppendInt(scratch[:0], v.Int(), 10)
	} else {
		raw = []byte(v.Str())
	}
	return pcommon.NewValueStr(g.mac(raw))
}

func (g *Gate) mac(b []byte) string {
	h := g.macs.Get().(hash.Hash)
	h.Reset()
	h.Write(b)
	var sum [sha256.Size]byte
	s := hex.EncodeToString(h.Sum(sum[:0]))
	g.macs.Put(h)
	return s
}

// Attribute decides what of one visitor attribute leaves. kept is how many of the
// visitor's attributes were kept so far. It returns keep=false to drop the attribute;
// with replaced=true the value to send is the string s instead of v. Removals and
// changes are counted in c; values are never logged.
func (g *Gate) Attribute(key string, v pcommon.Value, kept int, c *Counts) (s string, replaced, keep bool) {
	if g == nil {
		return "", false, true
	}
	if g.deny.match(key) {
		c[Denied]++
		return "", false, false
	}
	if !g.allowAll && !g.allow.match(key) {
		c[NotAllowed]++
		return "", false, false
	}
	if g.maxAttrs > 0 && kept >= g.maxAttrs {
		c[MaxAttributes]++
		return "", false, false
	}
	var text string
	switch v.Type() {
	case pcommon.ValueTypeStr:
		text = v.Str()
	case pcommon.ValueTypeInt:
		// Only an integer of 13 or more digits can be a card number.
		if n := v.Int(); g.card && (n >= 1e12 || n <= -1e12) {
			if text := strconv.FormatInt(n, 10); luhnRun(text) {
				return g.matched(Card, []byte(text), c)
			}
		}
		return "", false, true
	default:
		return "", false, true
	}
	if r, ok := g.detect(text); ok {
		return g.matched(r, []byte(text), c)
	}
	if g.maxLen > 0 && len(text) > g.maxLen && utf8.RuneCountInString(text) > g.maxLen {
		if g.dropOversize {
			c[Oversize]++
			return "", false, false
		}
		c[Truncated]++
		return jsonw.TruncateRunes(text, g.maxLen), true, true
	}
	return "", false, true
}

func (g *Gate) matched(r Reason, value []byte, c *Counts) (string, bool, bool) {
	c[r]++
	if g.hashValues {
		c[Hashed]++
		return g.mac(value), true, true
	}
	return "", false, false
}

// detect runs the configured detectors over a string value.
func (g *Gate) detect(s string) (Reason, bool) {
	if g.email && hasEmail(s) {
		return Email, true
	}
	if g.ip && isIP(s) {
		return IP, true
	}
	if g.card && luhnRun(s) {
		return Card, true
	}
	for _, re := range g.patterns {
		if re.MatchString(s) {
			return Pattern, true
		}
	}
	return 0, false
}

// keyPatterns are glob patterns sorted by shape: names without wildcards, "prefix*"
// and "*suffix" (the common ones) match without path.Match. Attribute lists are short:
// a scan that compares lengths first beats hashing the key.
type keyPatterns struct {
	exact, prefixes, suffixes, other []string
}

func newKeyPatterns(patterns []string) keyPatterns {
	const special = `*?[\`
	var kp keyPatterns
	for _, p := range patterns {
		switch rest := p[min(1, len(p)):]; {
		case !strings.ContainsAny(p, special):
			kp.exact = append(kp.exact, p)
		case strings.HasSuffix(p, "*") && !strings.ContainsAny(p[:len(p)-1], special):
			kp.prefixes = append(kp.prefixes, p[:len(p)-1])
		case strings.HasPrefix(p, "*") && !strings.ContainsAny(rest, special):
			kp.suffixes = append(kp.suffixes, rest)
		default:
			kp.other = append(kp.other, p)
		}
	}
	return kp
}

func (kp *keyPatterns) match(key string) bool {
	for _, e := range kp.exact {
		if e == key {
			return true
		}
	}
	for _, p := range kp.prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	for _, s := range kp.suffixes {
		if strings.HasSuffix(key, s) {
			return true
		}
	}
	for _, p := range kp.other {
		if ok, _ := path.Match(p, key); ok {
			return true
		}
	}
	return false
}

// hasEmail reports whether s contains something shaped like an e-mail address:
// local@domain.tld with the usual characters.
func hasEmail(s string) bool {
	for at := strings.IndexByte(s, '@'); at >= 0; {
		if at > 0 && isLocalChar(s[at-1]) && domainAt(s[at+1:]) {
			return true
		}
		next := strings.IndexByte(s[at+1:], '@')
		if next < 0 {
			return false
		}
		at += 1 + next
	}
	return false
}

func isLocalChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._%+-", c) >= 0
}

// domainAt reports whether s starts with a domain: labels of letters, digits and
// hyphens separated by dots, ending with a label of at least two letters (a full stop
// after it, as in a sentence, still counts).
func domainAt(s string) bool {
	dots, label := 0, 0
	alpha := true // the current label is letters only
	complete := func() bool { return dots > 0 && label >= 2 && alpha }
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			label++
		case c >= '0' && c <= '9' || c == '-':
			label++
			alpha = false
		case c == '.' && label > 0:
			if complete() && (i+1 == len(s) || !isDomainChar(s[i+1])) {
				return true
			}
			dots++
			label, alpha = 0, true
		default:
			return complete()
		}
	}
	return complete()
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

// isIP reports whether s is an IPv4 or IPv6 address (with or without a port).
func isIP(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	// Most values hold a character no address has: skip the parser and its error.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':' || c == '[' || c == ']' || c == '%') {
			return false
		}
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParseAddrPort(s)
	return err == nil
}

// luhnRun reports whether s holds a run of 13 to 19 digits (single spaces or dashes
// between them allowed) that passes the Luhn check: a card-number-like value.
func luhnRun(s string) bool {
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		// The whole run, however long: a run longer than a card is no card.
		var digits [19]byte
		n, j := 0, i
		for j < len(s) {
			c := s[j]
			if c >= '0' && c <= '9' {
				if n < len(digits) {
					digits[n] = c - '0'
				}
				n++
				j++
			} else if (c == ' ' || c == '-') && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9' {
				j++
			} else {
				break
			}
		}
		if n >= 13 && n <= len(digits) && luhn(digits[:n]) && !allSame(digits[:n]) {
			return true
		}
		i = j
	}
	return false
}

func allSame(d []byte) bool {
	for _, c := range d {
		if c != d[0] {
			return false
		}
	}
	return true
}

func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i])
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}
