package reports

import "testing"

// A partial sweep (shards still at work) says which runs it does not show.
func TestPendingRunsNamed(t *testing.T) {
	r := fixture(t)
	r.Runs = r.Runs[1:]
	r.Pending = []string{"baseline", "rtn-w2"}
	w, err := Write(t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, readReport(t, w), "> 2 configured run(s) have no record yet (shards still at work, or interrupted) and are not shown: `baseline`, `rtn-w2`.")
}
