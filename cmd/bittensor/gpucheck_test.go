package main

import (
	"strings"
	"testing"

	"github.com/opentensor/bittensor-go/torch"
)

func TestGpucheckReportsAndChecksEveryDevice(t *testing.T) {
	code, out, errOut := runCLI(t, "gpucheck", "--config")
	if code != 0 {
		t.Fatalf("gpucheck exited %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{
		"libtorch: " + torch.LibtorchVersion() + "\n",
		"cuda devices: ",
		"build config:\n",
		"matmul cpu: ok",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got, want := strings.Count(out, ": ok ("), 1+torch.CUDADeviceCount(); torch.CUDAIsAvailable() && got != want {
		t.Errorf("%d devices checked, want %d:\n%s", got, want, out)
	}
}

func TestGpucheckRequireCUDA(t *testing.T) {
	code, out, errOut := runCLI(t, "gpucheck", "--require_cuda")
	if torch.CUDAIsAvailable() {
		if code != 0 {
			t.Fatalf("gpucheck --require_cuda with CUDA exited %d: %s%s", code, out, errOut)
		}
		return
	}
	if code != 1 || !strings.Contains(errOut, "no CUDA device available") {
		t.Fatalf("gpucheck --require_cuda without CUDA: exit %d, stderr %q; want 1 and the reason", code, errOut)
	}
}

func TestCUDAVersionString(t *testing.T) {
	for v, want := range map[int]string{12040: "12.4", 11080: "11.8", 12060: "12.6"} {
		if got := cudaVersionString(v); got != want {
			t.Errorf("cudaVersionString(%d) = %q, want %q", v, got, want)
		}
	}
	if got := cudaVersionString(0); !strings.HasPrefix(got, "none") {
		t.Errorf("cudaVersionString(0) = %q, want none…", got)
	}
}
