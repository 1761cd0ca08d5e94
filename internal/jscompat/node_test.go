package jscompat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// ---- running node/decide.mjs ----

// jsJob is decide.mjs's input (see the comment at its top).
type jsJob struct {
	Datafile     string         `json:"datafile,omitempty"`
	DatafileText string         `json:"datafileText,omitempty"`
	Users        []jsUser       `json:"users,omitempty"`
	Flags        []string       `json:"flags,omitempty"`
	Conversions  []jsConversion `json:"conversions,omitempty"`
	Mode         string         `json:"mode,omitempty"`
	Cmab         bool           `json:"cmab,omitempty"`
	Seed         string         `json:"seed,omitempty"`
	Bodies       bool           `json:"bodies,omitempty"`
}

type jsUser struct {
	UserID     string         `json:"userId"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

type jsConversion struct {
	UserID     string         `json:"userId"`
	Attributes map[string]any `json:"attributes,omitempty"`
	EventKey   string         `json:"eventKey"`
	Tags       map[string]any `json:"tags,omitempty"`
}

// jsLine is one line of decide.mjs's output.
type jsLine struct {
	Kind         string          `json:"kind"`
	UserID       string          `json:"userId"`
	Attributes   json.RawMessage `json:"attributes"`
	FlagKey      string          `json:"flagKey"`
	VariationKey *string         `json:"variationKey"`
	RuleKey      *string         `json:"ruleKey"`
	Enabled      bool            `json:"enabled"`
	EventKey     string          `json:"eventKey"`
	Tags         json.RawMessage `json:"tags"`
	LogEvents    []jsLogEvent    `json:"logEvents"`
	// The last line.
	Decisions    int    `json:"decisions"`
	Conversions  int    `json:"conversions"`
	CmabRequests int    `json:"cmabRequests"`
	SDKVersion   string `json:"sdkVersion"`
}

// jsLogEvent is what the SDK handed its event dispatcher.
type jsLogEvent struct {
	URL      string          `json:"url"`
	HTTPVerb string          `json:"httpVerb"`
	Params   json.RawMessage `json:"params"`
	Body     string          `json:"body"` // with jsJob.Bodies: the request body the SDK's dispatcher POSTs
}

const wantSDKVersion = "6.6.1"

// nodeDir returns internal/jscompat/node, or skips the test when Node.js or the SDK's
// package is missing (make nodeclient installs both).
func nodeDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not on PATH: make nodeclient (.ci/npm-ci.sh) installs Node.js and the Optimizely JavaScript SDK")
	}
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@optimizely", "optimizely-sdk")); err != nil {
		t.Skip("internal/jscompat/node/node_modules is missing: run make nodeclient (internal/jscompat/node/install.sh, npm ci)")
	}
	return dir
}

// runJS runs decide.mjs on the job and returns its decision and conversion lines.
func runJS(t *testing.T, job jsJob) (decisions, conversions []*jsLine) {
	t.Helper()
	dir := nodeDir(t)
	in, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(dir, "decide.mjs"))
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var done *jsLine
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		l := new(jsLine)
		if err := json.Unmarshal(sc.Bytes(), l); err != nil {
			t.Fatalf("decide.mjs printed a line that is not JSON (%v): %.300s", err, sc.Bytes())
		}
		switch l.Kind {
		case "decision":
			decisions = append(decisions, l)
		case "conversion":
			conversions = append(conversions, l)
		case "done":
			done = l
		default:
			t.Fatalf("decide.mjs printed a line of kind %q", l.Kind)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("decide.mjs: %v\n%s", err, stderr.Bytes())
	}
	if done == nil || done.Decisions != len(decisions) || done.Conversions != len(conversions) {
		t.Fatalf("decide.mjs ended without a matching done line (%+v; %d decisions, %d conversions)\n%s", done, len(decisions), len(conversions), stderr.Bytes())
	}
	if done.SDKVersion != wantSDKVersion {
		t.Fatalf("node_modules has @optimizely/optimizely-sdk %s, want %s: run make nodeclient", done.SDKVersion, wantSDKVersion)
	}
	if want := len(job.Users) * max(len(job.Flags), 1); len(job.Flags) > 0 && len(decisions) != want {
		t.Fatalf("decide.mjs made %d decisions, want %d", len(decisions), want)
	}
	if len(conversions) != len(job.Conversions) {
		t.Fatalf("decide.mjs tracked %d conversions, want %d", len(conversions), len(job.Conversions))
	}
	t.Logf("decide.mjs (%s): %d decisions, %d conversions, %d CMAB predictions in %v",
		orDefault(job.Mode, "sync"), len(decisions), len(conversions), done.CmabRequests, time.Since(start).Round(time.Millisecond))
	return decisions, conversions
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// ---- what the SDK dispatched ----

// jsBatch is one LogEvent's EventBatch split into its top-level fields and its visitors.
type jsBatch struct {
	url      string
	header   map[string]json.RawMessage // every top-level field but visitors
	visitors []json.RawMessage
}

func splitBatch(b []byte) (jsBatch, error) {
	var sb jsBatch
	if err := json.Unmarshal(b, &sb.header); err != nil {
		return sb, err
	}
	raw, ok := sb.header["visitors"]
	if !ok {
		return sb, fmt.Errorf("batch without visitors: %.200s", b)
	}
	delete(sb.header, "visitors")
	return sb, json.Unmarshal(raw, &sb.visitors)
}

// oneVisitor splits a LogEvent whose batch must hold exactly one visitor.
func oneVisitor(le jsLogEvent) (jsBatch, error) {
	if le.HTTPVerb != "POST" {
		return jsBatch{}, fmt.Errorf("LogEvent with httpVerb %q", le.HTTPVerb)
	}
	b, err := splitBatch(le.Params)
	if err != nil {
		return b, err
	}
	b.url = le.URL
	if len(b.visitors) != 1 {
		return b, fmt.Errorf("LogEvent with %d visitors (the forwarding processor sends one)", len(b.visitors))
	}
	return b, nil
}
