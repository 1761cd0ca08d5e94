package uuid5

import (
	"fmt"
	"testing"
)

func TestKnownVector(t *testing.T) {
	// Python: uuid.uuid5(uuid.NAMESPACE_URL, "https://vwo.com")
	u := Sum(NamespaceURL, []byte("https://vwo.com"))
	got := fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
	if want := "11e13cd7-6c48-53ec-8679-7e9c752273c5"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
