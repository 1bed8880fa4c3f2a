package raft

import "sort"

// termRun is a run of consecutive log entries with the same term, starting
// at index start.
type termRun struct {
	start uint64
	term  uint64
}

// termIndex is the core's in-memory view of its log: the index range and the
// term of every entry, stored as runs of equal terms. Terms change rarely, so
// it stays a few runs long however long the log is, and the core checks
// AppendEntries consistency and votes without reading storage.
type termIndex struct {
	// first is the first index held; entries below it are covered by the
	// snapshot at first-1, whose term is snapTerm.
	first    uint64
	last     uint64
	snapTerm uint64
	runs     []termRun
}

func newTermIndex(snapIndex, snapTerm uint64) termIndex {
	return termIndex{first: snapIndex + 1, last: snapIndex, snapTerm: snapTerm}
}

// term returns the term at index and whether the index is known (held, or the
// snapshot's last index). Index 0 has term 0.
func (l *termIndex) term(index uint64) (uint64, bool) {
	if index == 0 {
		return 0, true
	}
	if index == l.first-1 {
		return l.snapTerm, true
	}
	if index < l.first || index > l.last {
		return 0, false
	}
	i := sort.Search(len(l.runs), func(i int) bool { return l.runs[i].start > index })
	return l.runs[i-1].term, true
}

func (l *termIndex) lastTerm() uint64 {
	t, _ := l.term(l.last)
	return t
}

// append adds one entry of term t at index last+1.
func (l *termIndex) append(t uint64) {
	l.last++
	if n := len(l.runs); n == 0 || l.runs[n-1].term != t {
		l.runs = append(l.runs, termRun{start: l.last, term: t})
	}
}

// truncate removes the entries at index from and above.
func (l *termIndex) truncate(from uint64) {
	if from > l.last {
		return
	}
	if from < l.first {
		from = l.first
	}
	l.last = from - 1
	i := sort.Search(len(l.runs), func(i int) bool { return l.runs[i].start >= from })
	l.runs = l.runs[:i]
}

// firstIndexOfTerm returns the first held index of the run that contains
// index; callers use it as the conflict hint of a rejected AppendEntries.
func (l *termIndex) firstIndexOfTerm(index uint64) uint64 {
	i := sort.Search(len(l.runs), func(i int) bool { return l.runs[i].start > index })
	if i == 0 {
		return l.first
	}
	return l.runs[i-1].start
}

// lastIndexOfTerm returns the last index whose term is t, or 0 when the log
// holds no entry of term t.
func (l *termIndex) lastIndexOfTerm(t uint64) uint64 {
	for i := len(l.runs) - 1; i >= 0; i-- {
		if l.runs[i].term == t {
			if i+1 < len(l.runs) {
				return l.runs[i+1].start - 1
			}
			return l.last
		}
		if l.runs[i].term < t {
			return 0
		}
	}
	return 0
}

// compact drops the entries at index upTo and below after a snapshot.
func (l *termIndex) compact(upTo, upToTerm uint64) {
	if upTo < l.first {
		return
	}
	if upTo >= l.last {
		*l = newTermIndex(upTo, upToTerm)
		return
	}
	i := sort.Search(len(l.runs), func(i int) bool { return l.runs[i].start > upTo })
	runs := append([]termRun(nil), l.runs[i-1:]...)
	runs[0].start = upTo + 1
	l.runs = runs
	l.first = upTo + 1
	l.snapTerm = upToTerm
}

// isUpToDate reports whether a log ending at (index, term) is at least as
// up to date as this one: a later last term wins, and with equal last terms
// the longer log wins.
func (l *termIndex) isUpToDate(index, term uint64) bool {
	lt := l.lastTerm()
	return term > lt || (term == lt && index >= l.last)
}
