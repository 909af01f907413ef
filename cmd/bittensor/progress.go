package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressBar draws a progress bar per training epoch; it implements
// trainer.Progress.
type progressBar struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func newProgressBar(w io.Writer) *progressBar { return &progressBar{w: w} }

// StartEpoch begins a bar of steps steps.
func (p *progressBar) StartEpoch(epoch, steps int) {
	p.bar = progressbar.NewOptions(steps,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(fmt.Sprintf("epoch %d", epoch)),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("steps"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

// Step advances the bar by one step.
func (p *progressBar) Step() {
	if p.bar != nil {
		_ = p.bar.Add(1)
	}
}

// EndEpoch removes the bar.
func (p *progressBar) EndEpoch() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
