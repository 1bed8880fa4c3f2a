package statemachine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/natsraft/natsraft/raft"
	"github.com/natsraft/natsraft/statemachine/kvwire"
)

// ErrIndexOrder is wrapped by KV.Apply when a command's index is not above
// the last applied index. It means the caller broke the raft.StateMachine
// contract, so the batch is not applied.
var ErrIndexOrder = errors.New("statemachine: commands out of index order")

// KV is a key-value state machine that implements raft.StateMachine. Apply
// takes kvwire.Command messages and returns kvwire.Result messages, and Read
// serves Get commands.
//
// KV is safe for concurrent use: Read, Digest, Len and AppliedIndex may run
// while Apply or Restore runs on another goroutine.
type KV struct {
	// mu protects data and applied. Apply and Restore take it for writing.
	mu   sync.RWMutex
	data map[string]record
	// applied is the index of the last applied command, or the index stored
	// in the last restored snapshot.
	applied uint64
}

// record is the stored state of one key.
type record struct {
	value []byte
	// revision counts the writes to the key since it was last created, so it
	// is at least 1 for a stored key.
	revision uint64
}

var (
	_ raft.StateMachine  = (*KV)(nil)
	_ raft.InlineApplier = (*KV)(nil)
)

// ApplyInline returns true: Apply and Read only work on the in-memory map,
// so the node may run them on its own loop (see raft.InlineApplier).
func (kv *KV) ApplyInline() bool { return true }

// NewKV returns an empty key-value state machine.
func NewKV() *KV {
	return &KV{data: make(map[string]record)}
}

// Apply applies the commands in order and returns one encoded kvwire.Result
// per command, or nil for a command with ResultUnused set. A command that cannot be decoded or is invalid yields a
// Result with Error set and changes nothing, so a bad client command never
// stops the node. Apply returns an error, and applies nothing, only when the
// command indexes are not strictly increasing above AppliedIndex.
func (kv *KV) Apply(cmds []raft.Command) ([][]byte, error) {
	if len(cmds) == 0 {
		return nil, nil
	}

	kv.mu.Lock()
	defer kv.mu.Unlock()

	prev := kv.applied
	for i := range cmds {
		if cmds[i].Index <= prev {
			return nil, fmt.Errorf("statemachine: apply command at index %d after index %d: %w",
				cmds[i].Index, prev, ErrIndexOrder)
		}
		prev = cmds[i].Index
	}

	results := make([][]byte, len(cmds))
	for i := range cmds {
		result := kv.applyCommand(cmds[i].Data)
		if !cmds[i].ResultUnused {
			results[i] = result.Marshal()
		}
	}
	kv.applied = prev
	return results, nil
}

// Read runs a query, which must be an encoded kvwire.Command with op Get,
// and returns an encoded kvwire.Result. An invalid query yields a Result
// with Error set. Read never changes the state.
func (kv *KV) Read(query []byte) ([]byte, error) {
	var cmd kvwire.Command
	if err := cmd.Unmarshal(query); err != nil {
		result := kvwire.Result{Error: "invalid query: " + err.Error()}
		return result.Marshal(), nil
	}
	if cmd.Op != kvwire.OpGet {
		result := kvwire.Result{Error: fmt.Sprintf("invalid query: op %v is a write, only Get can be read", cmd.Op)}
		return result.Marshal(), nil
	}

	kv.mu.RLock()
	defer kv.mu.RUnlock()
	result := kv.get(&cmd)
	return result.Marshal(), nil
}

// AppliedIndex returns the index of the last applied command, or the index
// stored in the last restored snapshot.
func (kv *KV) AppliedIndex() uint64 {
	kv.mu.RLock()
	defer kv.mu.RUnlock()
	return kv.applied
}

// Len returns the number of keys.
func (kv *KV) Len() int {
	kv.mu.RLock()
	defer kv.mu.RUnlock()
	return len(kv.data)
}

// Digest returns the hex-encoded SHA-256 of the keys, values and revisions
// in key order. Two KVs with the same contents have the same digest, whatever
// their applied index.
func (kv *KV) Digest() string {
	kv.mu.RLock()
	defer kv.mu.RUnlock()

	h := sha256.New()
	scratch := make([]byte, 0, 3*maxVarintLen)
	for _, key := range kv.sortedKeysLocked() {
		// The hash.Hash contract says Write never returns an error.
		_ = writeRecord(h, scratch, key, kv.data[key])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sortedKeysLocked returns the keys in ascending byte order. The caller
// must hold kv.mu.
func (kv *KV) sortedKeysLocked() []string {
	keys := make([]string, 0, len(kv.data))
	for key := range kv.data {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}
