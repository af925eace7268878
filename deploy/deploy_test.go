// Package deploy holds the cluster examples (a Kubernetes Indexed Job, a
// Slurm array); this test checks that they parse and agree with hyquant's
// --shard rule and with the experiment they run.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hyquant/hyquant/experiments"
)

type job struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Spec       struct {
		CompletionMode string `yaml:"completionMode"`
		Completions    int    `yaml:"completions"`
		Parallelism    int    `yaml:"parallelism"`
		Template       struct {
			Spec struct {
				RestartPolicy string `yaml:"restartPolicy"`
				Containers    []struct {
					Command    []string `yaml:"command"`
					Args       []string `yaml:"args"`
					WorkingDir string   `yaml:"workingDir"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func readJobs(t *testing.T, path string) []job {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := yaml.NewDecoder(bytes.NewReader(b))
	var out []job
	for {
		var j job
		err := d.Decode(&j)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if j.APIVersion != "batch/v1" || j.Kind != "Job" || len(j.Spec.Template.Spec.Containers) != 1 || j.Spec.Template.Spec.RestartPolicy == "" {
			t.Fatalf("%s: not a one-container batch/v1 Job: %+v", path, j)
		}
		out = append(out, j)
	}
}

func TestKubernetesIndexedJob(t *testing.T) {
	jobs := readJobs(t, "kubernetes/nemotron-h-8b.yaml")
	if len(jobs) != 1 {
		t.Fatalf("%d documents", len(jobs))
	}
	j := jobs[0]
	c := j.Spec.Template.Spec.Containers[0]
	cmd := strings.Join(append(c.Command, c.Args...), " ")
	m := regexp.MustCompile(`hyquant run (\S+) .*--shard "\$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/(\d+)"`).FindStringSubmatch(cmd)
	if j.Spec.CompletionMode != "Indexed" || m == nil || m[2] != strconv.Itoa(j.Spec.Completions) || j.Spec.Parallelism != j.Spec.Completions {
		t.Fatalf("indexed job: mode %q, completions %d, parallelism %d, command %q", j.Spec.CompletionMode, j.Spec.Completions, j.Spec.Parallelism, cmd)
	}
	checkExperiment(t, m[1])
	if _, err := experiments.ParseShard("3/" + m[2]); err != nil {
		t.Error(err)
	}
	rep := readJobs(t, "kubernetes/nemotron-h-8b-report.yaml")
	if len(rep) != 1 || strings.Join(rep[0].Spec.Template.Spec.Containers[0].Command, " ") != "hyquant report results/nemotron-h-8b" {
		t.Fatalf("report job: %+v", rep)
	}
}

func TestSlurmArray(t *testing.T) {
	b, err := os.ReadFile("slurm/nemotron-h-8b.sbatch")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	arr := regexp.MustCompile(`(?m)^#SBATCH --array=1-(\d+)$`).FindStringSubmatch(s)
	run := regexp.MustCompile(`hyquant run (\S+) .*--shard "\$\{SLURM_ARRAY_TASK_ID\}/\$\{SLURM_ARRAY_TASK_COUNT\}"`).FindStringSubmatch(s)
	if arr == nil || run == nil {
		t.Fatalf("the array must be 1-n (--shard is 1-based) and pass SLURM_ARRAY_TASK_ID/COUNT to --shard:\n%s", s)
	}
	checkExperiment(t, run[1])
	sub, _ := os.ReadFile("slurm/submit.sh")
	if !strings.Contains(string(sub), "deploy/slurm/nemotron-h-8b.sbatch") || !strings.Contains(string(sub), `--dependency="afterany:${array}"`) || !strings.Contains(string(sub), "hyquant report results/nemotron-h-8b") {
		t.Errorf("submit.sh does not queue the merge after the array:\n%s", sub)
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		for _, f := range []string{"slurm/nemotron-h-8b.sbatch", "slurm/submit.sh"} {
			if out, err := exec.Command(bash, "-n", f).CombinedOutput(); err != nil {
				t.Errorf("%s: %v\n%s", f, err, out)
			}
		}
	}
}

// checkExperiment loads the experiment a deploy file runs (a path from the
// repository root) and checks that its output is the merged directory.
func checkExperiment(t *testing.T, path string) {
	t.Helper()
	c, err := experiments.Load("../" + path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Output != "results/nemotron-h-8b" {
		t.Errorf("%s writes %s, the deploy files merge results/nemotron-h-8b", path, c.Output)
	}
}
