// Package dirlock gives a directory to one process at a time: an
// exclusive advisory lock on DIR/.hyquant.lock, held for the life of the
// process (the kernel releases it when the process exits or crashes, so a
// crash leaves nothing stale), with the holder's pid, host and command
// written in the file so that a refused second process can name it.
//
// Shard workers of one experiment share the directory instead
// (AcquireShared): any number of shared holders at once, none while an
// exclusive holder is there, and the other way round. Serialize is a short
// blocking critical section among them (assembling results.json).
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
func Acquire(dir, what string) (*Lock, error) { return acquire(dir, what, lockFile) }

// AcquireShared is Acquire for one of several cooperating processes (shard
// workers): granted while only shared holders have dir, refused at once,
// naming the holder, while an exclusive one has it.
func AcquireShared(dir, what string) (*Lock, error) { return acquire(dir, what, lockShared) }

// Share turns a held exclusive lock into a shared one. The change is not
// atomic (flock(2)): an exclusive locker may get in between, and Share
// then fails naming it.
func (l *Lock) Share() error {
	if err := lockShared(l.f); err != nil {
		if errors.Is(err, errLocked) {
			return fmt.Errorf("%s was taken by another hyquant process (%s) while this one changed its lock", filepath.Dir(l.f.Name()), readHolder(l.f))
		}
		return err
	}
	return nil
}

// Serialize waits until this process alone holds dir/name (created if
// missing) and returns the lock: a critical section of a few file
// operations among processes that share dir. Release ends it.
func Serialize(dir, name string) (*Lock, error) {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := lockWait(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

func acquire(dir, what string, lock func(*os.File) error) (*Lock, error) {
	path := filepath.Join(dir, File)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	if err := lock(f); err != nil {
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
