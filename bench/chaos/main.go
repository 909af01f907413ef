// Command chaos measures how well an honest neuron trains through chaos: it
// builds bittensor and internal/testing/cmd/badpeer, runs the scenario of package
// internal/testing/chaos (A, B, C honest; a byzantine peer joins in mixed mode, C is
// SIGKILLed, B is SIGSTOPped past the Forward deadline and SIGCONTed), and
// prints A's training steps per second before the chaos, during it and
// after it:
//
//	chaos: honest steps/s before=<…> during=<…> after=<…>
//
// The goal is during ≥ 0.8 × before. Run it from the module root:
// go run ./bench/chaos.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/chaos"
)

func main() {
	hold := flag.Duration("hold", 6*time.Second, "how long B stays stopped (the Forward deadline is 5 s)")
	lines := flag.Int("lines", 20, "training steps of A (one log line each) in the before and after phases")
	timeout := flag.Duration("timeout", 4*time.Minute, "bound of the whole run")
	verbose := flag.Bool("v", false, "report each event")
	flag.Parse()
	log.SetFlags(0)
	dir, err := os.MkdirTemp("", "bench-chaos-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bins := map[string]string{"bittensor": "./cmd/bittensor", "badpeer": "./internal/testing/cmd/badpeer"}
	for name, pkg := range bins {
		out := filepath.Join(dir, name)
		if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			log.Fatalf("chaos: go build %s: %v\n%s", pkg, err, msg)
		}
		bins[name] = out
	}
	cfg := chaos.DefaultConfig(bins["bittensor"], bins["badpeer"], dir)
	cfg.Hold, cfg.PhaseLines, cfg.Timeout = *hold, *lines, *timeout
	if *verbose {
		cfg.Logf = log.Printf
	}
	r, err := chaos.Run(cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("chaos: honest steps/s before=%.1f during=%.1f after=%.1f\n",
		r.Before.Rate(), r.During.Rate(), r.After.Rate())
}
