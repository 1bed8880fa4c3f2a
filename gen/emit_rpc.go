package main

import "strings"

var rpcKindConst = map[string]string{
	rpcStream:  "RPCStream",
	rpcOneway:  "RPCOneway",
	rpcRequest: "RPCRequest",
}

// emitServices returns the formatted source of <base>_rpc.gen.go: the
// subject table, handler interfaces, dispatchers and client stubs.
func emitServices(f *File) ([]byte, error) {
	p := &printer{}
	imports := []string{"errors", "fmt"}
	hasRequest := false
	for _, s := range f.Services {
		if s.isRequestService() {
			hasRequest = true
		}
	}
	if hasRequest {
		imports = []string{"context", "errors", "fmt"}
	}
	p.header(f, nil, imports)
	emitRPCCommon(p, f)
	for _, s := range f.Services {
		emitServiceTable(p, s)
		if s.isRequestService() {
			emitRequestService(p, f, s)
		} else {
			emitStreamService(p, s)
		}
	}
	if hasRequest {
		p.pf("")
		p.pf("// Caller sends a request to a subject suffix and returns the reply.")
		p.pf("// The transport adds its subject prefix, and the typed stubs encode")
		p.pf("// and decode the messages.")
		p.pf("type Caller interface {")
		p.pf("Call(ctx context.Context, subject string, request []byte) ([]byte, error)")
		p.pf("}")
	}
	return p.format(f.Base + "_rpc.gen.go")
}

func emitRPCCommon(p *printer, f *File) {
	p.pf("")
	p.pf("// RPCKind tells how an RPC travels over NATS.")
	p.pf("type RPCKind uint8")

	p.pf("")
	p.pf("const (")
	p.pf("// RPCStream is a pipelined RPC: requests are published to the")
	p.pf("// receiver's subject and responses are published back to the sender's")
	p.pf("// subject with \".resp\" appended, without NATS reply subjects.")
	p.pf("RPCStream RPCKind = iota + 1")
	p.pf("// RPCOneway is a message published to the receiver's subject, without")
	p.pf("// a response.")
	p.pf("RPCOneway")
	p.pf("// RPCRequest is a NATS request/reply exchange: the response goes to the")
	p.pf("// request's reply subject.")
	p.pf("RPCRequest")
	p.pf(")")

	p.pf("")
	p.pf("// String returns the schema keyword of k: stream, oneway or request.")
	p.pf("func (k RPCKind) String() string {")
	p.pf("switch k {")
	p.pf("case RPCStream:")
	p.pf("return %q", rpcStream)
	p.pf("case RPCOneway:")
	p.pf("return %q", rpcOneway)
	p.pf("case RPCRequest:")
	p.pf("return %q", rpcRequest)
	p.pf("}")
	p.pf("return fmt.Sprintf(\"RPCKind(%%d)\", uint8(k))")
	p.pf("}")

	p.pf("")
	p.pf("// RPCInfo describes one RPC of a service.")
	p.pf("type RPCInfo struct {")
	p.pf("// Service and Name are the service and rpc names of the schema.")
	p.pf("Service, Name string")
	p.pf("Kind RPCKind")
	p.pf("// Subject is the last part of the subject that carries requests.")
	p.pf("Subject string")
	p.pf("// ResponseSubject is the last part of the subject that carries the")
	p.pf("// responses of a stream RPC, or empty for other kinds.")
	p.pf("ResponseSubject string")
	p.pf("// Request and Response are the message kinds. Response is zero for a")
	p.pf("// oneway RPC.")
	p.pf("Request, Response Kind")
	p.pf("}")

	p.pf("")
	p.pf("// Subject suffixes of the RPCs. A transport prefixes them with its own")
	p.pf("// tokens, for example <prefix>.<cluster>.<node>.")
	p.pf("const (")
	for _, s := range f.Services {
		for _, r := range s.RPCs {
			p.pf("Subject%s = %q", r.Name, r.Subject)
			if r.Kind == rpcStream {
				p.pf("Subject%sResponse = %q", r.Name, r.ResponseSubject())
			}
		}
	}
	p.pf(")")

	p.pf("")
	p.pf("// ErrUnknownSubject is wrapped by the Dispatch functions for a subject")
	p.pf("// suffix that the service does not use.")
	p.pf("var ErrUnknownSubject = errors.New(%q)", f.Package+": unknown subject")
}

func emitServiceTable(p *printer, s *Service) {
	p.pf("")
	p.pf("// %sRPCs lists the RPCs of the %s service in schema order.", s.Name, s.Name)
	p.pf("var %sRPCs = []RPCInfo{", s.Name)
	for _, r := range s.RPCs {
		resp := "0"
		if r.RespMsg != nil {
			resp = "Kind" + r.RespMsg.Name
		}
		respSubject := `""`
		if r.Kind == rpcStream {
			respSubject = "Subject" + r.Name + "Response"
		}
		p.pf("{Service: %q, Name: %q, Kind: %s, Subject: Subject%s, ResponseSubject: %s, Request: Kind%s, Response: %s},",
			s.Name, r.Name, rpcKindConst[r.Kind], r.Name, respSubject, r.ReqMsg.Name, resp)
	}
	p.pf("}")
}

// serviceDoc returns a generated first paragraph followed by the schema's
// comment of the service.
func serviceDoc(first string, s *Service) []string {
	doc := []string{first}
	if len(s.Doc) > 0 {
		doc = append(doc, "")
		doc = append(doc, s.Doc...)
	}
	return doc
}

func emitStreamService(p *printer, s *Service) {
	h := s.Name + "Handler"

	p.pf("")
	p.doc(serviceDoc(h+" receives the messages of the "+s.Name+" service, one method per subject.", s))
	p.pf("type %s interface {", h)
	for _, r := range s.RPCs {
		p.doc(rpcDoc("Handle"+r.Name+" receives "+article(r.ReqMsg.Name)+" "+r.ReqMsg.Name+" published on Subject"+r.Name+".", r))
		p.pf("Handle%s(*%s)", r.Name, r.ReqMsg.Name)
		if r.RespMsg != nil {
			p.pf("// Handle%sResponse receives %s %s published on Subject%sResponse.", r.Name, article(r.RespMsg.Name), r.RespMsg.Name, r.Name)
			p.pf("Handle%sResponse(*%s)", r.Name, r.RespMsg.Name)
		}
	}
	p.pf("}")

	p.pf("")
	p.pf("// Dispatch%s decodes data as the message that the subject suffix", s.Name)
	p.pf("// carries in the %s service and passes it to the matching method of h.", s.Name)
	p.pf("// The message's bytes fields alias data. It returns an error wrapping")
	p.pf("// ErrUnknownSubject for a suffix the service does not use, and the")
	p.pf("// decode error (wrapping ErrMalformed) for malformed data. In both")
	p.pf("// cases h is not called.")
	p.pf("func Dispatch%s(subject string, data []byte, h %s) error {", s.Name, h)
	p.pf("return Dispatch%sWithLimits(subject, data, Limits{}, h)", s.Name)
	p.pf("}")

	p.pf("")
	p.pf("// Dispatch%sWithLimits is Dispatch%s with the decode bounded by limits,", s.Name, s.Name)
	p.pf("// as UnmarshalWithLimits bounds it: data beyond them returns an error")
	p.pf("// wrapping ErrTooLarge and ErrMalformed, and h is not called.")
	p.pf("func Dispatch%sWithLimits(subject string, data []byte, limits Limits, h %s) error {", s.Name, h)
	p.pf("switch subject {")
	for _, r := range s.RPCs {
		emitDispatchCase(p, "Subject"+r.Name, r.ReqMsg, "Handle"+r.Name)
		if r.RespMsg != nil {
			emitDispatchCase(p, "Subject"+r.Name+"Response", r.RespMsg, "Handle"+r.Name+"Response")
		}
	}
	p.pf("default:")
	p.pf("return fmt.Errorf(\"%%w %%q in service %s\", ErrUnknownSubject, subject)", s.Name)
	p.pf("}")
	p.pf("return nil")
	p.pf("}")

	p.pf("")
	p.pf("// %sSubject returns the subject suffix that carries messages of kind k", s.Name)
	p.pf("// in the %s service, and false for a kind the service does not carry.", s.Name)
	p.pf("func %sSubject(k Kind) (string, bool) {", s.Name)
	p.pf("switch k {")
	for _, r := range s.RPCs {
		p.pf("case Kind%s:", r.ReqMsg.Name)
		p.pf("return Subject%s, true", r.Name)
		if r.RespMsg != nil {
			p.pf("case Kind%s:", r.RespMsg.Name)
			p.pf("return Subject%sResponse, true", r.Name)
		}
	}
	p.pf("}")
	p.pf("return \"\", false")
	p.pf("}")
}

// rpcDoc returns a generated first line followed by the schema's comment
// of the rpc.
func rpcDoc(first string, r *RPC) []string {
	doc := []string{first}
	if len(r.Doc) > 0 {
		doc = append(doc, r.Doc...)
	}
	return doc
}

func emitDispatchCase(p *printer, subject string, m *Message, method string) {
	p.pf("case %s:", subject)
	p.pf("msg := new(%s)", m.Name)
	p.pf("if err := msg.UnmarshalWithLimits(data, limits); err != nil {")
	p.pf("return err")
	p.pf("}")
	p.pf("h.%s(msg)", method)
}

func emitRequestService(p *printer, f *File, s *Service) {
	h := s.Name + "Handler"

	p.pf("")
	p.doc(serviceDoc(h+" serves the requests of the "+s.Name+" service. Each method returns the response to send; it must not return nil.", s))
	p.pf("type %s interface {", h)
	for _, r := range s.RPCs {
		p.doc(rpcDoc(r.Name+" serves "+article(r.ReqMsg.Name)+" "+r.ReqMsg.Name+" received on Subject"+r.Name+".", r))
		p.pf("%s(ctx context.Context, req *%s) *%s", r.Name, r.ReqMsg.Name, r.RespMsg.Name)
	}
	p.pf("}")

	p.pf("")
	p.pf("// Dispatch%s decodes data as the request that the subject suffix", s.Name)
	p.pf("// carries in the %s service, calls the matching method of h and returns", s.Name)
	p.pf("// the encoded response. The request's bytes fields alias data. It returns")
	p.pf("// an error wrapping ErrUnknownSubject for a suffix the service does not")
	p.pf("// use, and the decode error (wrapping ErrMalformed) for malformed data.")
	p.pf("// In both cases h is not called.")
	p.pf("func Dispatch%s(ctx context.Context, subject string, data []byte, h %s) ([]byte, error) {", s.Name, h)
	p.pf("return Dispatch%sWithLimits(ctx, subject, data, Limits{}, h)", s.Name)
	p.pf("}")

	p.pf("")
	p.pf("// Dispatch%sWithLimits is Dispatch%s with the request's decode bounded", s.Name, s.Name)
	p.pf("// by limits, as UnmarshalWithLimits bounds it: data beyond them returns an")
	p.pf("// error wrapping ErrTooLarge and ErrMalformed, and h is not called.")
	p.pf("func Dispatch%sWithLimits(ctx context.Context, subject string, data []byte, limits Limits, h %s) ([]byte, error) {", s.Name, h)
	p.pf("switch subject {")
	for _, r := range s.RPCs {
		p.pf("case Subject%s:", r.Name)
		p.pf("req := new(%s)", r.ReqMsg.Name)
		p.pf("if err := req.UnmarshalWithLimits(data, limits); err != nil {")
		p.pf("return nil, err")
		p.pf("}")
		p.pf("resp := h.%s(ctx, req)", r.Name)
		p.pf("if resp == nil {")
		p.pf("return nil, errors.New(%q)", f.Package+": the "+s.Name+"."+r.Name+" handler returned a nil response")
		p.pf("}")
		p.pf("return resp.Marshal(), nil")
	}
	p.pf("}")
	p.pf("return nil, fmt.Errorf(\"%%w %%q in service %s\", ErrUnknownSubject, subject)", s.Name)
	p.pf("}")
	stub := s.Name + "Stub"

	p.pf("")
	p.pf("// %s calls the RPCs of the %s service through Caller, encoding the", stub, s.Name)
	p.pf("// requests and decoding the responses.")
	p.pf("type %s struct {", stub)
	p.pf("Caller Caller")
	p.pf("}")
	for _, r := range s.RPCs {
		p.pf("")
		p.pf("// %s sends req to Subject%s and decodes the reply. It wraps the", r.Name, r.Name)
		p.pf("// Caller's errors, and a malformed reply returns an error wrapping")
		p.pf("// ErrMalformed.")
		p.pf("func (c %s) %s(ctx context.Context, req *%s) (*%s, error) {", stub, r.Name, r.ReqMsg.Name, r.RespMsg.Name)
		p.pf("data, err := c.Caller.Call(ctx, Subject%s, req.Marshal())", r.Name)
		p.pf("if err != nil {")
		p.pf("return nil, fmt.Errorf(\"call %%s: %%w\", Subject%s, err)", r.Name)
		p.pf("}")
		p.pf("resp := new(%s)", r.RespMsg.Name)
		p.pf("if err := resp.Unmarshal(data); err != nil {")
		p.pf("return nil, fmt.Errorf(\"call %%s: %%w\", Subject%s, err)", r.Name)
		p.pf("}")
		p.pf("return resp, nil")
		p.pf("}")
	}
}

// article returns the English indefinite article for a word, judged by
// its first letter.
func article(word string) string {
	if word != "" && strings.ContainsRune("AEIOUaeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
