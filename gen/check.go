package main

import (
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
)

// checker collects the semantic errors of one schema file.
type checker struct {
	f    *File
	errs []*SchemaError
	// names maps each top-level Go identifier that the generated package
	// declares to the schema line that causes it.
	names map[string]int
	// subjects maps each subject suffix to the line of its rpc.
	subjects map[string]int
	// types maps each enum, message and service name to its declaration,
	// as "kind Name on line N".
	types map[string]string
}

func (c *checker) errorf(line int, format string, args ...any) {
	c.errs = append(c.errs, &SchemaError{c.f.Path, line, fmt.Sprintf(format, args...)})
}

// declare records a generated top-level Go name and reports a clash.
func (c *checker) declare(name string, line int, origin string) {
	if prev, ok := c.names[name]; ok {
		if prev == 0 {
			c.errorf(line, "%s: Go name %s is already declared by the generated code", origin, name)
		} else {
			c.errorf(line, "%s: Go name %s is already declared by line %d", origin, name, prev)
		}
		return
	}
	c.names[name] = line
}

// check resolves the types of f and reports every semantic error, sorted
// by line.
func check(f *File) []*SchemaError {
	c := &checker{f: f, names: map[string]int{}, subjects: map[string]int{}, types: map[string]string{}}
	for _, n := range []string{"Kind", "Message", "NewMessage", "ErrMalformed", "ErrTooLarge", "Limits"} {
		c.names[n] = 0
	}
	if len(f.Services) > 0 {
		for _, n := range []string{"RPCKind", "RPCInfo", "RPCStream", "RPCOneway", "RPCRequest", "ErrUnknownSubject", "Caller"} {
			c.names[n] = 0
		}
	}
	c.checkHeader()
	for _, e := range f.Enums {
		c.checkEnum(e)
	}
	for _, m := range f.Messages {
		if c.checkTypeName(m.Name, m.Line, "message") {
			c.declare("Kind"+m.Name, m.Line, "message "+m.Name)
		}
	}
	for _, m := range f.Messages {
		c.checkMessage(m)
	}
	c.checkRecursion()
	for _, s := range f.Services {
		c.checkService(s)
	}
	slices.SortStableFunc(c.errs, func(a, b *SchemaError) int { return a.Line - b.Line })
	return c.errs
}

func (c *checker) checkHeader() {
	f := c.f
	switch {
	case isReservedGo(f.Package):
		c.errorf(f.PackageLine, "package name %s is a reserved Go identifier", f.Package)
	case !packageRE.MatchString(f.Package):
		c.errorf(f.PackageLine, "package name %q must be lower-case letters and digits", f.Package)
	}
	clean := path.Clean(f.Output)
	if f.Output == "" || path.IsAbs(f.Output) || clean == ".." || strings.HasPrefix(clean, "../") || clean != f.Output {
		c.errorf(f.OutputLine, "output %q must be a clean relative directory inside the module", f.Output)
	}
}

// checkTypeName checks the name of an enum, message or service and
// declares it. It reports whether the name is valid and new.
func (c *checker) checkTypeName(name string, line int, declKind string) bool {
	switch {
	case isReservedGo(name):
		c.errorf(line, "%s name %s is a reserved Go identifier", declKind, name)
		return false
	case !exportedRE.MatchString(name):
		c.errorf(line, "%s name %q must be an identifier starting with an upper-case letter", declKind, name)
		return false
	}
	if prev, ok := c.types[name]; ok {
		c.errorf(line, "%s %s: duplicate name (first declared as %s)", declKind, name, prev)
		return false
	}
	c.types[name] = fmt.Sprintf("%s %s on line %d", declKind, name, line)
	c.declare(name, line, declKind+" "+name)
	return true
}

func (c *checker) checkEnum(e *Enum) {
	c.checkTypeName(e.Name, e.Line, "enum")
	names := map[string]int{}
	numbers := map[int64]*EnumValue{}
	for _, v := range e.Values {
		switch {
		case !exportedRE.MatchString(v.Name):
			c.errorf(v.Line, "enum %s: value name %q must be an identifier starting with an upper-case letter", e.Name, v.Name)
		case names[v.Name] != 0:
			c.errorf(v.Line, "enum %s: duplicate value name %s (first declared on line %d)", e.Name, v.Name, names[v.Name])
		default:
			names[v.Name] = v.Line
			c.declare(e.Name+v.Name, v.Line, fmt.Sprintf("enum %s value %s", e.Name, v.Name))
		}
		if v.Number < math.MinInt32 || v.Number > math.MaxInt32 {
			c.errorf(v.Line, "enum %s: value %s number %d is outside the int32 range", e.Name, v.Name, v.Number)
		} else if prev, ok := numbers[v.Number]; ok {
			c.errorf(v.Line, "enum %s: duplicate value number %d (first used by %s on line %d)", e.Name, v.Number, prev.Name, prev.Line)
		} else {
			numbers[v.Number] = v
		}
	}
}

// messageMethods are the methods that generated code declares on every
// message, which a field's Go name must not repeat.
var messageMethods = []string{"Kind", "Marshal", "MarshalAppend", "Unmarshal", "UnmarshalWithLimits", "Size", "Reset"}

// maxFieldID bounds field ids so they fit every integer type on every
// platform.
const maxFieldID = math.MaxInt32

func (c *checker) checkMessage(m *Message) {
	byID := map[int64]*Field{}
	byName := map[string]*Field{}
	// byGoName maps the Go names of fields and methods to a description,
	// getters included, since a field and a method cannot share a name.
	byGoName := map[string]string{}
	for _, name := range messageMethods {
		byGoName[name] = "method " + name
	}
	getters := map[string]string{}
	for _, fd := range m.Fields {
		getters["Get"+camelCase(fd.Name)] = fd.Name
	}
	reserved := map[int64]int{}
	for _, r := range m.Reserved {
		switch {
		case r.ID < 1 || r.ID > maxFieldID:
			c.errorf(r.Line, "message %s: reserved id %d must be between 1 and %d", m.Name, r.ID, maxFieldID)
		case reserved[r.ID] != 0:
			c.errorf(r.Line, "message %s: id %d is reserved twice (first on line %d)", m.Name, r.ID, reserved[r.ID])
		default:
			reserved[r.ID] = r.Line
		}
	}
	for _, fd := range m.Fields {
		where := fmt.Sprintf("message %s: field %s", m.Name, fd.Name)
		switch {
		case fd.ID < 1 || fd.ID > maxFieldID:
			c.errorf(fd.Line, "%s: id %d must be between 1 and %d", where, fd.ID, maxFieldID)
		case byID[fd.ID] != nil:
			c.errorf(fd.Line, "%s: duplicate field id %d (first used by %s on line %d)", where, fd.ID, byID[fd.ID].Name, byID[fd.ID].Line)
		case reserved[fd.ID] != 0:
			c.errorf(fd.Line, "%s: id %d is reserved (line %d)", where, fd.ID, reserved[fd.ID])
		default:
			byID[fd.ID] = fd
		}
		if !fieldNameRE.MatchString(fd.Name) {
			c.errorf(fd.Line, "%s: name must be snake_case: lower-case letters and digits separated by single underscores", where)
			continue
		}
		if prev := byName[fd.Name]; prev != nil {
			c.errorf(fd.Line, "%s: duplicate field name (first declared on line %d)", where, prev.Line)
			continue
		}
		byName[fd.Name] = fd
		fd.GoName = camelCase(fd.Name)
		if other, ok := byGoName[fd.GoName]; ok {
			c.errorf(fd.Line, "%s: Go name %s conflicts with %s", where, fd.GoName, other)
		} else if owner, ok := getters[fd.GoName]; ok {
			c.errorf(fd.Line, "%s: Go name %s conflicts with the getter of field %s", where, fd.GoName, owner)
		} else {
			byGoName[fd.GoName] = "field " + fd.Name
		}
		c.resolveType(fd.Type, fd.Line, where)
	}
}

// resolveType links named types to their declarations.
func (c *checker) resolveType(t *Type, line int, where string) bool {
	if t.Name == typeList {
		return c.resolveType(t.Elem, line, where)
	}
	if isScalar(t.Name) {
		return true
	}
	for _, e := range c.f.Enums {
		if e.Name == t.Name {
			t.Enum = e
			return true
		}
	}
	for _, m := range c.f.Messages {
		if m.Name == t.Name {
			t.Message = m
			return true
		}
	}
	c.errorf(line, "%s: unknown type %s", where, t.Name)
	return false
}

// checkRecursion reports messages that contain themselves through value
// fields, which Go cannot represent. Recursion through a list is allowed.
func (c *checker) checkRecursion() {
	state := map[*Message]int{} // 0 unvisited, 1 in progress, 2 done
	var visit func(m *Message, path []string) bool
	visit = func(m *Message, path []string) bool {
		switch state[m] {
		case 1:
			c.errorf(m.Line, "message %s contains itself through fields %s; use a list to nest it", m.Name, strings.Join(path, " -> "))
			return false
		case 2:
			return true
		}
		state[m] = 1
		for _, fd := range m.Fields {
			if fd.Type.Message == nil {
				continue
			}
			fd.Type.Message.Nested = true
			if !visit(fd.Type.Message, append(path, fd.Type.Message.Name+"."+fd.Name)) {
				state[m] = 2
				return false
			}
		}
		state[m] = 2
		return true
	}
	for _, m := range c.f.Messages {
		visit(m, []string{m.Name})
	}
}

func (c *checker) message(name string, line int, where string) *Message {
	for _, m := range c.f.Messages {
		if m.Name == name {
			return m
		}
	}
	c.errorf(line, "%s: unknown message %s", where, name)
	return nil
}

func (c *checker) checkService(s *Service) {
	c.checkTypeName(s.Name, s.Line, "service")
	if len(s.RPCs) == 0 {
		c.errorf(s.Line, "service %s has no rpcs", s.Name)
		return
	}
	if s.isRequestService() {
		c.declare(s.Name+"Stub", s.Line, "service "+s.Name)
	} else {
		c.declare(s.Name+"Subject", s.Line, "service "+s.Name)
	}
	for _, n := range []string{s.Name + "Handler", "Dispatch" + s.Name, "Dispatch" + s.Name + "WithLimits", s.Name + "RPCs"} {
		c.declare(n, s.Line, "service "+s.Name)
	}
	carried := map[*Message]string{}
	for _, r := range s.RPCs {
		c.checkRPC(s, r, carried)
	}
}

func (c *checker) checkRPC(s *Service, r *RPC, carried map[*Message]string) {
	where := fmt.Sprintf("service %s: rpc %s", s.Name, r.Name)
	switch {
	case isReservedGo(r.Name):
		c.errorf(r.Line, "%s: name %s is a reserved Go identifier", where, r.Name)
		return
	case !exportedRE.MatchString(r.Name):
		c.errorf(r.Line, "%s: name must be an identifier starting with an upper-case letter", where)
		return
	}
	if (r.Kind == rpcRequest) != s.isRequestService() {
		c.errorf(r.Line, "%s: service mixes request rpcs with stream or oneway rpcs; put them in separate services", where)
	}
	switch {
	case r.Kind == rpcOneway && r.Response != "":
		c.errorf(r.Line, "%s: a oneway rpc has no response; remove \"returns\"", where)
	case r.Kind != rpcOneway && r.Response == "":
		c.errorf(r.Line, "%s: a %s rpc needs \"returns (Message)\"", where, r.Kind)
	}

	r.ReqMsg = c.message(r.Request, r.Line, where)
	if r.Response != "" && r.Kind != rpcOneway {
		r.RespMsg = c.message(r.Response, r.Line, where)
	}
	c.checkSubject(r, where, r.Subject, "Subject"+r.Name)
	if r.Kind == rpcStream {
		c.checkSubject(r, where, r.ResponseSubject(), "Subject"+r.Name+"Response")
	}
	if r.Kind == rpcRequest {
		return
	}

	// A stream service dispatches by subject and looks subjects up by
	// message kind, so each message may travel on one subject only.
	for _, m := range []*Message{r.ReqMsg, r.RespMsg} {
		if m == nil {
			continue
		}
		if prev, ok := carried[m]; ok {
			c.errorf(r.Line, "%s: message %s is already carried by rpc %s of this service", where, m.Name, prev)
		}
		carried[m] = r.Name
	}
}

func (c *checker) checkSubject(r *RPC, where, subject, constName string) {
	if !subjectRE.MatchString(subject) {
		c.errorf(r.Line, "%s: subject %q must be dot-separated tokens of letters, digits, '_' and '-'", where, subject)
		return
	}
	if prev, ok := c.subjects[subject]; ok {
		c.errorf(r.Line, "%s: duplicate subject %q (first used on line %d)", where, subject, prev)
		return
	}
	c.subjects[subject] = r.Line
	c.declare(constName, r.Line, where)
}
