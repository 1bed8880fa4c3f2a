package kvwire_test

import (
	"bytes"
	"testing"

	"github.com/natsraft/natsraft/raft/wire/msgp/msgptest"
	"github.com/natsraft/natsraft/statemachine/kvwire"
)

func TestMessageCodecs(t *testing.T) {
	n := 0
	for k := kvwire.Kind(1); kvwire.NewMessage(k) != nil; k++ {
		n++
		t.Run(k.String(), func(t *testing.T) {
			msgptest.CheckCodec(t, func() msgptest.Message { return kvwire.NewMessage(k) })
		})
	}
	if n != 2 {
		t.Fatalf("NewMessage knows %d kinds, want Command and Result", n)
	}
}

func TestCommandEncoding(t *testing.T) {
	c := &kvwire.Command{Op: kvwire.OpIncrement, Key: "k", Delta: -3}
	// {1: 4, 2: "k", 6: -3}
	want := []byte{0x83, 0x01, 0x04, 0x02, 0xa1, 'k', 0x06, 0xfd}
	if got := c.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("Marshal = % x, want % x", got, want)
	}
	var back kvwire.Command
	if err := back.Unmarshal(want); err != nil {
		t.Fatal(err)
	}
	if back.Op != kvwire.OpIncrement || back.Key != "k" || back.Delta != -3 {
		t.Fatalf("Unmarshal = %+v", back)
	}
	if s := kvwire.OpCompareAndSet.String(); s != "CompareAndSet" {
		t.Fatalf("OpCompareAndSet.String() = %q", s)
	}
}
