package statemachine

import (
	"fmt"

	"github.com/natsraft/natsraft/statemachine/kvwire"
)

// EncodePut returns a command that sets key to value.
func EncodePut(key string, value []byte) []byte {
	cmd := kvwire.Command{Op: kvwire.OpPut, Key: key, Value: value}
	return cmd.Marshal()
}

// EncodeGet returns a query for Read (or a command for the log) that reads
// key.
func EncodeGet(key string) []byte {
	cmd := kvwire.Command{Op: kvwire.OpGet, Key: key}
	return cmd.Marshal()
}

// EncodeDelete returns a command that deletes key.
func EncodeDelete(key string) []byte {
	cmd := kvwire.Command{Op: kvwire.OpDelete, Key: key}
	return cmd.Marshal()
}

// EncodeCompareAndSet returns a command that sets key to value if the key is
// absent and expectAbsent is true, or if expectAbsent is false and the key's
// current value equals expected.
func EncodeCompareAndSet(key string, expected []byte, expectAbsent bool, value []byte) []byte {
	cmd := kvwire.Command{
		Op:           kvwire.OpCompareAndSet,
		Key:          key,
		Value:        value,
		Expected:     expected,
		ExpectAbsent: expectAbsent,
	}
	return cmd.Marshal()
}

// EncodeIncrement returns a command that adds delta to key's value read as a
// decimal int64, counting an absent key as 0.
func EncodeIncrement(key string, delta int64) []byte {
	cmd := kvwire.Command{Op: kvwire.OpIncrement, Key: key, Delta: delta}
	return cmd.Marshal()
}

// DecodeResult decodes a result returned by KV.Apply or KV.Read. The
// result's Value aliases b.
func DecodeResult(b []byte) (kvwire.Result, error) {
	var result kvwire.Result
	if err := result.Unmarshal(b); err != nil {
		return kvwire.Result{}, fmt.Errorf("statemachine: decode result: %w", err)
	}
	return result, nil
}
