package table

import (
	"strings"
	"testing"
)

func TestRenderAlignsNumbersRight(t *testing.T) {
	tb := New("name", "bytes", "share")
	tb.Row("ssm_in_proj", "1,824,522,240", "22.52%")
	tb.Rule()
	tb.Row("ssm_core", "8", "<0.01%")
	tb.Row("total", "8", "-")
	var b strings.Builder
	tb.Render(&b)
	want := `name                 bytes   share
----------------------------------
ssm_in_proj  1,824,522,240  22.52%
----------------------------------
ssm_core                 8  <0.01%
total                    8       -
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	var md strings.Builder
	tb.Markdown(&md)
	if !strings.Contains(md.String(), "|---|---:|---:|") || !strings.Contains(md.String(), "| total | 8 | - |") {
		t.Fatalf("markdown:\n%s", md.String())
	}
}
