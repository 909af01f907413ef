// Package procmem reads this process's memory figures from Linux's
// /proc/self/status, for the tests and benchmarks that bound memory.
package procmem

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Resident returns the resident set size (VmRSS) in bytes.
func Resident() (int64, error) { return Field("VmRSS") }

// Peak returns the peak resident set size (VmHWM) in bytes: the most since
// the process started or since ResetPeak.
func Peak() (int64, error) { return Field("VmHWM") }

// ResetPeak sets the peak resident set size back to the current one.
func ResetPeak() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("procmem: reset peak: %w", err)
	}
	return nil
}

// Field returns the memory field named field (VmRSS, VmHWM, …) of
// /proc/self/status in bytes.
func Field(field string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("procmem: %w", err)
	}
	defer f.Close()
	return parseField(f, field)
}

// parseField finds "field:   N kB" in a status file and returns N KiB in bytes.
func parseField(r io.Reader, field string) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil || kib < 0 || kib > 1<<40 {
			return 0, fmt.Errorf("procmem: %s is %q, want a size in kB", field, strings.TrimSpace(rest))
		}
		return kib << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("procmem: %w", err)
	}
	return 0, fmt.Errorf("procmem: /proc/self/status has no %s", field)
}
