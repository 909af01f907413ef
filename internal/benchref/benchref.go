// Package benchref runs the reference implementations of the side-by-side
// benchmarks (C++ and PyTorch twins) under the malloc environment the Go
// side runs under (mallocenv), so that a ratio measures the code, not the
// allocator.
package benchref

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/opentensor/bittensor-go/internal/mallocenv"
)

// SamplesPerSec runs a reference under mallocenv.Env and parses the
// "samples/s=<v>" line it prints.
func SamplesPerSec(name string, args ...string) (float64, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = mallocenv.Env()
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
