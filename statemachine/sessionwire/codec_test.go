package sessionwire

import (
	"reflect"
	"testing"
)

func TestSessionTableRoundTrip(t *testing.T) {
	table := &SessionTable{
		Clock: 1_700_000_000_000_000_000,
		Sessions: []SessionState{
			{ClientID: "a", LastUsed: 5, Acked: 2, Results: []SessionRecord{{Sequence: 3, Index: 10, Result: []byte("r3")}, {Sequence: 4, Index: 12}}},
			{ClientID: "b", LastUsed: 9},
		},
	}
	b := table.Marshal()
	if len(b) != table.Size() {
		t.Errorf("Size %d, encoding %d bytes", table.Size(), len(b))
	}
	var got SessionTable
	if err := got.Unmarshal(b); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if !reflect.DeepEqual(table, &got) {
		t.Errorf("round trip changed the table:\n got %+v\nwant %+v", got, *table)
	}
}

func TestSessionResultWithoutStatusIsUnspecified(t *testing.T) {
	// A key-value result {5: "x"} is no session result: its field id is
	// unknown here and skipped, and the status stays Unspecified.
	var res SessionResult
	if err := res.Unmarshal([]byte{0x81, 0x05, 0xa1, 'x'}); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if res.Status != StatusUnspecified {
		t.Errorf("status %v, want Unspecified", res.Status)
	}
}
