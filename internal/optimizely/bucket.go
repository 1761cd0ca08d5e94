package optimizely

import "math/bits"

// Bucketing as the Optimizely SDKs do it: MurmurHash3 (x86, 32-bit, seed 1) of the
// bucketing id followed by the entity (rule or group) id, scaled to [0, 10000).
const (
	hashSeed        = 1
	maxTrafficValue = 10000
)

// trafficRange gives the bucket values below endOfRange (and at or above the previous
// range's end) to entityID; an empty entityID is traffic left out.
type trafficRange struct {
	entityID   string
	endOfRange int
}

// bucketValue returns the bucket in [0, 10000) of bucketingID+entityID.
func bucketValue(bucketingID, entityID string) int {
	h := murmur3(bucketingID, entityID, hashSeed)
	return int(float64(h) / (1 << 32) * maxTrafficValue)
}

// bucketToEntity returns the entity whose range holds the bucket of
// bucketingID+parentID, or "" when the bucket falls outside every range.
func bucketToEntity(bucketingID, parentID string, ranges []trafficRange) string {
	v := bucketValue(bucketingID, parentID)
	for _, r := range ranges {
		if v < r.endOfRange {
			return r.entityID
		}
	}
	return ""
}

// murmur3 hashes the concatenation a+b without building it.
func murmur3(a, b string, seed uint32) uint32 {
	const (
		c1 = 0xcc9e2d51
		c2 = 0x1b873593
	)
	h := seed
	n := len(a) + len(b)
	at := func(i int) uint32 {
		if i < len(a) {
			return uint32(a[i])
		}
		return uint32(b[i-len(a)])
	}
	i := 0
	for ; i+4 <= n; i += 4 {
		var k uint32
		if i+4 <= len(a) {
			k = uint32(a[i]) | uint32(a[i+1])<<8 | uint32(a[i+2])<<16 | uint32(a[i+3])<<24
		} else if i >= len(a) {
			j := i - len(a)
			k = uint32(b[j]) | uint32(b[j+1])<<8 | uint32(b[j+2])<<16 | uint32(b[j+3])<<24
		} else {
			k = at(i) | at(i+1)<<8 | at(i+2)<<16 | at(i+3)<<24
		}
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	var k uint32
	switch n - i {
	case 3:
		k ^= at(i+2) << 16
		fallthrough
	case 2:
		k ^= at(i+1) << 8
		fallthrough
	case 1:
		k ^= at(i)
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
