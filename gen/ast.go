package main

// File is one parsed schema file.
type File struct {
	// Path is the schema path used in error messages and in the header of
	// the generated files.
	Path string
	// Base is the file name without the .schema extension, which names the
	// generated files.
	Base string
	// Comment holds the comment lines before the package clause.
	Comment     []string
	Package     string
	PackageLine int
	Output      string
	OutputLine  int
	Enums       []*Enum
	Messages    []*Message
	Services    []*Service
	// Decls lists the enums and messages in schema order.
	Decls []any
}

// Enum is an enum declaration.
type Enum struct {
	Name   string
	Line   int
	Doc    []string
	Values []*EnumValue
}

// EnumValue is one named value of an enum.
type EnumValue struct {
	Name   string
	Number int64
	Line   int
	Doc    []string
}

// Message is a message declaration.
type Message struct {
	Name     string
	Line     int
	Doc      []string
	Fields   []*Field
	Reserved []Reserved
	// Kind is the message's 1-based position among the file's messages.
	Kind int
	// Nested is set when another message has a field of this type (not a
	// list element), so the generated code needs its isZero method.
	Nested bool
}

// Reserved is an id listed under "reserved" in a message.
type Reserved struct {
	ID   int64
	Line int
}

// Field is one field of a message.
type Field struct {
	Name string
	// GoName is the exported Go field name derived from Name.
	GoName string
	ID     int64
	Type   *Type
	Line   int
	Doc    []string
}

// Type is a field type: a scalar, an enum, a message or a list.
type Type struct {
	// Name is the scalar name, the enum or message name, or "list".
	Name string
	// Elem is the element type of a list.
	Elem *Type
	// Enum and Message are set by the checker for named types.
	Enum    *Enum
	Message *Message
}

// Scalar type names of the schema language.
const (
	typeBool    = "bool"
	typeInt64   = "int64"
	typeUint64  = "uint64"
	typeFloat64 = "float64"
	typeString  = "string"
	typeBytes   = "bytes"
	typeList    = "list"
)

func isScalar(name string) bool {
	switch name {
	case typeBool, typeInt64, typeUint64, typeFloat64, typeString, typeBytes:
		return true
	}
	return false
}

// Service is a service declaration.
type Service struct {
	Name string
	Line int
	Doc  []string
	RPCs []*RPC
}

// RPC kinds of the schema language.
const (
	rpcStream  = "stream"
	rpcOneway  = "oneway"
	rpcRequest = "request"
)

// RPC is one rpc of a service.
type RPC struct {
	Kind     string
	Name     string
	Request  string
	Response string
	Subject  string
	Line     int
	Doc      []string
	// ReqMsg and RespMsg are set by the checker.
	ReqMsg  *Message
	RespMsg *Message
}

// ResponseSubject returns the subject suffix of a stream RPC's responses,
// or "" for other RPC kinds.
func (r *RPC) ResponseSubject() string {
	if r.Kind != rpcStream {
		return ""
	}
	return r.Subject + ".resp"
}

// isRequestService reports whether s holds request RPCs. The checker makes
// sure that a service does not mix them with stream or oneway RPCs.
func (s *Service) isRequestService() bool {
	return len(s.RPCs) > 0 && s.RPCs[0].Kind == rpcRequest
}
