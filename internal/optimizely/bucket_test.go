package optimizely

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMurmur3KnownVectors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		seed uint32
		want uint32
	}{
		{"", 0, 0},
		{"", 1, 0x514e28b7},
		{"Hello, world!", 1234, 0xfaf6cdb3},
		{"The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2fa826cd},
	} {
		assert.Equal(t, tc.want, murmur3(tc.in, "", tc.seed), "%q seed %d", tc.in, tc.seed)
	}
}

// The two-part hash equals the hash of the concatenation at every split point.
func TestMurmur3OfConcatenation(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		s := make([]byte, r.IntN(40))
		for i := range s {
			s[i] = byte(r.IntN(256))
		}
		cut := 0
		if len(s) > 0 {
			cut = r.IntN(len(s) + 1)
		}
		assert.Equal(t, murmur3(string(s), "", 7), murmur3(string(s[:cut]), string(s[cut:]), 7))
	}
}

// Vectors from the Optimizely Go SDK's bucketer tests
// (pkg/decision/bucketer/murmurhashbucketer_test.go, TestGenerateBucketValue and
// TestBucketToEntity), also used by the other SDKs.
func TestBucketValueSDKVectors(t *testing.T) {
	assert.Equal(t, 5254, bucketValue("ppid1", "1886780721"))
	assert.Equal(t, 4299, bucketValue("ppid2", "1886780721"))
	assert.Equal(t, 2434, bucketValue("ppid2", "1886780722"))
	assert.Equal(t, 5439, bucketValue("ppid3", "1886780721"))

	alloc := []trafficRange{{"", 2500}, {"1234567123", 4999}, {"5949300123", 5399}}
	assert.Equal(t, "5949300123", bucketToEntity("ppid1", "1886780721", alloc))
	assert.Equal(t, "1234567123", bucketToEntity("ppid2", "1886780721", alloc))
	assert.Equal(t, "", bucketToEntity("ppid2", "1886780722", alloc))
	assert.Equal(t, "", bucketToEntity("ppid3", "1886780721", alloc))
}

func BenchmarkBucketValue(b *testing.B) {
	for b.Loop() {
		_ = bucketValue("user-123456", "9300000007001")
	}
}
