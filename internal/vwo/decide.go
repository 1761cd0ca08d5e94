package vwo

import (
	"math"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The VWO FullStack SDKs' decision (vwo-node-sdk 1.73.0 lib/utils/DecisionUtil.js,
// lib/core/BucketingService.js, lib/utils/CampaignUtil.js), without a user storage
// service: whitelisting, pre-segmentation, the traffic check, the mutually exclusive
// group, then the variation's bucket. Where the Go SDK (v1.26.0) differs, the Node SDK
// is followed (README "VWO: keys, names and ids").

const (
	maxTrafficPercent = 100
	maxTrafficValue   = 10000
)

// allocate gives each variation its bucket range from its weight, in order:
// ceil(weight*100) values each, 1-based; a variation of weight 0 gets none (-1).
func allocate(vars []variation) {
	current := 0
	for i := range vars {
		step := bucketRange(vars[i].weight)
		if step == 0 {
			vars[i].start, vars[i].end = -1, -1
			continue
		}
		vars[i].start, vars[i].end = current+1, current+step
		current += step
	}
}

func bucketRange(weight float64) int {
	if weight == 0 || math.IsNaN(weight) {
		return 0
	}
	return int(min(math.Ceil(weight*100), maxTrafficValue))
}

// bucketValue is floor((max*hash/2^32 + 1) * multiplier), in float64 as JavaScript
// computes it, for the seed seed.
func bucketValue(seed []byte, max, multiplier float64) int {
	ratio := float64(hashJS(seed)) / (1 << 32)
	return int(math.Floor((max*ratio + 1) * multiplier))
}

// pick is the variation whose range holds value, or nil.
func pick(vars []variation, value int) *variation {
	for i := range vars {
		if value >= vars[i].start && value <= vars[i].end {
			return &vars[i]
		}
	}
	return nil
}

// seed appends the bucketing seed of a user for a campaign to dst: "<campaign id>_<user>"
// when the account uses the newer bucketing or the campaign has isBucketingSeedEnabled.
func (s *Settings) seed(dst []byte, user string, c *Campaign) []byte {
	if s.isNB || s.isNBv2 || c.seedEnabled {
		dst = strconv.AppendInt(dst, c.ID, 10)
		dst = append(dst, '_')
	}
	return append(dst, user...)
}

// inTraffic is the SDKs' isUserPartOfCampaign: a value 1..100 within percentTraffic.
func (s *Settings) inTraffic(user string, c *Campaign) bool {
	var buf [128]byte
	v := bucketValue(s.seed(buf[:0], user, c), maxTrafficPercent, 1)
	return v != 0 && float64(v) <= c.percentTraffic
}

// bucket is the SDKs' bucketUserToVariation.
func (s *Settings) bucket(user string, c *Campaign) *variation {
	var buf [128]byte
	seed := buf[:0]
	multiplier := 1.0
	switch {
	case ((!s.isNB && !s.isNBv2) || (s.isNB && c.isOB)) && c.percentTraffic != 0:
		// The legacy multiplier spreads the traffic's share over all 10000 values.
		multiplier = maxTrafficValue / c.percentTraffic / 100
		seed = s.seed(seed, user, c)
	case (s.isNB && !c.isOB && !s.isNBv2) || (s.isNBv2 && c.isOBv2):
		seed = append(seed, user...)
	default:
		if s.isNB || s.isNBv2 || c.seedEnabled {
			seed = append(strconv.AppendInt(seed, c.ID, 10), '_')
		}
		seed = append(append(append(seed, s.AccountID...), '_'), user...)
	}
	return pick(c.vars, bucketValue(seed, maxTrafficValue, multiplier))
}

// allotted is the SDKs' getVariationAllotted: the traffic check, then the bucket.
func (s *Settings) allotted(user string, c *Campaign) *variation {
	if !s.inTraffic(user, c) {
		return nil
	}
	return s.bucket(user, c)
}

// Decide returns the variation the SDKs give user in campaign c (no user storage), or
// nil when the user is not in it: attrs stand for both the customVariables of
// pre-segmentation and the variationTargetingVariables of whitelisting.
func (s *Settings) Decide(c *Campaign, user string, attrs pcommon.Map) *variation {
	vars := segmentVars{attrs: attrs, userID: user}
	if c.userListSeed {
		vars.userID = VisitorUUID(mustAccount(s.AccountID), user)
	}
	if v := s.whitelisted(c, user, vars); v != nil {
		return v
	}
	custom := segmentVars{attrs: attrs, noUserID: true}
	if !c.segments.eval(custom) || !s.inTraffic(user, c) {
		return nil
	}
	if g := c.group; g != nil {
		if len(g.campaigns) == 0 {
			return nil
		}
		// Another campaign of the group that whitelists the user wins.
		for _, gc := range g.campaigns {
			if gc.ID != c.ID && s.whitelisted(gc, user, vars) != nil {
				return nil
			}
		}
		var eligible []*Campaign
		for _, gc := range g.campaigns {
			if gc.segments.eval(custom) && s.inTraffic(user, gc) {
				eligible = append(eligible, gc)
			}
		}
		if len(eligible) == 1 {
			return s.allotted(user, eligible[0])
		}
		if w := s.winner(g, eligible, user); w == nil || w.ID != c.ID {
			return nil
		}
	}
	return s.allotted(user, c)
}

// winner picks the group's campaign for the user among the eligible ones: by priority
// then weights (et 2), else evenly.
func (s *Settings) winner(g *group, eligible []*Campaign, user string) *Campaign {
	type weighted struct {
		c          *Campaign
		start, end int
	}
	var list []weighted
	add := func(c *Campaign, weight float64, current *int) {
		w := weighted{c: c, start: -1, end: -1}
		if step := bucketRange(weight); step != 0 {
			w.start, w.end = *current+1, *current+step
			*current += step
		}
		list = append(list, w)
	}
	current := 0
	if g.advanced {
		for _, id := range g.priority {
			for _, c := range eligible {
				if c.ID == id {
					return c
				}
			}
		}
		for _, c := range eligible {
			if w, ok := g.weights[c.ID]; ok {
				add(c, w, &current)
			}
		}
	} else {
		for _, c := range eligible {
			add(c, math.Floor(float64(100)/float64(len(eligible))), &current)
		}
	}
	var buf [128]byte
	v := bucketValue(append(append(append(buf[:0], g.id...), '_'), user...), maxTrafficValue, 1)
	for _, w := range list {
		if v >= w.start && v <= w.end {
			return w.c
		}
	}
	return nil
}

// whitelisted is the variation whose segments the user's variables match, when the
// campaign has forced variations on: with several, the SDKs bucket among them with
// their weights scaled to 100.
func (s *Settings) whitelisted(c *Campaign, user string, vars segmentVars) *variation {
	if !c.forcedVariations {
		return nil
	}
	var targeted []variation
	for _, v := range c.vars {
		if v.hasSegments && v.segments != nil && v.segments.eval(vars) {
			targeted = append(targeted, v)
		}
	}
	switch len(targeted) {
	case 0:
		return nil
	case 1:
		return c.byVariationID(targeted[0].id)
	}
	total := 0.0
	for _, v := range targeted {
		total += v.weight
	}
	for i := range targeted {
		if total == 0 {
			targeted[i].weight = 100 / float64(len(targeted))
		} else {
			targeted[i].weight = targeted[i].weight / total * 100
		}
	}
	allocate(targeted)
	var buf [128]byte
	if v := pick(targeted, bucketValue(s.seed(buf[:0], user, c), maxTrafficValue, 1)); v != nil {
		return c.byVariationID(v.id)
	}
	return nil
}

func (c *Campaign) byVariationID(id int64) *variation {
	for i := range c.vars {
		if c.vars[i].id == id {
			return &c.vars[i]
		}
	}
	return nil
}

func mustAccount(id string) int64 {
	n, _ := strconv.ParseInt(id, 10, 64)
	return n
}

// hashJS is MurmurHash3 x86_32 with seed 1 over the (UTF-8) text as the SDKs' JavaScript
// murmurhash reads it: one byte per UTF-16 code unit, its low 8 bits. The same as over
// the bytes for ASCII; the Go SDK hashes the UTF-8 bytes instead.
func hashJS(text []byte) uint32 {
	ascii := true
	for _, c := range text {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return murmur3(text, 1)
	}
	var scratch [128]byte
	b := scratch[:0]
	{
		for _, r := range string(text) {
			if r >= 0x10000 {
				r -= 0x10000
				b = append(b, byte(0xd800+(r>>10)), byte(0xdc00+(r&0x3ff)))
				continue
			}
			b = append(b, byte(r))
		}
	}
	return murmur3(b, 1)
}

func murmur3(data []byte, seed uint32) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h := seed
	n := len(data) / 4 * 4
	for i := 0; i < n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= c1
		k = k<<15 | k>>17
		k *= c2
		h ^= k
		h = h<<13 | h>>19
		h = h*5 + 0xe6546b64
	}
	var k uint32
	switch len(data) - n {
	case 3:
		k ^= uint32(data[n+2]) << 16
		fallthrough
	case 2:
		k ^= uint32(data[n+1]) << 8
		fallthrough
	case 1:
		k ^= uint32(data[n])
		k *= c1
		k = k<<15 | k>>17
		k *= c2
		h ^= k
	}
	h ^= uint32(len(data))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
