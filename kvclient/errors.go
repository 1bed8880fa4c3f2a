package kvclient

import (
	"errors"
	"fmt"
	"strconv"
)

// Errors callers branch on with errors.Is. Errors of the cluster call keep
// their classification: they match raft.ErrNotApplied when the command was
// certainly not applied, and raft.ErrOutcomeUnknown when it may have been.
var (
	// ErrKeyNotFound is returned by Get for a key that does not exist.
	ErrKeyNotFound = errors.New("kvclient: key not found")
	// ErrCompareFailed is matched by the *CompareFailedError that
	// CompareAndSet returns when the key's value did not match.
	ErrCompareFailed = errors.New("kvclient: compare failed")
	// ErrRejected is matched by the *RejectedError returned when the state
	// machine rejected a command as invalid.
	ErrRejected = errors.New("kvclient: command rejected by the state machine")
	// ErrEmptyKey is returned, without contacting the cluster, for an empty
	// key. The error matches raft.ErrNotApplied too.
	ErrEmptyKey = errors.New("kvclient: empty key")
)

// CompareFailedError is returned by CompareAndSet when the key's current
// value did not match: the command went through the log and changed
// nothing. It matches ErrCompareFailed and carries what the state machine
// found, so the caller can retry with the current value.
type CompareFailedError struct {
	// Key is the key of the CompareAndSet.
	Key string
	// Found reports whether the key exists.
	Found bool
	// Value and Revision are the key's current value and revision, or nil
	// and 0 when the key does not exist.
	Value    []byte
	Revision uint64
}

// Error implements the error interface.
func (e *CompareFailedError) Error() string {
	if !e.Found {
		return fmt.Sprintf("kvclient: compare-and-set %q: compare failed: the key does not exist", e.Key)
	}
	return fmt.Sprintf("kvclient: compare-and-set %q: compare failed: the key exists at revision %d", e.Key, e.Revision)
}

// Is makes errors.Is(err, ErrCompareFailed) true.
func (e *CompareFailedError) Is(target error) bool { return target == ErrCompareFailed }

// RejectedError is returned when the state machine rejected a command as
// invalid, for example an Increment of a value that is not a decimal
// integer, or one that would overflow. The command went through the log
// and changed nothing, so sending it again is rejected again. It matches
// ErrRejected.
type RejectedError struct {
	// Op is the operation: "put", "delete", "compare-and-set", "increment"
	// or "get".
	Op string
	// Key is the command's key.
	Key string
	// Index is the log index the command was applied at, or 0 for a read.
	Index uint64
	// Reason is the state machine's message.
	Reason string
}

// Error implements the error interface.
func (e *RejectedError) Error() string {
	where := ""
	if e.Index != 0 {
		where = " at log index " + strconv.FormatUint(e.Index, 10)
	}
	return fmt.Sprintf("kvclient: %s %q: rejected by the state machine%s: %s", e.Op, e.Key, where, e.Reason)
}

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }
