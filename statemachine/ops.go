package statemachine

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"github.com/natsraft/natsraft/statemachine/kvwire"
)

// maxQuotedValue is how many bytes of a value an error message quotes.
const maxQuotedValue = 32

// applyCommand decodes and applies one command. The caller must hold kv.mu
// for writing. Every outcome, including a decoding failure, is a Result, and the
// same data always gives the same Result on the same state.
func (kv *KV) applyCommand(data []byte) kvwire.Result {
	var cmd kvwire.Command
	if err := cmd.Unmarshal(data); err != nil {
		return kvwire.Result{Error: "invalid command: " + err.Error()}
	}
	if cmd.Key == "" {
		return kvwire.Result{Error: "invalid command: the key is empty"}
	}

	switch cmd.Op {
	case kvwire.OpGet:
		return kv.get(&cmd)
	case kvwire.OpPut:
		return kv.put(&cmd)
	case kvwire.OpDelete:
		return kv.delete(&cmd)
	case kvwire.OpCompareAndSet:
		return kv.compareAndSet(&cmd)
	case kvwire.OpIncrement:
		return kv.increment(&cmd)
	default:
		return kvwire.Result{Error: fmt.Sprintf("invalid command: unknown op %v", cmd.Op)}
	}
}

// In the results below, Found reports whether the key existed before the
// command, and Value and Revision describe the key after it.

// get returns the key's value and revision. The caller must hold kv.mu.
func (kv *KV) get(cmd *kvwire.Command) kvwire.Result {
	if cmd.Key == "" {
		return kvwire.Result{Error: "invalid query: the key is empty"}
	}
	rec, found := kv.data[cmd.Key]
	return kvwire.Result{Found: found, Value: rec.value, Revision: rec.revision}
}

// put sets the key's value and increments its revision.
func (kv *KV) put(cmd *kvwire.Command) kvwire.Result {
	old, found := kv.data[cmd.Key]
	rec := kv.write(cmd.Key, old, cmd.Value)
	return kvwire.Result{Found: found, Value: rec.value, Revision: rec.revision}
}

// delete removes the key. The Result carries the deleted value and its last
// revision. A key created again later starts over at revision 1.
func (kv *KV) delete(cmd *kvwire.Command) kvwire.Result {
	old, found := kv.data[cmd.Key]
	if found {
		delete(kv.data, cmd.Key)
	}
	return kvwire.Result{Found: found, Value: old.value, Revision: old.revision}
}

// compareAndSet writes the value if the key is absent and ExpectAbsent is
// set, or if the key exists, ExpectAbsent is not set and its value equals
// Expected. An empty Expected matches an empty value. Without a match, the
// Result carries the current value and revision so the client can retry.
func (kv *KV) compareAndSet(cmd *kvwire.Command) kvwire.Result {
	old, found := kv.data[cmd.Key]
	var match bool
	if cmd.ExpectAbsent {
		match = !found
	} else {
		match = found && bytes.Equal(old.value, cmd.Expected)
	}
	if !match {
		return kvwire.Result{Found: found, Value: old.value, Revision: old.revision}
	}
	rec := kv.write(cmd.Key, old, cmd.Value)
	return kvwire.Result{Found: found, Value: rec.value, Revision: rec.revision, Swapped: true}
}

// increment adds Delta to the key's value read as a decimal int64, where an
// absent key counts as 0. A value that is not a decimal int64, or a sum that
// overflows int64, yields a Result with Error set and no change.
func (kv *KV) increment(cmd *kvwire.Command) kvwire.Result {
	old, found := kv.data[cmd.Key]
	var current int64
	if found {
		n, err := strconv.ParseInt(string(old.value), 10, 64)
		if err != nil {
			return kvwire.Result{
				Found:    true,
				Value:    old.value,
				Revision: old.revision,
				Error:    fmt.Sprintf("increment %q: value %s is not a decimal int64", cmd.Key, quoteValue(old.value)),
			}
		}
		current = n
	}

	delta := cmd.Delta
	if (delta > 0 && current > math.MaxInt64-delta) || (delta < 0 && current < math.MinInt64-delta) {
		return kvwire.Result{
			Found:    found,
			Value:    old.value,
			Revision: old.revision,
			Error:    fmt.Sprintf("increment %q: %d plus %d overflows int64", cmd.Key, current, delta),
		}
	}
	rec := kv.write(cmd.Key, old, strconv.AppendInt(nil, current+delta, 10))
	return kvwire.Result{Found: found, Value: rec.value, Revision: rec.revision}
}

// write stores a copy of value under key with the revision after old's.
// The copy matters because value may alias a log entry's buffer.
func (kv *KV) write(key string, old record, value []byte) record {
	rec := record{value: bytes.Clone(value), revision: old.revision + 1}
	kv.data[key] = rec
	return rec
}

// quoteValue quotes value for an error message, cut to maxQuotedValue bytes.
func quoteValue(value []byte) string {
	if len(value) <= maxQuotedValue {
		return strconv.Quote(string(value))
	}
	return strconv.Quote(string(value[:maxQuotedValue])) + fmt.Sprintf(" (%d bytes in all)", len(value))
}
