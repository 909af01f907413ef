package testing_test

import (
	"os/exec"
	"path"
	"strings"
	"testing"
)

// TestNotImportedByProduction holds package testing's promise: no package
// of the module outside internal/testing, bench/ (the benchmark programs)
// and the other test helpers (observetest, testutil: a last element ending
// in "test" or "testutil") depends on a harness, directly or through another
// package. Test files do not count: a package's Deps are what its non-test
// files import.
func TestNotImportedByProduction(t *testing.T) {
	const module = "github.com/opentensor/bittensor-go/"
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command here:", err)
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		p, deps := fields[0], fields[1:]
		base := path.Base(p)
		if strings.HasPrefix(p, module+"internal/testing") || strings.HasPrefix(p, module+"bench/") ||
			strings.HasSuffix(base, "test") || strings.HasSuffix(base, "testutil") {
			continue
		}
		checked++
		for _, dep := range deps {
			if strings.HasPrefix(dep, module+"internal/testing") {
				t.Errorf("%s imports the test harness %s", p, dep)
			}
		}
	}
	if checked == 0 {
		t.Fatalf("no production package listed by go list:\n%s", out)
	}
}
