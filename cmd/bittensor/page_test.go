package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opentensor/bittensor-go/internal/testing/eventually"
)

// chromiumPath returns the Chromium to drive: $CHROMIUM, else the first of
// Debian's and others' names on the PATH; "" if none.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactDir returns where the test keeps what it leaves for people to
// look at: $ARTIFACT_DIR, else a fixed folder under the temporary directory
// (overwritten by the next run, so runs do not pile up).
func artifactDir(t *testing.T) string {
	dir := os.Getenv("ARTIFACT_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "bittensor-test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// field returns a string field of a JSON log line, "" if absent.
func field(l logLine, name string) string {
	var m map[string]any
	if json.Unmarshal([]byte(l.raw), &m) != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

// pageView is what the live page shows, read from its DOM.
type pageView struct {
	Live       bool     `json:"live"`
	Neurons    []string `json:"neurons"`    // the synapse table's neuron keys
	Peers      []string `json:"peers"`      // the Metagraph peers listed
	LossPoints int      `json:"lossPoints"` // points of the local loss curve
	Cells      int      `json:"cells"`      // cells of the weight heat map
}

// readPage is the JavaScript that reads a pageView from the page.
const readPage = `(() => ({
  live: document.getElementById("live").className === "live",
  neurons: [...document.querySelectorAll("#synapses tbody tr")].map((r) => r.dataset.neuron),
  peers: [...document.querySelectorAll("#peers li:not(.note)")].map((li) => li.textContent),
  lossPoints: Number((document.querySelector('#loss-chart g.legend[data-series="local"]') || {dataset: {}}).dataset.points || 0),
  cells: document.querySelectorAll("#heatmap rect.cell").length,
}))()`

// The live page of a neuron in a two-neuron network, loaded in headless
// Chromium, shows the synapses of both neurons, the other neuron as a live
// peer, the weight heat map and a training loss curve with points. The
// test logs the page's load time and keeps a screenshot.
func TestLivePageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two training processes and a browser")
	}
	browser := chromiumPath()
	if browser == "" {
		t.Skip("no Chromium found (Debian: apt-get install chromium, which make setup does; or set $CHROMIUM): " +
			"the live page's browser test did not run")
	}
	bin := buildBinary(t)
	a := startNeuron(t, bin, "neuron A", "--metrics_port", "0")
	started := a.await(t, "its start line", 60*time.Second, func(l logLine) bool { return l.Metagraph != "" })
	keyA := field(started, "neuron_key")
	page := field(a.await(t, "its page address", 10*time.Second, func(l logLine) bool { return field(l, "page") != "" }), "page")
	b := startNeuron(t, bin, "neuron B", "--bootstrap", started.Metagraph, "--metrics_port", "-1")
	keyB := field(b.await(t, "its start line", 60*time.Second, func(l logLine) bool { return l.Metagraph != "" }), "neuron_key")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, // needed as root, as in CI containers
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1300),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	if err := chromedp.Do(bctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("load %s: %v", page, err)
	}
	loadMs, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`performance.getEntriesByType("navigation")[0].loadEventEnd`))
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the page to show the network: both neurons' synapses, B
	// as a live peer, and a loss curve of at least two points.
	var view pageView
	var firstDataMs float64
	eventually.NoError(t, 2*time.Minute, func() error {
		if view, err = chromedp.Run(bctx, chromedp.Evaluate[pageView](readPage)); err != nil {
			t.Fatal(err)
		}
		if firstDataMs == 0 && view.Live {
			// When the first answer of /api/state was drawn, from the start of the navigation.
			firstDataMs, err = chromedp.Run(bctx, chromedp.Evaluate[float64](`Number(document.body.dataset.first) - performance.timeOrigin`))
			if err != nil {
				t.Fatal(err)
			}
		}
		if view.Live && slices.Contains(view.Neurons, keyA) && slices.Contains(view.Neurons, keyB) && len(view.Peers) > 0 &&
			view.LossPoints >= 2 && view.Cells == 2 {
			return nil
		}
		return fmt.Errorf("it shows %+v", view)
	}, "the page of neuron A (%s): the synapses of %s and %s, a peer, 2 weight cells and a loss curve of 2 points or more",
		page, keyA[:8], keyB[:8])
	t.Logf("page-load: ms=%.0f first-data-ms=%.0f (load event, and the first poll of /api/state rendered)", loadMs, firstDataMs)

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifactDir(t), "live-page.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the live page: %s (%d bytes); it shows %d synapses, %d peers, %d loss points",
		shot, len(png), len(view.Neurons), len(view.Peers), view.LossPoints)
	if len(png) < 10_000 {
		t.Errorf("screenshot of %d bytes: the page looks empty", len(png))
	}
}
