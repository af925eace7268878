package units

import "testing"

func TestFormats(t *testing.T) {
	cases := map[string]string{
		Commas(8100852736): "8,100,852,736",
		Commas(-1234):      "-1,234",
		Commas(999):        "999",
		Both(16201705472):  "16.202 GB (15.089 GiB)",
		Both(30427056):     "30.427 MB (29.018 MiB)",
		Percent(0.5785):    "57.85%",
		Percent(0.000001):  "<0.01%",
		Percent(0):         "0.00%",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
