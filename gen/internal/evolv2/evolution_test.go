package evolv2_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/natsraft/natsraft/gen/internal/evolv1"
	"github.com/natsraft/natsraft/gen/internal/evolv2"
	"github.com/natsraft/natsraft/raft/wire/msgp"
	"github.com/natsraft/natsraft/raft/wire/msgp/msgptest"
)

func TestMessageCodecs(t *testing.T) {
	for k := evolv1.Kind(1); evolv1.NewMessage(k) != nil; k++ {
		t.Run("v1/"+k.String(), func(t *testing.T) {
			msgptest.CheckCodec(t, func() msgptest.Message { return evolv1.NewMessage(k) })
		})
	}
	for k := evolv2.Kind(1); evolv2.NewMessage(k) != nil; k++ {
		t.Run("v2/"+k.String(), func(t *testing.T) {
			msgptest.CheckCodec(t, func() msgptest.Message { return evolv2.NewMessage(k) })
		})
	}
}

// common is the part of a Record that both versions know.
type common struct {
	ID      uint64
	Title   string
	Score   int64
	Status  int32
	Items   []commonItem
	Payload []byte
}

type commonItem struct {
	Name  string
	Count int64
}

func commonV1(r *evolv1.Record) common {
	c := common{ID: r.ID, Title: r.Title, Score: r.Score, Status: int32(r.Status), Payload: r.Payload}
	for _, it := range r.Items {
		c.Items = append(c.Items, commonItem{Name: it.Name, Count: it.Count})
	}
	return c
}

func commonV2(r *evolv2.Record) common {
	c := common{ID: r.ID, Title: r.Title, Score: r.Score, Status: int32(r.Status), Payload: r.Payload}
	for _, it := range r.Items {
		c.Items = append(c.Items, commonItem{Name: it.Name, Count: it.Count})
	}
	return c
}

func recordV1() *evolv1.Record {
	return &evolv1.Record{
		ID:         70000,
		Title:      "first",
		LegacyFlag: true,
		Score:      -12,
		Status:     evolv1.StatusActive,
		Items:      []evolv1.Item{{Name: "a", Count: 1}, {Name: "b", Count: -300}},
		Payload:    []byte{1, 2, 3},
	}
}

func recordV2() *evolv2.Record {
	return &evolv2.Record{
		ID:      1 << 40,
		Title:   "second",
		Score:   99,
		Status:  evolv2.StatusArchived,
		Items:   []evolv2.Item{{Name: "a", Count: 2, Weight: 0.5}, {Name: "c", Weight: -1}},
		Payload: []byte("payload"),
		Tags:    []string{"x", "y"},
		Owner:   evolv2.Owner{Name: "ops", Since: 1700000000},
	}
}

func TestNewVersionDecodesOld(t *testing.T) {
	old := recordV1()
	var got evolv2.Record
	if err := got.Unmarshal(old.Marshal()); err != nil {
		t.Fatalf("v2 Unmarshal of a v1 Record: %v", err)
	}
	if !reflect.DeepEqual(commonV2(&got), commonV1(old)) {
		t.Errorf("shared fields changed:\n got %+v\nwant %+v", commonV2(&got), commonV1(old))
	}
	if got.Tags != nil {
		t.Errorf("Tags = %q, want nil: v1 has no such field", got.Tags)
	}
	if got.Owner != (evolv2.Owner{}) {
		t.Errorf("Owner = %+v, want zero: v1 has no such field", got.Owner)
	}
	for i, it := range got.Items {
		if it.Weight != 0 {
			t.Errorf("Items[%d].Weight = %v, want 0: v1 items have no weight", i, it.Weight)
		}
	}
}

func TestOldVersionDecodesNew(t *testing.T) {
	newer := recordV2()
	var got evolv1.Record
	if err := got.Unmarshal(newer.Marshal()); err != nil {
		t.Fatalf("v1 Unmarshal of a v2 Record: %v", err)
	}
	if !reflect.DeepEqual(commonV1(&got), commonV2(newer)) {
		t.Errorf("shared fields changed:\n got %+v\nwant %+v", commonV1(&got), commonV2(newer))
	}
	if got.LegacyFlag {
		t.Error("LegacyFlag = true, want false: v2 reserves its id and never writes it")
	}
	// v1 keeps the number of an enum value it does not declare.
	if got.Status != 2 || got.Status.String() != "Status(2)" {
		t.Errorf("Status = %d (%v), want the undeclared value 2", got.Status, got.Status)
	}
}

func TestOldVersionDropsNewFieldsWhenRelaying(t *testing.T) {
	var relay evolv1.Record
	if err := relay.Unmarshal(recordV2().Marshal()); err != nil {
		t.Fatal(err)
	}
	var got evolv2.Record
	if err := got.Unmarshal(relay.Marshal()); err != nil {
		t.Fatalf("v2 Unmarshal of the relayed Record: %v", err)
	}
	if !reflect.DeepEqual(commonV2(&got), commonV2(recordV2())) {
		t.Errorf("shared fields changed in the relay:\n got %+v\nwant %+v", commonV2(&got), commonV2(recordV2()))
	}
	if got.Tags != nil || got.Owner != (evolv2.Owner{}) {
		t.Errorf("v1 re-encoded fields it does not know: Tags %q, Owner %+v", got.Tags, got.Owner)
	}
}

// fieldIDs returns the top-level field ids of an encoded message.
func fieldIDs(t *testing.T, data []byte) []uint64 {
	t.Helper()
	r := msgp.NewReader(data)
	n, err := r.ReadMapHeader()
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for range n {
		id, err := r.ReadUint64()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if err := r.Skip(msgp.MaxDepth); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func TestReservedIDNotWritten(t *testing.T) {
	full := new(evolv2.Record)
	msgptest.Fill(full)
	want := []uint64{1, 2, 4, 5, 6, 7, 8, 9}
	if got := fieldIDs(t, full.Marshal()); !reflect.DeepEqual(got, want) {
		t.Fatalf("field ids of a filled v2 Record = %v, want %v", got, want)
	}
}

func TestReservedIDSkippedWhateverItsType(t *testing.T) {
	// A v1 sender wrote a bool under id 3; a sender that broke the rule
	// wrote a string. v2 skips both.
	for _, value := range [][]byte{msgp.AppendBool(nil, true), msgp.AppendString(nil, "reused")} {
		b := msgp.AppendMapHeader(nil, 2)
		b = msgp.AppendUint(b, 3)
		b = append(b, value...)
		b = msgp.AppendUint(b, 1)
		b = msgp.AppendUint(b, 5)
		var got evolv2.Record
		if err := got.Unmarshal(b); err != nil || got.ID != 5 {
			t.Fatalf("id 3 holding % x: ID %d, error %v; want ID 5 and no error", value, got.ID, err)
		}
	}
}

func TestZeroMessagesMatch(t *testing.T) {
	if !bytes.Equal(new(evolv1.Record).Marshal(), new(evolv2.Record).Marshal()) {
		t.Fatal("zero Records encode differently in the two versions")
	}
}

// FuzzEvolution decodes arbitrary input with each version. Whatever one
// version accepts, it re-encodes, and the other version must decode that
// encoding and agree on the shared fields.
func FuzzEvolution(f *testing.F) {
	f.Add(recordV1().Marshal())
	f.Add(recordV2().Marshal())
	filled1, filled2 := new(evolv1.Record), new(evolv2.Record)
	msgptest.Fill(filled1)
	msgptest.Fill(filled2)
	f.Add(filled1.Marshal())
	f.Add(filled2.Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		var v1 evolv1.Record
		if v1.Unmarshal(data) == nil {
			var v2 evolv2.Record
			if err := v2.Unmarshal(v1.Marshal()); err != nil {
				t.Fatalf("v2 cannot decode v1's encoding: %v", err)
			}
			if !reflect.DeepEqual(commonV2(&v2), commonV1(&v1)) {
				t.Fatalf("v1 to v2 changed shared fields:\n got %+v\nwant %+v", commonV2(&v2), commonV1(&v1))
			}
		}
		var v2 evolv2.Record
		if v2.Unmarshal(data) == nil {
			var v1 evolv1.Record
			if err := v1.Unmarshal(v2.Marshal()); err != nil {
				t.Fatalf("v1 cannot decode v2's encoding: %v", err)
			}
			if !reflect.DeepEqual(commonV1(&v1), commonV2(&v2)) {
				t.Fatalf("v2 to v1 changed shared fields:\n got %+v\nwant %+v", commonV1(&v1), commonV2(&v2))
			}
		}
	})
}
