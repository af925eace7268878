// Package progress draws progress bars on standard error for long work, and
// stays silent when standard error is not a terminal or output is JSON,
// unless HYQUANT_PROGRESS=lines asks for plain lines (for batch jobs' logs:
// one line every 10 s at most, and the last).
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar is a progress bar over a count of units (windows, tensors, runs).
type Bar struct {
	bar   *progressbar.ProgressBar
	lines *lines
}

// lines writes progress as plain lines with the elapsed time.
type lines struct {
	w           io.Writer
	total       int
	description string
	start, last time.Time
}

// lineEvery is the least time between two lines.
const lineEvery = 10 * time.Second

func (l *lines) set(done int, detail string) {
	now := time.Now()
	if done < l.total && now.Sub(l.last) < lineEvery {
		return
	}
	l.last = now
	if detail == "" {
		detail = l.description
	}
	fmt.Fprintf(l.w, "%s %d/%d %.1fs\n", detail, done, l.total, now.Sub(l.start).Seconds())
}

// Enabled reports whether bars are drawn (standard error is a terminal).
func Enabled() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// New starts a bar of total units; unitsPerItem and unit name the rate shown
// (for example 1024 "tokens" per window gives tokens/s). quiet disables it.
func New(total int, description string, quiet bool) *Bar {
	if quiet {
		return &Bar{}
	}
	if !Enabled() {
		if os.Getenv("HYQUANT_PROGRESS") == "lines" {
			now := time.Now()
			return &Bar{lines: &lines{w: os.Stderr, total: total, description: description, start: now, last: now}}
		}
		return &Bar{}
	}
	return newBar(os.Stderr, total, description)
}

func newBar(w io.Writer, total int, description string) *Bar {
	b := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("it"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
	return &Bar{bar: b}
}

// Set moves the bar to done units, with an extra description (e.g. a rate).
func (b *Bar) Set(done int, detail string) {
	if b.lines != nil {
		b.lines.set(done, detail)
	}
	if b.bar == nil {
		return
	}
	if detail != "" {
		b.bar.Describe(detail)
	}
	b.bar.Set(done)
}

// Finish clears the bar.
func (b *Bar) Finish() {
	if b.bar != nil {
		b.bar.Finish()
	}
}
