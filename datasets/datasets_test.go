package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Binary and non-UTF-8 files are refused with the file, the offending byte
// and where it is; UTF-8 text (with a BOM, with non-ASCII letters) is read.
func TestLoadRefusesBinaryAndNonUTF8(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"latin1.txt", []byte("caf\xe9 au lait\n"), "latin1.txt is not UTF-8: invalid byte 0xe9 at offset 3 (line 1, column 4); texts must be UTF-8 plain text"},
		{"model.bin", []byte("GGUF\x03\x00\x00\x00"), "model.bin looks binary (or UTF-16): NUL byte at offset 5 (line 1, column 6)"},
		{"utf16.txt", []byte("\xff\xfeh\x00i\x00"), "utf16.txt looks binary (or UTF-16): NUL byte at offset 3"},
		{"late.txt", []byte("line one\nline two \xc3\x28\n"), "late.txt is not UTF-8: invalid byte 0xc3 at offset 18 (line 2, column 10)"},
	}
	for _, c := range cases {
		_, err := Load(write(c.name, c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant %s", c.name, err, c.want)
		}
	}
	good := write("good.txt", []byte("\xef\xbb\xbfNaïve café — ünïcödé\n"))
	if txt, err := Load(good); err != nil || !strings.Contains(txt.Body, "café") {
		t.Errorf("UTF-8 text: %v", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	for _, n := range Names() {
		if _, err := Load(n); err != nil {
			t.Errorf("embedded %s: %v", n, err)
		}
	}
}
