package experimentationexporter

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateREADME = flag.Bool("update-readme", false,
	"TestREADMESnippets rewrites README.md's marked blocks from their files instead of comparing")

// The README's code and config blocks are files under examples/ that CI builds, runs or
// validates (examples/README.md says how); these tests keep the README's text equal to
// those files.
//
// A marker on the line right before a block's opening fence names its file:
//
//	<!-- snippet: examples/go/impressions/main.go -->       the block is the whole file
//	<!-- snippet: examples/go/rulekey/main.go#hook -->       the block is the region "hook"
//
// A region is the lines between a line "snippet:start NAME" and a line "snippet:end NAME"
// (after the file's comment prefix: "// snippet:start hook", "# snippet:start hook"),
// without the two marker lines and without their common indentation. A block indented
// under a list item is compared without the indentation of its fence.

// snippetLangs are the fence languages whose blocks must carry a marker. Every fence must
// name a language, so that none escapes the check unlabelled.
var snippetLangs = map[string]bool{
	"go": true, "js": true, "javascript": true, "mjs": true, "ts": true, "typescript": true,
	"yaml": true, "yml": true, "json": true,
}

var (
	fenceOpen   = regexp.MustCompile("^( *)(```+)(.*)$")
	snippetMark = regexp.MustCompile(`^ *<!-- snippet: ([^ #]+)(?:#([A-Za-z0-9_-]+))? -->$`)
)

// mdBlock is one fenced block of a markdown file.
type mdBlock struct {
	line   int    // 1-based line of the opening fence
	lang   string // the fence's language
	text   string // the lines between the fences, without the fence's indentation
	marker string // the marker on the line before the fence, "" without one
	region string // the marker's #region, "" for the whole file

	indent     string // the fence's indentation
	start, end int    // 0-based lines: the first after the opening fence, the closing fence
}

// markdownBlocks returns the fenced blocks of a markdown file; unclosed fences and
// markers that announce no block are errors.
func markdownBlocks(md string) ([]mdBlock, []error) {
	lines := strings.Split(md, "\n")
	var blocks []mdBlock
	var errs []error
	for i := 0; i < len(lines); i++ {
		if m := snippetMark.FindStringSubmatch(lines[i]); m != nil {
			if i+1 >= len(lines) || !fenceOpen.MatchString(lines[i+1]) {
				errs = append(errs, fmt.Errorf("README.md:%d: the marker for %s is not right before a fenced block", i+1, m[1]))
			}
			continue
		}
		if strings.Contains(lines[i], "<!-- snippet") {
			errs = append(errs, fmt.Errorf("README.md:%d: malformed marker %q (want <!-- snippet: path[#region] -->)", i+1, lines[i]))
			continue
		}
		m := fenceOpen.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, fence := m[1], m[2]
		b := mdBlock{line: i + 1, lang: strings.TrimSpace(m[3]), indent: indent, start: i + 1}
		if i > 0 {
			if mk := snippetMark.FindStringSubmatch(lines[i-1]); mk != nil {
				b.marker, b.region = mk[1], mk[2]
			}
		}
		var body []string
		closed := false
		for i++; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) == fence {
				closed, b.end = true, i
				break
			}
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		if !closed {
			errs = append(errs, fmt.Errorf("README.md:%d: the block is never closed", b.line))
			break
		}
		b.text = strings.Join(body, "\n") + "\n"
		blocks = append(blocks, b)
	}
	return blocks, errs
}

// snippetRegion returns the region name of a file: the lines between the start and end
// markers, dedented.
func snippetRegion(text, name string) (string, error) {
	var out []string
	in, found := false, false
	for _, l := range strings.Split(text, "\n") {
		switch markerWords(l) {
		case "snippet:start " + name:
			if found {
				return "", fmt.Errorf("region %q starts twice", name)
			}
			in, found = true, true
			continue
		case "snippet:end " + name:
			if !in {
				return "", fmt.Errorf("region %q ends before it starts", name)
			}
			in = false
			continue
		}
		if in {
			out = append(out, l)
		}
	}
	switch {
	case !found:
		return "", fmt.Errorf("no line %q", "snippet:start "+name)
	case in:
		return "", fmt.Errorf("no line %q", "snippet:end "+name)
	case len(out) == 0:
		return "", fmt.Errorf("region %q is empty", name)
	}
	return dedent(out), nil
}

// markerWords is a line without its indentation and comment prefix.
func markerWords(line string) string {
	s := strings.TrimSpace(line)
	for _, p := range []string{"//", "#"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// dedent removes the indentation the non-blank lines share.
func dedent(lines []string) string {
	common := ""
	first := true
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		ind := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if first {
			common, first = ind, false
			continue
		}
		for !strings.HasPrefix(ind, common) {
			common = common[:len(common)-1]
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimPrefix(l, common)
		if strings.TrimSpace(l) == "" {
			out[i] = ""
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// TestREADMESnippets: every Go, JavaScript, YAML (and JSON) block of README.md carries a
// marker, and is the text of the file, or of the region, that the marker names.
func TestREADMESnippets(t *testing.T) {
	md, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks, errs := markdownBlocks(string(md))
	for _, err := range errs {
		t.Error(err)
	}
	checked := 0
	lines := strings.Split(string(md), "\n")
	defer func() {
		if *updateREADME && !t.Failed() {
			require.NoError(t, os.WriteFile("README.md", []byte(strings.Join(lines, "\n")), 0o644))
		}
	}()
	// Backwards, so that a rewritten block leaves the line numbers of the ones before it.
	slices.Reverse(blocks)
	for _, b := range blocks {
		if b.lang == "" {
			t.Errorf("README.md:%d: a fence without a language: name it (```go, ```sh, ...) so the snippet check sees what it is", b.line)
			continue
		}
		if b.marker == "" {
			if snippetLangs[b.lang] {
				t.Errorf("README.md:%d: a %s block without a marker: put it in a file under examples/ that CI runs or validates, "+
					"and the line <!-- snippet: examples/... --> right before the fence (see readme_test.go)", b.line, b.lang)
			}
			continue
		}
		where := fmt.Sprintf("README.md:%d (%s)", b.line, b.marker)
		if b.region != "" {
			where = fmt.Sprintf("README.md:%d (%s#%s)", b.line, b.marker, b.region)
		}
		if !strings.HasPrefix(b.marker, "examples/") || filepath.Clean(b.marker) != b.marker {
			t.Errorf("%s: a snippet's file lives under examples/", where)
			continue
		}
		raw, err := os.ReadFile(filepath.FromSlash(b.marker))
		if !assert.NoError(t, err, where) {
			continue
		}
		want := string(raw)
		if b.region != "" {
			if want, err = snippetRegion(want, b.region); err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
		}
		if *updateREADME {
			body := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
			for i, l := range body {
				if l != "" {
					body[i] = b.indent + l
				}
			}
			lines = slices.Concat(lines[:b.start], body, lines[b.end:])
		} else if b.text != want {
			t.Errorf("%s: the README block differs from the file; make them equal (the file is what CI runs):\n%s", where, firstDiff(b.text, want))
		}
		checked++
	}
	assert.Positive(t, checked, "README.md has no snippet markers")
}

// firstDiff shows the first line where the README's block and the file differ.
func firstDiff(readme, file string) string {
	a, b := strings.Split(readme, "\n"), strings.Split(file, "\n")
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y || i >= len(a) || i >= len(b) {
			return fmt.Sprintf("  line %d of the block\n  README: %q\n  file:   %q", i+1, x, y)
		}
	}
	return ""
}

// TestREADMESnippetParser checks the marker rules on small inputs: an unmarked block
// fails, a region is dedented, a marker must precede a fence.
func TestREADMESnippetParser(t *testing.T) {
	md := "text\n<!-- snippet: examples/a.go#r -->\n  ```go\n  x := 1\n\n  y := 2\n  ```\n```yaml\na: 1\n```\n```\nplain\n```\n" +
		"<!-- snippet: examples/b.yaml -->\n\n```yaml\nb: 2\n```\n"
	blocks, errs := markdownBlocks(md)
	require.Len(t, blocks, 4)
	assert.Equal(t, mdBlock{line: 3, lang: "go", text: "x := 1\n\ny := 2\n", marker: "examples/a.go", region: "r",
		indent: "  ", start: 3, end: 6}, blocks[0])
	assert.Equal(t, mdBlock{line: 8, lang: "yaml", text: "a: 1\n", start: 8, end: 9}, blocks[1], "no marker")
	assert.Equal(t, "", blocks[2].lang)
	assert.Empty(t, blocks[3].marker, "a blank line between marker and fence")
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "not right before a fenced block")

	file := "func f() {\n\t// snippet:start r\n\tx := 1\n\n\ty := 2\n\t// snippet:end r\n}\n"
	got, err := snippetRegion(file, "r")
	require.NoError(t, err)
	assert.Equal(t, "x := 1\n\ny := 2\n", got)
	_, err = snippetRegion(file, "other")
	assert.Error(t, err)
	_, err = snippetRegion("# snippet:start r\na: 1\n", "r")
	assert.ErrorContains(t, err, "snippet:end r")
}

// TestREADMEBuilderManifest: the ocb manifest entry the README tells users to add
// (examples/builder/exporters.yaml) is the one builder-config.yaml builds CI's
// collector with, but for the path, and names this module.
func TestREADMEBuilderManifest(t *testing.T) {
	entry, err := os.ReadFile("examples/builder/exporters.yaml")
	require.NoError(t, err)
	manifest, err := os.ReadFile("builder-config.yaml")
	require.NoError(t, err)
	ours := strings.Replace(string(entry), "path: /path/to/this/repository", "path: ./", 1)
	require.NotEqual(t, string(entry), ours, "the entry has the path placeholder")
	assert.Contains(t, string(manifest), ours, "builder-config.yaml has the README's exporter entry (with path ./)")
	gomod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	module := strings.TrimPrefix(strings.SplitN(string(gomod), "\n", 2)[0], "module ")
	assert.Contains(t, string(entry), "gomod: "+module+" ", "the entry names this module")
}

// TestREADMEVersions: the versions the README tells users to install are those of the
// examples CI runs: `npm install` = examples/node/package.json (= testbed/e2e/nodeclient's,
// whose node_modules the end-to-end test runs them with), `go get` = examples/go/go.mod.
func TestREADMEVersions(t *testing.T) {
	md, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(md)

	// npm install <pkg>@<version> ... (one command over continuation lines).
	npm := regexp.MustCompile(`(?s)npm install (.*?)\n` + "```").FindStringSubmatch(readme)
	require.NotNil(t, npm, "README: the npm install command")
	installed := map[string]string{}
	for _, m := range regexp.MustCompile(`(@?[a-z0-9/._-]+)@([0-9][0-9A-Za-z.-]*)`).FindAllStringSubmatch(npm[1], -1) {
		installed[m[1]] = m[2]
	}
	example := packageDeps(t, "examples/node/package.json")
	assert.Equal(t, example, installed, "README's npm install = examples/node/package.json")
	client := packageDeps(t, "testbed/e2e/nodeclient/package.json")
	for p, v := range example {
		assert.Equal(t, v, client[p], "examples/node/package.json and testbed/e2e/nodeclient/package.json: %s", p)
	}

	// go get <module>@<version> ...: every module the README names with a version is a
	// requirement of examples/go/go.mod at that version.
	required := goRequires(t, "examples/go/go.mod")
	gets := regexp.MustCompile(`(?s)go get (.*?)(?:`+"```"+`|\)|\n\n)`).FindAllStringSubmatch(readme, -1)
	require.NotEmpty(t, gets, "README: the go get commands")
	n := 0
	for _, g := range gets {
		for _, m := range regexp.MustCompile(`([a-z0-9.-]+\.[a-z]+/[A-Za-z0-9/._-]+)@(v[0-9][0-9A-Za-z.+-]*)`).FindAllStringSubmatch(g[1], -1) {
			assert.Equal(t, required[m[1]], m[2], "README's go get %s@%s vs examples/go/go.mod", m[1], m[2])
			n++
		}
	}
	assert.GreaterOrEqual(t, n, 7, "the README's go get commands")
}

func packageDeps(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?s)"dependencies":\s*\{(.*?)\}`).FindSubmatch(raw)
	require.NotNil(t, m, "%s: dependencies", path)
	deps := map[string]string{}
	for _, d := range regexp.MustCompile(`"([^"]+)":\s*"([^"]+)"`).FindAllSubmatch(m[1], -1) {
		deps[string(d[1])] = string(d[2])
	}
	return deps
}

func goRequires(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	req := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && strings.Contains(fields[0], ".") && strings.HasPrefix(fields[1], "v") {
			req[fields[0]] = fields[1]
		}
	}
	require.NoError(t, sc.Err())
	return req
}

// TestREADMEStatements: what the README and the Makefile say about each other and about
// CI. The README's sentence on `.ci/run` names every make target .ci/run runs, and every
// README section the Makefile or .ci/run points to (README section "X") exists.
func TestREADMEStatements(t *testing.T) {
	md, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(md)

	ci, err := os.ReadFile(".ci/run")
	require.NoError(t, err)
	var targets []string
	for _, l := range strings.Split(string(ci), "\n") {
		if m := regexp.MustCompile(`^\s*make ([a-z0-9_-]+)`).FindStringSubmatch(l); m != nil {
			targets = append(targets, m[1])
		}
	}
	require.NotEmpty(t, targets, ".ci/run runs make targets")
	at := strings.Index(readme, "`bash .ci/run`")
	require.GreaterOrEqual(t, at, 0, "README: the sentence on `bash .ci/run`")
	sentence := regexp.MustCompile(`(?s)^.*?\.(?:\s|$)`).FindString(readme[at:])
	for _, target := range targets {
		assert.Contains(t, sentence, "`make "+target+"`", "README says what .ci/run does: it runs make %s", target)
	}

	headings := map[string]bool{}
	for _, l := range strings.Split(readme, "\n") {
		if h, ok := strings.CutPrefix(l, "#"); ok {
			headings[strings.TrimSpace(strings.TrimLeft(h, "#"))] = true
		}
	}
	for _, path := range []string{"Makefile", ".ci/run"} {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, m := range regexp.MustCompile(`README(?: section)? "([^"]+)"`).FindAllStringSubmatch(string(raw), -1) {
			assert.True(t, headings[m[1]], "%s points to the README section %q, which does not exist", path, m[1])
		}
	}
}
