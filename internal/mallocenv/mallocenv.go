// Package mallocenv runs a process under the glibc malloc settings of
// torch.TuneMalloc given as environment variables, which glibc reads before
// any library allocates: applied by mallopt at the start of main instead,
// after libtorch's static initialisers ran, the same values left the MNIST
// training step 23 % slower here (bench/cmd/bench: go=1066 against 1390
// samples/s).
package mallocenv

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/opentensor/bittensor-go/torch"
)

// marker is set in the environment of a process that Reexec started, so
// that it never starts itself again.
const marker = "BT_MALLOC_ENV"

// Env returns the process's environment with the MALLOC_ variables that
// give torch.TuneMalloc's settings.
func Env() []string {
	return append(os.Environ(),
		"MALLOC_MMAP_THRESHOLD_="+strconv.Itoa(torch.MallocMmapThreshold),
		"MALLOC_TRIM_THRESHOLD_="+strconv.Itoa(torch.MallocTrimThreshold),
		"MALLOC_ARENA_MAX="+strconv.Itoa(torch.MallocArenaMax))
}

// Reexec replaces this process with itself, same arguments, run under Env,
// unless it already runs so or the user set MALLOC_ARENA_MAX (their choice
// stands). On success it does not return; call it first thing in main.
func Reexec() error {
	if os.Getenv(marker) != "" || os.Getenv("MALLOC_ARENA_MAX") != "" {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("mallocenv: %w", err)
	}
	if err := syscall.Exec(self, os.Args, append(Env(), marker+"=1")); err != nil {
		return fmt.Errorf("mallocenv: exec %s: %w", self, err)
	}
	return nil
}
