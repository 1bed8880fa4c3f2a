package alltypes_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/natsraft/natsraft/gen/internal/alltypes"
	"github.com/natsraft/natsraft/raft/wire/msgp/msgptest"
)

func TestMessageCodecs(t *testing.T) {
	for k := alltypes.Kind(1); alltypes.NewMessage(k) != nil; k++ {
		t.Run(k.String(), func(t *testing.T) {
			msgptest.CheckCodec(t, func() msgptest.Message { return alltypes.NewMessage(k) })
		})
	}
}

func TestFloatEdgeValues(t *testing.T) {
	for _, v := range []float64{math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64, math.NaN()} {
		in := &alltypes.Scalars{Ratio: v}
		var out alltypes.Scalars
		if err := out.Unmarshal(in.Marshal()); err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(out.Ratio) != math.Float64bits(v) {
			t.Errorf("Ratio %v decoded as %v", v, out.Ratio)
		}
	}
}

func TestEnumOutOfRange(t *testing.T) {
	// {7: 2^31}: an enum value beyond int32.
	data := []byte{0x81, 0x07, 0xce, 0x80, 0x00, 0x00, 0x00}
	err := new(alltypes.Scalars).Unmarshal(data)
	if !errors.Is(err, alltypes.ErrMalformed) || !strings.Contains(err.Error(), "Scalars.Color") {
		t.Fatalf("error %v, want one wrapping ErrMalformed that names Scalars.Color", err)
	}
	var s alltypes.Scalars
	if err := s.Unmarshal([]byte{0x81, 0x07, 0x09}); err != nil || s.Color != 9 {
		t.Fatalf("undeclared enum value 9: Color = %v, %v; want it kept", s.Color, err)
	}
}

func TestMultiByteFieldKeys(t *testing.T) {
	in := &alltypes.Scalars{WideKey: 1, WiderKey: -1}
	// {200: 1, 70000: -1}
	want := []byte{0x82, 0xcc, 0xc8, 0x01, 0xce, 0x00, 0x01, 0x11, 0x70, 0xff}
	if got := in.Marshal(); string(got) != string(want) {
		t.Fatalf("Marshal = % x, want % x", got, want)
	}
}

func tree(depth int) *alltypes.Tree {
	t := &alltypes.Tree{Value: int64(depth)}
	if depth > 1 {
		t.Children = []alltypes.Tree{*tree(depth - 1)}
	}
	return t
}

func TestRecursiveDepthLimit(t *testing.T) {
	var ok alltypes.Tree
	if err := ok.Unmarshal(tree(60).Marshal()); err != nil {
		t.Fatalf("tree of depth 60: %v", err)
	}
	if !reflect.DeepEqual(&ok, tree(60)) {
		t.Fatal("tree of depth 60 changed in a round trip")
	}
	err := new(alltypes.Tree).Unmarshal(tree(100).Marshal())
	if !errors.Is(err, alltypes.ErrMalformed) || !strings.Contains(err.Error(), "nesting deeper") {
		t.Fatalf("tree of depth 100: error %v, want a nesting error", err)
	}
}

func TestEmptyNestedMessageOmitted(t *testing.T) {
	n := &alltypes.Nested{Scalars: alltypes.Scalars{Flag: true}}
	// {1: {1: true}}: the zero Lists and Empty are left out.
	want := []byte{0x81, 0x01, 0x81, 0x01, 0xc3}
	if got := n.Marshal(); string(got) != string(want) {
		t.Fatalf("Marshal = % x, want % x", got, want)
	}
}

type events struct {
	synced *alltypes.Scalars
	lists  *alltypes.Lists
	pinged bool
}

func (e *events) HandleSync(m *alltypes.Scalars)       { e.synced = m }
func (e *events) HandleSyncResponse(m *alltypes.Lists) { e.lists = m }
func (e *events) HandlePing(*alltypes.Empty)           { e.pinged = true }

func TestStreamAndOnewayDispatch(t *testing.T) {
	h := &events{}
	if err := alltypes.DispatchEvents("sync", (&alltypes.Scalars{Name: "x"}).Marshal(), h); err != nil || h.synced.Name != "x" {
		t.Fatalf("sync: %v, %+v", err, h.synced)
	}
	if err := alltypes.DispatchEvents("sync.resp", (&alltypes.Lists{Names: []string{"y"}}).Marshal(), h); err != nil || h.lists.Names[0] != "y" {
		t.Fatalf("sync.resp: %v, %+v", err, h.lists)
	}
	if err := alltypes.DispatchEvents(alltypes.SubjectPing, []byte{0x80}, h); err != nil || !h.pinged {
		t.Fatalf("ping.now: %v", err)
	}
	if s, ok := alltypes.EventsSubject(alltypes.KindEmpty); !ok || s != "ping.now" {
		t.Fatalf("EventsSubject(KindEmpty) = %q, %v", s, ok)
	}
	if err := alltypes.DispatchEvents("lookup", nil, h); !errors.Is(err, alltypes.ErrUnknownSubject) {
		t.Fatalf("lookup on Events: error %v, want ErrUnknownSubject", err)
	}
}

type query struct{}

func (query) Lookup(_ context.Context, req *alltypes.Tree) *alltypes.Nested {
	return &alltypes.Nested{Scalars: alltypes.Scalars{Count: req.Value}}
}

type loopback struct{ h alltypes.QueryHandler }

func (l loopback) Call(ctx context.Context, subject string, request []byte) ([]byte, error) {
	return alltypes.DispatchQuery(ctx, subject, request, l.h)
}

func TestRequestStub(t *testing.T) {
	stub := alltypes.QueryStub{Caller: loopback{query{}}}
	resp, err := stub.Lookup(context.Background(), &alltypes.Tree{Value: -9})
	if err != nil || resp.Scalars.Count != -9 {
		t.Fatalf("Lookup = %+v, %v", resp, err)
	}
	want := []alltypes.RPCInfo{{Service: "Query", Name: "Lookup", Kind: alltypes.RPCRequest, Subject: "lookup", Request: alltypes.KindTree, Response: alltypes.KindNested}}
	if !reflect.DeepEqual(alltypes.QueryRPCs, want) {
		t.Fatalf("QueryRPCs = %+v", alltypes.QueryRPCs)
	}
}
