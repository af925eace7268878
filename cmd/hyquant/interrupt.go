package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/hyquant/hyquant/internal/outdir"
	"github.com/hyquant/hyquant/internal/units"
)

// interruptible is the context of a command that writes outputs, as `run`
// uses: the first SIGINT or SIGTERM cancels it (writers then stop between
// tensors and remove their temporary files); a second one kills the
// process as usual.
func interruptible() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}

// interrupted rewrites a cancelled command's error to say what became of
// its output.
func interrupted(err error, out string) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted: nothing was written to %s and the temporary files were removed", out)
	}
	return err
}

// noteLeftovers names the temporary files an interrupted (killed) run left
// beside out, with their size, so they do not pile up unseen.
func noteLeftovers(w io.Writer, out string) {
	for _, p := range outdir.Leftovers(out) {
		fmt.Fprintf(w, "note: %s (%s) was left by an interrupted hyquant run writing %s; remove it to free the space (rm -r %s)\n",
			p, units.Both(treeBytes(p)), out, p)
	}
}

// treeBytes is the size of the files under p.
func treeBytes(p string) int64 {
	var n int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
