package experiments

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hyquant/hyquant/internal/atomicfile"
)

// Claims: a run is computed by the process holding its claim, a file
// claims/<run>/<generation>.json naming the owner (pid, host, shard, start)
// whose modification time is its heartbeat, refreshed every
// DefaultHeartbeat. A claim is created with atomicfile.CreateExclusive, so
// of processes racing for a run exactly one gets it. A claim whose
// heartbeat is older than the stale timeout (its owner was killed, or lost
// the machine) is taken over by creating the next generation, again
// exclusively: of several processes that judge generation g stale, one
// creates g+1 and the rest see it fresh. An owner whose claim was taken
// over (its heartbeat stopped longer than the timeout while it lived)
// notices at its next heartbeat and abandons the run; the record itself is
// also created exclusively, so a run has one record whatever happens.
const (
	ClaimsDir = "claims"
	// DefaultStaleAfter is how old a claim's heartbeat must be before it
	// is taken over: well above NFS attribute caching (60 s by default)
	// and any clock skew between the machines sharing the directory.
	DefaultStaleAfter = 5 * time.Minute
)

// Owner is a process working on an experiment.
type Owner struct {
	ID      string    `json:"id"` // unique per process: host, pid and a random part
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Shard   string    `json:"shard"` // "2/3", or "all"
	Started time.Time `json:"started"`
}

func newOwner(s Shard) Owner {
	host, _ := os.Hostname()
	var r [4]byte
	rand.Read(r[:])
	return Owner{ID: fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(r[:])), PID: os.Getpid(), Host: host, Shard: s.String(), Started: time.Now().UTC().Truncate(time.Second)}
}

func (o Owner) String() string {
	if o.ID == "" && o.PID == 0 {
		return "an earlier hyquant (imported from a results.json written before run records)"
	}
	return fmt.Sprintf("pid %d on host %s, shard %s, since %s", o.PID, o.Host, o.Shard, o.Started.Format(time.RFC3339))
}

// claims takes and keeps the claims of one process.
type claims struct {
	dir   string // <output>/claims
	owner Owner
	stale time.Duration
	beat  time.Duration
	// alone: this process holds the directory exclusively, so every claim
	// it finds was left by a process that is gone and is taken over at once.
	alone bool
}

// claim is a held claim, its heartbeat running.
type claim struct {
	run, path string
	gen       int
	lost      chan struct{} // closed when another process took the claim over
	stop      chan struct{}
	wg        sync.WaitGroup
}

// take claims run for this process. A live claim of another process is not
// an error: take returns a nil claim and that claim's owner.
func (cs *claims) take(run string) (*claim, *Owner, error) {
	dir := filepath.Join(cs.dir, run)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	for attempt := 0; attempt < 100; attempt++ {
		gen, fi, owner, err := cs.current(dir)
		if err != nil {
			return nil, nil, err
		}
		if gen > 0 && fi == nil {
			continue // removed while read: look again
		}
		if gen > 0 && !cs.alone && time.Since(fi.ModTime()) < cs.stale {
			return nil, owner, nil
		}
		b, _ := json.Marshal(cs.owner)
		p := filepath.Join(dir, genName(gen+1))
		if err := atomicfile.CreateExclusive(p, b); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue // another process took generation gen+1 first
			}
			return nil, nil, fmt.Errorf("claiming run %s: %w", run, err)
		}
		// The generations below ours are over: their owners are gone or
		// will see ours at their next heartbeat.
		for g := 1; g <= gen; g++ {
			os.Remove(filepath.Join(dir, genName(g)))
		}
		c := &claim{run: run, path: p, gen: gen + 1, lost: make(chan struct{}), stop: make(chan struct{})}
		c.wg.Add(1)
		go cs.heartbeat(c, dir)
		return c, nil, nil
	}
	return nil, nil, fmt.Errorf("claiming run %s: %s keeps changing", run, dir)
}

// current is the newest generation of a run's claim: its number (0 if
// none), file info and owner (nil if it vanished meanwhile).
func (cs *claims) current(dir string) (int, fs.FileInfo, *Owner, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, nil, nil, err
	}
	gen := 0
	for _, e := range ents {
		if g, ok := parseGen(e.Name()); ok && g > gen {
			gen = g
		}
	}
	if gen == 0 {
		return 0, nil, nil, nil
	}
	p := filepath.Join(dir, genName(gen))
	fi, err := os.Stat(p)
	if err != nil {
		return gen, nil, nil, nil
	}
	var o Owner
	if b, err := os.ReadFile(p); err == nil {
		json.Unmarshal(b, &o) // an unreadable owner is still a claim
	}
	return gen, fi, &o, nil
}

func (cs *claims) heartbeat(c *claim, dir string) {
	defer c.wg.Done()
	t := time.NewTicker(cs.beat)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		gen, _, _, err := cs.current(dir)
		if err == nil && gen == c.gen {
			err = os.Chtimes(c.path, now, now)
		}
		if err != nil || gen != c.gen {
			close(c.lost)
			return
		}
	}
}

// release ends the claim: the heartbeat stops and the claim file goes
// (unless another process took it over; its file is its own).
func (c *claim) release() {
	close(c.stop)
	c.wg.Wait()
	select {
	case <-c.lost:
	default:
		os.Remove(c.path)
		os.Remove(filepath.Dir(c.path)) // only if empty
	}
}

// isLost reports whether another process took the claim over.
func (c *claim) isLost() bool {
	select {
	case <-c.lost:
		return true
	default:
		return false
	}
}

func genName(g int) string { return fmt.Sprintf("%08d.json", g) }

func parseGen(name string) (int, bool) {
	s, ok := strings.CutSuffix(name, ".json")
	if !ok || len(s) != 8 {
		return 0, false
	}
	g, err := strconv.Atoi(s)
	return g, err == nil && g > 0
}
