package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/opentensor/bittensor-go/neuron"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// newLogger logs to f at the given level: readable console lines when f is
// a terminal, JSON lines otherwise.
func newLogger(f *os.File, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.Logger{}, &neuron.UsageError{Flag: "log_level", Err: fmt.Errorf("%q, want debug, info, warn or error", level)}
	}
	var w io.Writer = f
	if isTerminal(f) {
		w = zerolog.ConsoleWriter{Out: lineClearer{f}, TimeFormat: time.TimeOnly, FieldsExclude: consoleHidden}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// consoleHidden are fields the training and test lines already show in
// their message; the console leaves them out (JSON lines keep them).
var consoleHidden = []string{"epoch", "seen", "local_loss", "target_loss", "distillation_loss",
	"peers", "synapses", "loss", "local_accuracy", "network_accuracy"}

// lineClearer erases the terminal's current line (a progress bar) before
// each write, so log lines and the bar do not mix.
type lineClearer struct{ w io.Writer }

// Write erases the line, then writes p.
func (c lineClearer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(c.w, "\r\x1b[K"); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
