package procmem

import (
	"strings"
	"testing"
)

func TestParseField(t *testing.T) {
	status := "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t    1024 kB\nThreads:\t3\n"
	for _, tc := range []struct {
		field string
		want  int64
		ok    bool
	}{
		{"VmRSS", 1 << 20, true},
		{"VmHWM", 2 << 20, true},
		{"VmSwap", 0, false},
	} {
		got, err := parseField(strings.NewReader(status), tc.field)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseField(%s) = %d, %v; want %d, ok=%v", tc.field, got, err, tc.want, tc.ok)
		}
	}
	if _, err := parseField(strings.NewReader("VmRSS:\tlots kB\n"), "VmRSS"); err == nil {
		t.Error("a size that is not a number was accepted")
	}
}

func TestResidentAndPeak(t *testing.T) {
	rss, err := Resident()
	if err != nil {
		t.Skipf("no /proc/self/status here: %v", err)
	}
	peak, err := Peak()
	if err != nil || rss <= 0 || peak < rss {
		t.Errorf("resident %d, peak %d (%v): want 0 < resident <= peak", rss, peak, err)
	}
}
