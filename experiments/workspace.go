package experiments

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hyquant/hyquant/internal/dirlock"
)

// workspace is an output directory held by this process.
//
// Locks: a run without --shard holds dirlock's lock exclusively for its
// life (a second process on the directory is refused, naming it). Shard
// workers hold it shared, so they run side by side while a plain run is
// refused, and the other way round. Writing manifest.json and results.json
// is serialised by a second, blocking lock (assembleLock) held for a few
// file operations. A shard worker that finds the directory free (the
// exclusive lock granted) sets it up as a plain run would, then shares it.
type workspace struct {
	c     *Config
	o     Options
	lock  *dirlock.Lock
	sec   *dirlock.Lock // assembleLock while a shard worker sets up
	alone bool          // no other process has the directory
}

func openWorkspace(c *Config, o Options) (*workspace, error) {
	if err := os.MkdirAll(c.Output, 0o755); err != nil {
		return nil, err
	}
	what := "hyquant run " + c.File
	if !o.Shard.Sharded() {
		lock, err := dirlock.Acquire(c.Output, what)
		if err != nil {
			return nil, err
		}
		return &workspace{c: c, o: o, lock: lock, alone: true}, nil
	}
	what += " --shard " + o.Shard.String()
	// Set-up is serialised: a worker joining while another sets up waits
	// for it instead of being refused by its brief exclusive lock.
	sec, err := dirlock.Serialize(c.Output, assembleLock)
	if err != nil {
		return nil, err
	}
	ws := &workspace{c: c, o: o, sec: sec}
	if ws.lock, err = dirlock.Acquire(c.Output, what); err == nil {
		ws.alone = true
		return ws, nil
	}
	if ws.lock, err = dirlock.AcquireShared(c.Output, what); err != nil {
		sec.Release()
		return nil, err
	}
	return ws, nil
}

func (ws *workspace) close() {
	ws.sec.Release()
	ws.lock.Release()
}

// setup checks the directory's identity against m's and writes the
// manifest, the config copy and the run plans. Another identity is
// refused, naming the fields that differ, unless Force, which replaces
// every result of the directory; a shard worker joining others must have
// the same runs as they do.
func (ws *workspace) setup(m *Manifest, items []*item) error {
	dir := ws.c.Output
	defer func() {
		ws.sec.Release()
		ws.sec = nil
	}()
	old, err := readManifest(dir)
	if err != nil {
		return err
	}
	switch {
	case old == nil:
		if err := ws.importLegacy(m, items); err != nil {
			return err
		}
	case old.IdentityDigest != m.IdentityDigest:
		diff := m.Identity.Diff(old.Identity)
		if len(diff) == 0 {
			diff = []string{fmt.Sprintf("identity digest: %s in the directory, %s here", old.IdentityDigest, m.IdentityDigest)}
		}
		if err := ws.refuseOrReset(diff); err != nil {
			return err
		}
	case !ws.alone && !sameRuns(old.Runs, m.Runs):
		return fmt.Errorf("%s: the shard workers already at work on %s have other runs (%s) than %s (%s); give every shard the same config, or let them finish first",
			ws.c.File, dir, runList(old.Runs), ws.c.File, runList(m.Runs))
	}
	if ws.alone {
		// No other process has the directory: every claim in it was left
		// by one that is gone, and needs no waiting for its timeout.
		if err := os.RemoveAll(filepath.Join(dir, ClaimsDir)); err != nil {
			return err
		}
	}
	for _, d := range []string{RunsDir, ClaimsDir, "plans"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if ws.alone || old == nil {
		if err := copyConfig(ws.c); err != nil {
			return err
		}
		for _, it := range items[1:] {
			if err := writePlan(dir, it.run); err != nil {
				return err
			}
		}
		if err := writeManifest(dir, m); err != nil {
			return err
		}
	}
	if ws.o.Shard.Sharded() && ws.alone {
		if err := ws.lock.Share(); err != nil {
			return err
		}
		ws.alone = false
	}
	return nil
}

// refuseOrReset refuses to mix identities, or with Force removes every
// result of the directory so that only this identity's will be there.
func (ws *workspace) refuseOrReset(diff []string) error {
	dir := ws.c.Output
	if !ws.o.Force {
		return fmt.Errorf("%s holds the results of another experiment identity than %s:\n  %s\nrefusing to mix them: use --force to replace all of that directory's results, or give this experiment another output",
			dir, ws.c.File, strings.Join(diff, "\n  "))
	}
	fmt.Fprintf(ws.o.Log, "--force: replacing every result in %s (another identity: %s)\n", dir, strings.Join(diff, "; "))
	for _, name := range []string{ResultsFile, ManifestFile, "report.md", RunsDir, ClaimsDir, "plans"} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	figs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	for _, f := range figs {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return nil
}

// importLegacy turns the runs of a results.json written before records
// existed into records, when its protocol fields match this identity (the
// rest of the identity was not recorded then); other protocol fields are
// another identity.
func (ws *workspace) importLegacy(m *Manifest, items []*item) error {
	old, err := ReadResults(ws.c.Output)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	was := m.Identity
	was.Model, was.EvalText, was.SeqLen, was.MaxWindows = old.ModelInfo, old.Eval.Text, old.Eval.SeqLen, old.Eval.MaxWindows
	was.CalibText, was.CalibSegments, was.CalibLength, was.CalibSeed = old.Calib.Text, old.Calib.Segments, old.Calib.Length, old.Calib.Seed
	if diff := m.Identity.Diff(was); len(diff) > 0 {
		return ws.refuseOrReset(diff)
	}
	if err := os.MkdirAll(filepath.Join(ws.c.Output, RunsDir), 0o755); err != nil {
		return err
	}
	want := map[ManifestRun]*item{}
	for i, r := range m.Runs {
		want[r] = items[i]
	}
	n := 0
	for _, r := range old.Runs {
		it := want[ManifestRun{Name: r.Name, Kind: r.Kind, Hash: r.Hash}]
		if it == nil {
			continue
		}
		// The summary is derived from the plan: refreshed, not trusted
		// from a file of an older hyquant.
		r.DeltaPPL, r.Config = 0, it.rr.Config
		rec := &Record{Format: recordFormat, Identity: m.IdentityDigest, ComputedBy: Owner{ID: "imported from " + ResultsFile, Shard: "all"}, Run: r}
		if _, err := commitRecord(ws.c.Output, rec, false); err != nil {
			return err
		}
		n++
	}
	if n > 0 {
		fmt.Fprintf(ws.o.Log, "%d run(s) of %s (written before run records) kept as records in %s/\n", n, filepath.Join(ws.c.Output, ResultsFile), RunsDir)
	}
	return nil
}

// assemble writes results.json from the records, under assembleLock.
func (ws *workspace) assemble(m *Manifest) (*Results, error) {
	sec, err := dirlock.Serialize(ws.c.Output, assembleLock)
	if err != nil {
		return nil, err
	}
	defer sec.Release()
	res, err := assemble(ws.c.Output, m)
	if err != nil {
		return nil, err
	}
	return res, writeResults(ws.c.Output, res)
}

func runList(rs []ManifestRun) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
	}
	if len(names) > 6 {
		return fmt.Sprintf("%d runs: %s, ...", len(names), strings.Join(names[:6], ", "))
	}
	return strings.Join(names, ", ")
}
