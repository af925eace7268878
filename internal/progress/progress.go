// Package progress draws progress bars on standard error for long work, and
// stays silent when standard error is not a terminal or output is JSON.
package progress

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar is a progress bar over a count of units (windows, tensors, runs).
type Bar struct {
	bar *progressbar.ProgressBar
}

// Enabled reports whether bars are drawn (standard error is a terminal).
func Enabled() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// New starts a bar of total units; unitsPerItem and unit name the rate shown
// (for example 1024 "tokens" per window gives tokens/s). quiet disables it.
func New(total int, description string, quiet bool) *Bar {
	if quiet || !Enabled() {
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
