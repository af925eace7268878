// Package dirlock gives a directory to one process at a time: an
// exclusive advisory lock on DIR/.hyquant.lock, held for the life of the
// process (the kernel releases it when the process exits or crashes, so a
// crash leaves nothing stale), with the holder's pid, host and command
// written in the file so that a refused second process can name it.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File is the lock file's name inside the locked directory.
const File = ".hyquant.lock"

// errLocked is what the platform lock returns when another process holds it.
var errLocked = errors.New("locked by another process")

// Lock is a held directory lock.
type Lock struct {
	f *os.File
}

// Acquire locks dir (which must exist) for this process, or fails at once
// naming the process that holds it. what says what the holder does
// ("hyquant run experiments/x.yaml"), for that message.
func Acquire(dir, what string) (*Lock, error) {
	path := filepath.Join(dir, File)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	if err := lockFile(f); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%s is in use by another hyquant process (%s); wait for it to finish or stop it, then run again", dir, holder)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	host, _ := os.Hostname()
	line := fmt.Sprintf("pid %d on host %s since %s: %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339), what)
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(line), 0)
	}
	return &Lock{f: f}, nil
}

// Release gives the directory back (the lock file stays; the next holder
// overwrites it).
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	unlockFile(l.f)
	err := l.f.Close()
	l.f = nil
	return err
}

func readHolder(f *os.File) string {
	b := make([]byte, 512)
	n, _ := f.ReadAt(b, 0)
	s := strings.TrimSpace(string(b[:n]))
	if s == "" {
		return "holder unknown"
	}
	return s
}
