package sdkcompat

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/optimizely/go-sdk/v2/pkg/decision/bucketer"
	"github.com/optimizely/go-sdk/v2/pkg/logging"
	"github.com/twmb/murmur3"
)

type vector struct {
	Key    string  `json:"key"`
	Bucket *int    `json:"bucket"`
	Seed   *uint32 `json:"seed"`
	Hash   *uint32 `json:"hash"`
	Source string  `json:"source"`
}

func readVectors(t *testing.T, path string) []vector {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatalf("%s has no vectors", path)
	}
	return vs
}

// TestBucketingVectors checks testdata/bucketing_vectors.json (taken from the SDK's
// tests) against the SDK's own bucketer and hash, so the file can serve other tests.
func TestBucketingVectors(t *testing.T) {
	b := bucketer.NewMurmurhashBucketer(logging.GetLogger("", "sdkcompat"), bucketer.DefaultHashSeed)
	for _, v := range readVectors(t, "testdata/bucketing_vectors.json") {
		if v.Bucket == nil {
			t.Fatalf("%q: no bucket", v.Key)
		}
		if got := b.Generate(v.Key); got != *v.Bucket {
			t.Errorf("%q: SDK bucket %d, file says %d (%s)", v.Key, got, *v.Bucket, v.Source)
		}
		if v.Hash != nil {
			if got := murmur3.SeedSum32(bucketer.DefaultHashSeed, []byte(v.Key)); got != *v.Hash {
				t.Errorf("%q: murmur3 seed 1 = %d, file says %d", v.Key, got, *v.Hash)
			}
		}
	}
}

// TestMurmur3Vectors checks testdata/murmur3_vectors.json (the reference vectors of
// github.com/twmb/murmur3, the SDK's hash library).
func TestMurmur3Vectors(t *testing.T) {
	for _, v := range readVectors(t, "testdata/murmur3_vectors.json") {
		if v.Seed == nil || v.Hash == nil {
			t.Fatalf("%q: no seed or hash", v.Key)
		}
		if got := murmur3.SeedSum32(*v.Seed, []byte(v.Key)); got != *v.Hash {
			t.Errorf("%q seed %d: murmur3 %#x, file says %#x (%s)", v.Key, *v.Seed, got, *v.Hash, v.Source)
		}
	}
}
