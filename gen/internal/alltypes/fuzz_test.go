package alltypes_test

import (
	"testing"

	"github.com/natsraft/natsraft/gen/internal/alltypes"
	"github.com/natsraft/natsraft/raft/wire/msgp/msgptest"
)

// FuzzUnmarshal decodes arbitrary input as every message type of the
// schema that uses every feature of the language (floats, enums, lists of
// lists, nested and recursive messages, multi-byte field ids), and checks
// the decoder's guarantees with msgptest.CheckDecode.
func FuzzUnmarshal(f *testing.F) {
	for k := alltypes.Kind(1); alltypes.NewMessage(k) != nil; k++ {
		m := alltypes.NewMessage(k)
		msgptest.Fill(m)
		f.Add(m.MarshalAppend(nil))
	}
	f.Add(tree(5).Marshal())
	f.Add((&alltypes.Lists{Matrix: [][]int64{{1, -2}, nil, {3}}}).Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		for k := alltypes.Kind(1); alltypes.NewMessage(k) != nil; k++ {
			msgptest.CheckDecode(t, func() msgptest.Message { return alltypes.NewMessage(k) }, data)
		}
	})
}
