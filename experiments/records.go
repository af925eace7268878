package experiments

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hyquant/hyquant/internal/atomicfile"
	"github.com/hyquant/hyquant/internal/dirlock"
)

// The files of an output directory besides results.json and the report.
const (
	// ManifestFile holds the directory's identity, its runs in config
	// order (baseline first) with their hashes, and the rest of
	// results.json (model, protocol, weight statistics, 8B footprints).
	ManifestFile = "manifest.json"
	// RunsDir holds one record per finished run, runs/<name>.json, each
	// written atomically once; results.json is assembled from them.
	RunsDir = "runs"
	// assembleLock serialises writing manifest.json and results.json
	// among the processes sharing a directory.
	assembleLock = ".hyquant.assemble.lock"
	recordFormat = 1
)

// Record is one finished run as runs/<name>.json holds it.
type Record struct {
	Format int `json:"format"`
	// Identity is the Identity.Digest of the experiment it was measured
	// under; a record of another identity is never assembled.
	Identity   string    `json:"identity"`
	ComputedBy Owner     `json:"computed_by"`
	Finished   time.Time `json:"finished"`
	// Run is the result; its delta_ppl is filled in at assembly, against
	// the baseline record of the same identity.
	Run RunResult `json:"run"`
}

// Manifest is manifest.json.
type Manifest struct {
	Format         int           `json:"format"`
	Identity       Identity      `json:"identity"`
	IdentityDigest string        `json:"identity_digest"`
	Runs           []ManifestRun `json:"runs"`
	// Results is results.json's header: everything but its runs.
	Results Results `json:"results"`
}

// ManifestRun is one run of the experiment, in config order.
type ManifestRun struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Hash string `json:"hash"`
}

func recordPath(dir, run string) string { return filepath.Join(dir, RunsDir, run+".json") }

// readRecord reads runs/<run>.json; (nil, nil) when there is none.
func readRecord(dir, run string) (*Record, error) {
	p := recordPath(dir, run)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	return &r, nil
}

// validRecord reads the record of a run if it belongs to this identity
// and has this run hash; nil otherwise (none, stale or foreign).
func validRecord(dir string, mr ManifestRun, identity string) (*Record, error) {
	r, err := readRecord(dir, mr.Name)
	if err != nil || r == nil {
		return nil, err
	}
	if r.Identity != identity || r.Run.Hash != mr.Hash || r.Run.Name != mr.Name {
		return nil, nil
	}
	return r, nil
}

// commitRecord writes a finished run's record. A record of this identity
// and hash already there (another process finished the run first) is kept
// and ours discarded (written false) unless replace; a stale one (other
// hash) is replaced: only the claim holder gets here.
func commitRecord(dir string, rec *Record, replace bool) (written bool, err error) {
	if err := checkFiniteRun(&rec.Run); err != nil {
		return false, fmt.Errorf("run %s: %w", rec.Run.Name, err)
	}
	b, err := json.MarshalIndent(rec, "", " ")
	if err != nil {
		return false, err
	}
	p := recordPath(dir, rec.Run.Name)
	old, err := readRecord(dir, rec.Run.Name)
	if err != nil && !replace {
		return false, err
	}
	switch {
	case replace || (old != nil && (old.Identity != rec.Identity || old.Run.Hash != rec.Run.Hash)):
		return true, atomicfile.WriteFile(p, b)
	case old != nil:
		return false, nil
	}
	if err := atomicfile.CreateExclusive(p, b); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// readManifest reads manifest.json; (nil, nil) when there is none.
func readManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	return &m, nil
}

func writeManifest(dir string, m *Manifest) error {
	if err := checkFiniteResults(&m.Results); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ManifestFile), b)
}

// assemble builds results.json's content from the manifest and the
// records of its identity, runs in manifest (config) order, delta ppl
// against the baseline record; runs without a valid record are listed in
// Pending.
func assemble(dir string, m *Manifest) (*Results, error) {
	res := m.Results
	id := m.Identity
	res.Identity = &id
	res.Runs = nil
	res.Pending = nil
	var base *RunResult
	for _, mr := range m.Runs {
		r, err := validRecord(dir, mr, m.IdentityDigest)
		if err != nil {
			return nil, err
		}
		if r == nil {
			res.Pending = append(res.Pending, mr.Name)
			continue
		}
		run := r.Run
		if run.Kind == "baseline" {
			run.DeltaPPL = 0
			base = &run
		}
		res.Runs = append(res.Runs, run)
	}
	for i := range res.Runs {
		switch {
		case res.Runs[i].Kind == "baseline":
		case base != nil:
			res.Runs[i].DeltaPPL = res.Runs[i].PPL - base.PPL
		default:
			res.Runs[i].DeltaPPL = 0 // no baseline of this identity yet: no delta
		}
	}
	return &res, nil
}

// Assemble merges a results directory's records into results.json (under
// the directory's assembly lock, so concurrent workers never write an
// older view over a newer one) and returns it. A directory without
// manifest.json (written before records existed) is read as it is.
func Assemble(dir string) (*Results, error) {
	sec, err := dirlock.Serialize(dir, assembleLock)
	if err != nil {
		return nil, err
	}
	defer sec.Release()
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return ReadResults(dir)
	}
	res, err := assemble(dir, m)
	if err != nil {
		return nil, err
	}
	return res, writeResults(dir, res)
}

// orphanRecords are the records of runs/ that the manifest does not list
// (runs removed from the config); they stay on disk and out of results.json.
func orphanRecords(dir string, m *Manifest) []string {
	have := map[string]bool{}
	for _, r := range m.Runs {
		have[r.Name] = true
	}
	ents, _ := os.ReadDir(filepath.Join(dir, RunsDir))
	var out []string
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && !strings.HasPrefix(n, ".") && !have[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// sameRuns reports whether two manifests list the same runs and hashes.
func sameRuns(a, b []ManifestRun) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
