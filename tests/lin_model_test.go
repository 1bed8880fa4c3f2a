package tests

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
)

// kvOp names a key-value operation of the linearizability workload.
type kvOp uint8

const (
	kvGet kvOp = iota
	kvPut
	kvDelete
	kvCAS
)

func (o kvOp) String() string {
	return [...]string{"get", "put", "delete", "cas"}[o]
}

// kvInput is one operation's request.
type kvInput struct {
	op           kvOp
	key          string
	value        string // put and cas: the new value
	expected     string // cas: the value compared against
	expectAbsent bool   // cas: compare against an absent key instead
}

// kvOutput is one operation's result, as statemachine.KV reports it: Found
// reports whether the key existed before the command, Value and Revision
// describe the key after it (for delete, the deleted value and revision).
// unknown marks an operation whose outcome the client does not know.
type kvOutput struct {
	unknown  bool
	found    bool
	value    string
	revision uint64
	swapped  bool
}

// kvState is one key's state in the model: whether it exists, its value,
// and its revision, which counts the writes since it was created.
type kvState struct {
	exists   bool
	value    string
	revision uint64
}

// kvModel is the sequential specification of statemachine.KV for one key,
// and histories are partitioned by key. An operation with an unknown
// outcome takes effect when linearized, with any output. Its return time is
// infinite, so porcupine may also place it after every other operation,
// where its effect is never observed. Together this means that it may or
// may not have happened.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			key := op.Input.(kvInput).key
			byKey[key] = append(byKey[key], op)
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return kvState{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		return kvStep(state.(kvState), input.(kvInput), output.(kvOutput))
	},
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(kvInput), output.(kvOutput)
		var res string
		switch {
		case out.unknown:
			res = "unknown"
		case in.op == kvCAS:
			res = fmt.Sprintf("swapped=%t found=%t %q rev %d", out.swapped, out.found, out.value, out.revision)
		default:
			res = fmt.Sprintf("found=%t %q rev %d", out.found, out.value, out.revision)
		}
		switch in.op {
		case kvPut:
			return fmt.Sprintf("put(%s, %q) -> %s", in.key, in.value, res)
		case kvCAS:
			if in.expectAbsent {
				return fmt.Sprintf("cas(%s, absent, %q) -> %s", in.key, in.value, res)
			}
			return fmt.Sprintf("cas(%s, %q, %q) -> %s", in.key, in.expected, in.value, res)
		}
		return fmt.Sprintf("%s(%s) -> %s", in.op, in.key, res)
	},
	DescribeState: func(state interface{}) string {
		st := state.(kvState)
		if !st.exists {
			return "absent"
		}
		return fmt.Sprintf("%q rev %d", st.value, st.revision)
	},
}

func kvStep(st kvState, in kvInput, out kvOutput) (bool, kvState) {
	switch in.op {
	case kvGet:
		ok := out.unknown || (out.found == st.exists && (!st.exists || (out.value == st.value && out.revision == st.revision)))
		return ok, st
	case kvPut:
		next := kvState{exists: true, value: in.value, revision: st.revision + 1}
		ok := out.unknown || (out.found == st.exists && out.value == next.value && out.revision == next.revision)
		return ok, next
	case kvDelete:
		ok := out.unknown || (out.found == st.exists && (!st.exists || (out.value == st.value && out.revision == st.revision)))
		return ok, kvState{}
	case kvCAS:
		match := (in.expectAbsent && !st.exists) || (!in.expectAbsent && st.exists && st.value == in.expected)
		next := st
		if match {
			next = kvState{exists: true, value: in.value, revision: st.revision + 1}
		}
		if out.unknown {
			return true, next
		}
		return out.swapped == match && out.found == st.exists && out.value == next.value && out.revision == next.revision, next
	}
	return false, st
}

// linOp builds a porcupine operation for the model tests.
func linOp(in kvInput, out kvOutput, call, ret int64) porcupine.Operation {
	return porcupine.Operation{Input: in, Output: out, Call: call, Return: ret}
}

func TestKVModelRejectsStaleRead(t *testing.T) {
	put := kvInput{op: kvPut, key: "k", value: "a"}
	get := kvInput{op: kvGet, key: "k"}
	history := []porcupine.Operation{
		linOp(put, kvOutput{value: "a", revision: 1}, 0, 10),
		// The read starts after the acknowledged put returned, yet misses it.
		linOp(get, kvOutput{}, 20, 30),
	}
	assert.False(t, porcupine.CheckOperations(kvModel, history))

	history[1] = linOp(get, kvOutput{found: true, value: "a", revision: 1}, 20, 30)
	assert.True(t, porcupine.CheckOperations(kvModel, history))
}

func TestKVModelRejectsDoubleApply(t *testing.T) {
	put := kvInput{op: kvPut, key: "k", value: "a"}
	get := kvInput{op: kvGet, key: "k"}
	history := []porcupine.Operation{
		linOp(put, kvOutput{value: "a", revision: 1}, 0, 10),
		// Revision 2 after one put means the put was applied twice.
		linOp(get, kvOutput{found: true, value: "a", revision: 2}, 20, 30),
	}
	assert.False(t, porcupine.CheckOperations(kvModel, history))
}

func TestKVModelUnknownOutcomeMayOrMayNotApply(t *testing.T) {
	put := kvInput{op: kvPut, key: "k", value: "a"}
	get := kvInput{op: kvGet, key: "k"}
	unknown := linOp(put, kvOutput{unknown: true}, 0, math.MaxInt64)
	applied := []porcupine.Operation{unknown, linOp(get, kvOutput{found: true, value: "a", revision: 1}, 20, 30)}
	notApplied := []porcupine.Operation{unknown, linOp(get, kvOutput{}, 20, 30)}
	assert.True(t, porcupine.CheckOperations(kvModel, applied), "a put with an unknown outcome may have happened")
	assert.True(t, porcupine.CheckOperations(kvModel, notApplied), "a put with an unknown outcome may not have happened")

	// It happened at most once: a later read cannot see it undone and redone.
	twice := append(applied, linOp(get, kvOutput{}, 40, 50), linOp(get, kvOutput{found: true, value: "a", revision: 1}, 60, 70))
	assert.False(t, porcupine.CheckOperations(kvModel, twice))
}

func TestKVModelCompareAndSet(t *testing.T) {
	cas := kvInput{op: kvCAS, key: "k", expectAbsent: true, value: "a"}
	history := []porcupine.Operation{
		linOp(cas, kvOutput{swapped: true, value: "a", revision: 1}, 0, 10),
		// The key exists now, so a second create-if-absent must fail.
		linOp(cas, kvOutput{swapped: true, value: "a", revision: 1}, 20, 30),
	}
	assert.False(t, porcupine.CheckOperations(kvModel, history))

	history[1] = linOp(cas, kvOutput{found: true, value: "a", revision: 1}, 20, 30)
	assert.True(t, porcupine.CheckOperations(kvModel, history))
}
