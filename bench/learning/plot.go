package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Plot geometry, in SVG user units.
const (
	plotWidth, plotHeight       = 760, 460
	marginLeft, marginRight     = 60, 190
	marginTop, marginBottom     = 36, 50
	plotFloor                   = 0.80 // the lowest accuracy the y axis shows
	plotTitle                   = "MNIST test accuracy against training steps (mean over runs)"
	strokeLocal, strokeNetwork  = "6,4", ""
	legendRow, legendLineLength = 18, 28
)

// caseColors gives each case its colour on the plot.
var caseColors = map[string]string{caseSolo: "#1f77b4", casePair: "#2ca02c", caseNewcomer: "#d62728"}

// writeSVG draws the mean accuracy of each case's runs against steps, the
// network path solid and the local path dashed, with a line at target.
func writeSVG(w io.Writer, records []record, target float64) error {
	curves := map[string]curve{}
	maxStep := 1
	lo := target
	for _, c := range []string{caseSolo, casePair, caseNewcomer} {
		cv := meanCurve(records, c)
		if len(cv.Steps) == 0 {
			continue
		}
		curves[c] = cv
		maxStep = max(maxStep, cv.Steps[len(cv.Steps)-1])
		for i := range cv.Steps {
			lo = min(lo, cv.Local[i], cv.Network[i])
		}
	}
	// The y axis runs from a round accuracy under the lowest point (but
	// not under plotFloor) to 100 %.
	lo = max(plotFloor, math.Floor(lo*50)/50)
	innerW := float64(plotWidth - marginLeft - marginRight)
	innerH := float64(plotHeight - marginTop - marginBottom)
	x := func(step int) float64 { return marginLeft + innerW*float64(step)/float64(maxStep) }
	// Points under lo lie below the frame; the curves are clipped to it.
	y := func(acc float64) float64 { return marginTop + innerH*(1-(acc-lo)/(1-lo)) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotWidth, plotHeight, plotWidth, plotHeight)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<clipPath id="frame"><rect x="%d" y="%d" width="%.1f" height="%.1f"/></clipPath>`+"\n",
		marginLeft, marginTop, innerW, innerH)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">%s</text>`+"\n", marginLeft, plotTitle)
	// Grid and y ticks every percent (every 2 % for a wide range).
	tick := 0.01
	if 1-lo > 0.1 {
		tick = 0.02
	}
	for v := lo; v <= 1+1e-9; v += tick {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", marginLeft, y(v), marginLeft+innerW, y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f%%</text>`+"\n", marginLeft-6, y(v)+4, 100*v)
	}
	for _, s := range stepTicks(maxStep) {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x(s), marginTop, x(s), marginTop+innerH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>`+"\n", x(s), marginTop+innerH+16, s)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="black"/>`+"\n", marginLeft, marginTop, innerW, innerH)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">training steps (batch 64)</text>`+"\n", marginLeft+innerW/2, plotHeight-10)
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">test accuracy</text>`+"\n", marginTop+innerH/2)
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black" stroke-dasharray="2,3"/>`+"\n",
		marginLeft, y(target), marginLeft+innerW, y(target))

	row := 0
	legend := func(color, dash, label string) {
		ly := float64(marginTop + 10 + row*legendRow)
		lx := marginLeft + innerW + 16
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`+"\n",
			lx, ly, lx+legendLineLength, ly, color, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+legendLineLength+6, ly+4, label)
		row++
	}
	for _, c := range []string{caseSolo, casePair, caseNewcomer} {
		cv, ok := curves[c]
		if !ok {
			continue
		}
		for _, p := range []struct {
			name   string
			values []float64
			dash   string
		}{{"network", cv.Network, strokeNetwork}, {"local", cv.Local, strokeLocal}} {
			var pts []string
			for i, s := range cv.Steps {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s), y(p.values[i])))
			}
			fmt.Fprintf(&b, `<polyline clip-path="url(#frame)" fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="%s"/>`+"\n",
				caseColors[c], p.dash, strings.Join(pts, " "))
			legend(caseColors[c], p.dash, c+" "+p.name)
		}
	}
	legend("black", "2,3", fmt.Sprintf("%.0f %%", 100*target))
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// stepTicks returns round step values (1, 2 or 5 times a power of ten
// apart, at most 9 of them) from 0 to maxStep.
func stepTicks(maxStep int) []int {
	every := 1
search:
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if every = m * p; maxStep/every <= 8 {
				break search
			}
		}
	}
	var out []int
	for s := 0; s <= maxStep; s += every {
		out = append(out, s)
	}
	return out
}
