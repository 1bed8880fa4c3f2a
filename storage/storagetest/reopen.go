package storagetest

import (
	"io"
	"sync"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/raft/wire"
)

// OpenFunc opens a durable log store on the same files every time it is
// called, and returns the store and what closes it.
type OpenFunc func() (raft.LogStore, io.Closer, error)

// Reopening returns a raft.LogStore that opens the store with open for
// every call and closes it afterwards, so that every result comes from
// what the store reads back from its files. Running RunLogStore on it
// checks durability across reopens. Calls are serialized, because most
// durable stores allow one open instance at a time.
func Reopening(open OpenFunc) raft.LogStore {
	return &reopeningStore{open: open}
}

type reopeningStore struct {
	mu   sync.Mutex
	open OpenFunc
}

func (r *reopeningStore) with(fn func(s raft.LogStore) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, closer, err := r.open()
	if err != nil {
		return err
	}
	defer closer.Close()
	return fn(s)
}

func (r *reopeningStore) FirstIndex() (index uint64, err error) {
	err = r.with(func(s raft.LogStore) (err error) { index, err = s.FirstIndex(); return })
	return
}

func (r *reopeningStore) LastIndex() (index uint64, err error) {
	err = r.with(func(s raft.LogStore) (err error) { index, err = s.LastIndex(); return })
	return
}

func (r *reopeningStore) Entries(lo, hi uint64, maxBytes int) (entries []wire.Entry, err error) {
	err = r.with(func(s raft.LogStore) (err error) { entries, err = s.Entries(lo, hi, maxBytes); return })
	return
}

func (r *reopeningStore) Term(index uint64) (term uint64, err error) {
	err = r.with(func(s raft.LogStore) (err error) { term, err = s.Term(index); return })
	return
}

func (r *reopeningStore) Append(entries []wire.Entry) error {
	return r.with(func(s raft.LogStore) error { return s.Append(entries) })
}

func (r *reopeningStore) TruncateSuffix(from uint64) error {
	return r.with(func(s raft.LogStore) error { return s.TruncateSuffix(from) })
}

func (r *reopeningStore) TruncatePrefix(upTo uint64) error {
	return r.with(func(s raft.LogStore) error { return s.TruncatePrefix(upTo) })
}
