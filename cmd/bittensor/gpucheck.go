package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/opentensor/bittensor-go/torch"
)

// smokeSize is the side of the matrices gpucheck multiplies on each device,
// and smokeTolerance the largest difference from the CPU's product it accepts
// (float32 sums of smokeSize products of unit normals, in another order).
const (
	smokeSize      = 256
	smokeTolerance = 1e-2
)

// gpucheckCommand is `bittensor gpucheck`: report what the linked libtorch sees.
func gpucheckCommand() *cli.Command {
	return &cli.Command{
		Name:  "gpucheck",
		Usage: "report the linked libtorch's version, CUDA support and devices, with a matmul on each",
		Description: "Prints the libtorch version the shim was built against, the CUDA runtime it was built\n" +
			"with (0: no CUDA support loaded), whether CUDA is available and how many devices, then\n" +
			"multiplies two random matrices on the CPU and on every CUDA device and compares the\n" +
			"products. Exits 1 when a device fails that check, or when --require_cuda is set and no\n" +
			"CUDA device is available.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "require_cuda", EnvVars: envVars("require_cuda"),
				Usage: "fail unless at least one CUDA device is available"},
			&cli.BoolFlag{Name: "config", Usage: "also print libtorch's build configuration"},
		},
		OnUsageError: onUsageError,
		Action: func(cCtx *cli.Context) error {
			return gpucheck(cCtx.App.Writer, cCtx.Bool("require_cuda"), cCtx.Bool("config"))
		},
	}
}

// gpucheck writes the report to w and returns an error when a check fails.
func gpucheck(w io.Writer, requireCUDA, showConfig bool) error {
	available, count := torch.CUDAIsAvailable(), torch.CUDADeviceCount()
	fmt.Fprintf(w, "libtorch: %s\n", torch.LibtorchVersion())
	fmt.Fprintf(w, "cuda runtime: %s\n", cudaVersionString(torch.CUDARuntimeVersion()))
	fmt.Fprintf(w, "cuda available: %t\ncuda devices: %d\n", available, count)
	if showConfig {
		config, err := torch.BuildConfig()
		if err != nil {
			return fmt.Errorf("gpucheck: %w", err)
		}
		fmt.Fprintf(w, "build config:\n%s\n", strings.TrimRight(config, "\n"))
	}
	devices := []torch.Device{torch.CPU}
	if available {
		for i := 0; i < count; i++ {
			devices = append(devices, torch.CUDA(i))
		}
	}
	var failed []error
	for _, d := range devices {
		diff, err := torch.SmokeTestMatmul(d, smokeSize, smokeTolerance)
		if err != nil {
			fmt.Fprintf(w, "matmul %v: FAIL: %v\n", d, err)
			failed = append(failed, err)
			continue
		}
		fmt.Fprintf(w, "matmul %v: ok (%dx%d, max |diff| from cpu %.2g)\n", d, smokeSize, smokeSize, diff)
	}
	if requireCUDA && (!available || count == 0) {
		failed = append(failed, errors.New("no CUDA device available (--require_cuda)"))
	}
	if len(failed) > 0 {
		return fmt.Errorf("gpucheck: %w", errors.Join(failed...))
	}
	return nil
}

// cudaVersionString spells CUDA's version number (12040) as 12.4, and 0 as none.
func cudaVersionString(v int) string {
	if v <= 0 {
		return "none (CPU-only libtorch, or libtorch_cuda not loaded)"
	}
	return fmt.Sprintf("%d.%d", v/1000, v%1000/10)
}
