// Package benchref runs the reference implementations of the side-by-side
// benchmarks (C++ and PyTorch twins) under the malloc settings the Go side
// gives itself, so that a ratio measures the code, not the allocator.
package benchref

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/opentensor/bittensor-go/internal/mallocenv"
	"github.com/opentensor/bittensor-go/torch"
)

// SetMalloc gives this process the malloc settings `bittensor run` sets
// (torch.TuneMalloc).
func SetMalloc() error { return torch.TuneMalloc() }

// MallocEnv is the environment that gives a reference process the same
// malloc settings as this one (mallocenv.Env).
func MallocEnv() []string { return mallocenv.Env() }

// SamplesPerSec runs a reference under MallocEnv and parses the
// "samples/s=<v>" line it prints.
func SamplesPerSec(name string, args ...string) (float64, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = MallocEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(errOut.String()))
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "samples/s="); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%s: no samples/s line in %q", name, out.String())
}

// Reexec runs this benchmark under MallocEnv too (mallocenv.Reexec), so that
// the Go side and its references see the same malloc settings applied the
// same way.
func Reexec() error { return mallocenv.Reexec() }
