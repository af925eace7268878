package experiments_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyquant/hyquant/experiments"
)

// The concurrency test re-executes this test binary as shard workers: with
// workerEnv set, TestMain runs one `hyquant run --shard` instead of tests.
const (
	workerEnv = "HYQUANT_TEST_WORKER" // the config file
	shardEnv  = "HYQUANT_TEST_SHARD"
	staleEnv  = "HYQUANT_TEST_STALE"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(workerEnv); cfg != "" {
		os.Exit(runWorker(cfg))
	}
	os.Exit(m.Run())
}

func runWorker(path string) int {
	c, err := experiments.Load(path)
	if err == nil {
		var s experiments.Shard
		if s, err = experiments.ParseShard(os.Getenv(shardEnv)); err == nil {
			var stale time.Duration
			if stale, err = time.ParseDuration(os.Getenv(staleEnv)); err == nil {
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				_, err = experiments.Execute(ctx, c, experiments.Options{Quiet: true, Log: os.Stderr, Shard: s, StaleAfter: stale})
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

// sweepConfig is a tiny sweep of 15 RTN runs and the baseline on the mini.
func sweepConfig(t *testing.T, dir, out string) string {
	return writeFile(t, filepath.Join(dir, "sweep.yaml"), "name: sweep\nmodel: "+miniPath(t)+"\noutput: "+out+"\n"+
		"eval: {seq_len: 64, max_windows: 1}\ncalibration: {segments: 1, length: 32, seed: 1}\nlayer_errors: false\n"+
		"sweep: {methods: [rtn], bits: [8, 4, 3]}\n"+
		"sensitivity: {categories: [ssm_in_proj, ssm_out_proj, mlp_up, mlp_down, attn_q, attn_o], bits: [4, 8]}\n")
}

type worker struct {
	shard string
	cmd   *exec.Cmd
	out   *bytes.Buffer
	done  chan error
}

// Three shard workers and a duplicate of one shard work on one experiment
// while workers are killed (SIGKILL: no clean-up) and restarted at random:
// every run is computed (recorded) exactly once, and the merged results
// are those of a single process.
func TestShardedWorkersKilledAtRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the mini model in several processes")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "sharded")
	cfg := sweepConfig(t, dir, out)

	// The reference: one process, every run.
	c, err := experiments.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Output = filepath.Join(dir, "single")
	t0 := time.Now()
	ref, err := experiments.Execute(context.Background(), c, experiments.Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("single process: %d runs in %.1f s", len(ref.Runs), time.Since(t0).Seconds())

	runLog := filepath.Join(dir, "runs.log")
	start := func(shard string) *worker {
		w := &worker{shard: shard, out: &bytes.Buffer{}, done: make(chan error, 1)}
		w.cmd = exec.Command(os.Args[0], "-test.run=^$")
		w.cmd.Env = append(os.Environ(), workerEnv+"="+cfg, shardEnv+"="+shard, staleEnv+"=1500ms", experiments.RunLogEnv+"="+runLog, "GOMAXPROCS=1")
		w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { w.done <- w.cmd.Wait() }()
		return w
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("kill schedule seed %d", seed)
	t0 = time.Now()
	workers := []*worker{start("1/3"), start("2/3"), start("3/3"), start("2/3")}
	finished := make([]bool, len(workers))
	var killedOutput []string
	check := func(i int, err error) {
		if err != nil {
			t.Fatalf("worker %s failed: %v\n%s", workers[i].shard, err, workers[i].out)
		}
		finished[i] = true
	}
	kills := 0
	for kills < 6 && time.Since(t0) < 40*time.Second {
		time.Sleep(time.Duration(200+rng.Intn(900)) * time.Millisecond)
		i := rng.Intn(len(workers))
		if finished[i] {
			continue
		}
		w := workers[i]
		select {
		case err := <-w.done:
			check(i, err)
			continue
		default:
		}
		w.cmd.Process.Kill()
		<-w.done
		kills++
		killedOutput = append(killedOutput, fmt.Sprintf("killed %s at %.1f s:\n%s", w.shard, time.Since(t0).Seconds(), w.out))
		time.Sleep(time.Duration(rng.Intn(300)) * time.Millisecond)
		workers[i] = start(w.shard)
		all := true
		for _, f := range finished {
			all = all && f
		}
		if all {
			break
		}
	}
	deadline := time.After(180 * time.Second) // generous: only a hang reaches it
	for i, w := range workers {
		if finished[i] {
			continue
		}
		select {
		case err := <-w.done:
			check(i, err)
		case <-deadline:
			for _, w := range workers {
				w.cmd.Process.Kill()
			}
			t.Fatalf("worker %s did not finish:\n%s\n%s", w.shard, w.out, strings.Join(killedOutput, "\n"))
		}
	}
	t.Logf("4 workers, %d killed and restarted: %.1f s", kills, time.Since(t0).Seconds())

	// Exactly one "done" per run, by the owner its record names.
	f, err := os.Open(runLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done, starts := map[string][]string{}, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ev := strings.Fields(sc.Text())
		if len(ev) != 3 {
			t.Fatalf("run log line %q", sc.Text())
		}
		switch ev[0] {
		case "start":
			starts++
		case "done":
			done[ev[1]] = append(done[ev[1]], ev[2])
		}
	}
	for _, r := range ref.Runs {
		if len(done[r.Name]) != 1 {
			t.Errorf("run %s was computed %d times (%v)", r.Name, len(done[r.Name]), done[r.Name])
			continue
		}
		var rec experiments.Record
		b, err := os.ReadFile(filepath.Join(out, experiments.RunsDir, r.Name+".json"))
		if err == nil {
			err = json.Unmarshal(b, &rec)
		}
		if err != nil || rec.ComputedBy.ID != done[r.Name][0] {
			t.Errorf("run %s: record by %q (%v), log says %s", r.Name, rec.ComputedBy.ID, err, done[r.Name][0])
		}
	}
	if len(done) != len(ref.Runs) {
		t.Errorf("%d runs recorded, want %d", len(done), len(ref.Runs))
	}
	t.Logf("%d computations started, %d recorded (the rest were killed)", starts, len(done))

	// The merged results are the single process's, wall times aside.
	got, err := experiments.Assemble(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Pending) != 0 || *got.Identity != *ref.Identity {
		t.Fatalf("pending %v, identity %+v, want %+v", got.Pending, got.Identity, ref.Identity)
	}
	if len(got.Runs) != len(ref.Runs) {
		t.Fatalf("merged runs %v, want %v", runNames(got), runNames(ref))
	}
	for i := range ref.Runs {
		a, b := got.Runs[i], ref.Runs[i]
		a.WallSeconds, b.WallSeconds = 0, 0
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Errorf("run %d differs from the single process's:\n%s\n%s", i, ja, jb)
		}
	}
	// No claim is left behind: a killed worker's were taken over.
	leftover, _ := filepath.Glob(filepath.Join(out, experiments.ClaimsDir, "*", "*.json"))
	if len(leftover) > 0 {
		t.Errorf("claims left: %v", leftover)
	}
}
