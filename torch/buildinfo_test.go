package torch

import (
	"regexp"
	"strings"
	"testing"
)

func TestLibtorchVersion(t *testing.T) {
	v := LibtorchVersion()
	if !regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+`).MatchString(v) {
		t.Fatalf("LibtorchVersion() = %q, want MAJOR.MINOR.PATCH", v)
	}
}

func TestBuildConfig(t *testing.T) {
	c, err := BuildConfig()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c, "C++ Version") && !strings.Contains(c, "GCC") {
		t.Fatalf("BuildConfig() names no compiler:\n%s", c)
	}
}

func TestCUDARuntimeVersionAgreesWithAvailability(t *testing.T) {
	if CUDAIsAvailable() && CUDARuntimeVersion() <= 0 {
		t.Fatalf("CUDA is available but CUDARuntimeVersion() = %d", CUDARuntimeVersion())
	}
}

func TestSmokeTestMatmul(t *testing.T) {
	if d, err := SmokeTestMatmul(CPU, 64, 1e-4); err != nil || d != 0 {
		t.Fatalf("SmokeTestMatmul(cpu) = %g, %v; want 0, nil", d, err)
	}
	for i := 0; i < CUDADeviceCount(); i++ {
		if _, err := SmokeTestMatmul(CUDA(i), 256, 1e-2); err != nil {
			t.Errorf("SmokeTestMatmul(cuda:%d): %v", i, err)
		}
	}
	if _, err := SmokeTestMatmul(CPU, 0, 1); err == nil {
		t.Error("SmokeTestMatmul(size 0) succeeded")
	}
	// A device that is not there is an error, not a crash.
	if _, err := SmokeTestMatmul(CUDA(CUDADeviceCount()), 8, 1); err == nil {
		t.Errorf("SmokeTestMatmul(cuda:%d) succeeded with %d devices", CUDADeviceCount(), CUDADeviceCount())
	}
}
