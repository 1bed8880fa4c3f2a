package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/natsraft/natsraft/raft/wire"
	"github.com/natsraft/natsraft/raft/wire/msgp/msgptest"
)

// FuzzUnmarshal decodes arbitrary input as every message type. Decoding
// must not panic, must fail only with ErrMalformed, and a decoded message
// must encode to bytes that decode to the same encoding again.
func FuzzUnmarshal(f *testing.F) {
	for k := wire.Kind(1); wire.NewMessage(k) != nil; k++ {
		m := wire.NewMessage(k)
		msgptest.Fill(m)
		f.Add(m.MarshalAppend(nil))
	}
	f.Add([]byte{0x81, 0x63, 0xc7, 0x01, 0x05, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		for k := wire.Kind(1); wire.NewMessage(k) != nil; k++ {
			m := wire.NewMessage(k)
			if err := m.Unmarshal(data); err != nil {
				if !errors.Is(err, wire.ErrMalformed) {
					t.Fatalf("%v: error %v does not wrap ErrMalformed", k, err)
				}
				continue
			}
			enc := m.MarshalAppend(nil)
			if len(enc) != m.Size() {
				t.Fatalf("%v: Size() = %d, encoding has %d bytes", k, m.Size(), len(enc))
			}
			again := wire.NewMessage(k)
			if err := again.Unmarshal(enc); err != nil {
				t.Fatalf("%v: own encoding % x does not decode: %v", k, enc, err)
			}
			if enc2 := again.MarshalAppend(nil); !bytes.Equal(enc, enc2) {
				t.Fatalf("%v: encoding is not stable:\n% x\n% x", k, enc, enc2)
			}
		}
	})
}
