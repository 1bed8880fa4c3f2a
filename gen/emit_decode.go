package main

import "strconv"

func emitUnmarshal(p *printer, f *File, m *Message) {
	p.pf("")
	p.pf("// Unmarshal decodes b into m, replacing m's previous contents. Fields")
	p.pf("// missing from b are zero and unknown field ids are skipped. Bytes fields")
	p.pf("// alias b: they share its memory, so b must not change while m is in use.")
	p.pf("// Errors wrap ErrMalformed and name the message and field at fault.")
	p.pf("func (m *%s) Unmarshal(b []byte) error {", m.Name)
	p.pf("return m.UnmarshalWithLimits(b, Limits{})")
	p.pf("}")

	p.pf("")
	p.pf("// UnmarshalWithLimits decodes b into m as Unmarshal does, but fails when b")
	p.pf("// is longer than limits.MaxSize or when decoding would allocate more than")
	p.pf("// limits.MaxAlloc bytes for lists and strings. Both are checked before")
	p.pf("// allocating, and those errors wrap ErrTooLarge as well as ErrMalformed.")
	p.pf("func (m *%s) UnmarshalWithLimits(b []byte, limits Limits) error {", m.Name)
	p.pf("*m = %s{}", m.Name)
	p.pf("r := msgp.NewReader(b)")
	p.pf("if err := r.SetLimits(limits); err != nil {")
	p.pf("return decodeError(%q, \"\", err)", m.Name)
	p.pf("}")
	p.pf("if err := m.decode(&r, msgp.MaxDepth); err != nil {")
	p.pf("return err")
	p.pf("}")
	p.pf("if r.Len() != 0 {")
	p.pf("return decodeError(%q, \"\", &msgp.Error{Offset: r.Offset(), Reason: \"trailing bytes after the message\"})", m.Name)
	p.pf("}")
	p.pf("return nil")
	p.pf("}")

	p.pf("")
	p.pf("// decode reads one encoded %s from r into m, which must be zero.", m.Name)
	p.pf("// depth is the number of nesting levels that r may still enter.")
	p.pf("func (m *%s) decode(r *msgp.Reader, depth int) error {", m.Name)
	p.pf("if depth <= 0 {")
	p.pf("return decodeError(%q, \"\", &msgp.Error{Offset: r.Offset(), Reason: \"nesting deeper than \" + strconv.Itoa(msgp.MaxDepth) + \" levels\"})", m.Name)
	p.pf("}")
	p.pf("n, err := r.ReadMapHeader()")
	p.pf("if err != nil {")
	p.pf("return decodeError(%q, \"\", err)", m.Name)
	p.pf("}")
	p.pf("for range n {")
	p.pf("id, err := r.ReadUint64()")
	p.pf("if err != nil {")
	p.pf("return decodeError(%q, \"\", err)", m.Name)
	p.pf("}")
	p.pf("switch id {")
	for _, fd := range m.Fields {
		p.pf("case %d:", fd.ID)
		emitDecodeValue(p, m, fd, "m."+fd.GoName, strconv.Quote(fd.GoName), fd.Type, 0)
	}
	p.pf("default:")
	p.pf("if err := r.Skip(depth - 1); err != nil {")
	p.pf("return decodeError(%q, \"\", fmt.Errorf(\"skip unknown field %%d: %%w\", id, err))", m.Name)
	p.pf("}")
	p.pf("}")
	p.pf("}")
	p.pf("return nil")
	p.pf("}")
}

// emitDecodeValue prints statements that decode one value of type t from r
// into the variable x. name is a Go expression naming x in errors.
func emitDecodeValue(p *printer, m *Message, fd *Field, x, name string, t *Type, level int) {
	read := ""
	switch {
	case t.Name == typeBool:
		read = "ReadBool"
	case t.Name == typeInt64:
		read = "ReadInt64"
	case t.Name == typeUint64:
		read = "ReadUint64"
	case t.Name == typeFloat64:
		read = "ReadFloat64"
	case t.Name == typeString:
		read = "ReadString"
	case t.Name == typeBytes:
		read = "ReadBytes"
	}
	failure := func() {
		p.pf("return decodeError(%q, %s, err)", m.Name, name)
	}
	switch {
	case read != "":
		p.pf("if %s, err = r.%s(); err != nil {", x, read)
		failure()
		p.pf("}")
	case t.Enum != nil:
		p.pf("v, err := r.ReadInt32()")
		p.pf("if err != nil {")
		failure()
		p.pf("}")
		p.pf("%s = %s(v)", x, t.Enum.Name)
	case t.Message != nil:
		if level == 0 {
			p.pf("%s = %s{} // a repeated field id replaces the earlier value", x, t.Name)
		}
		p.pf("if err := %s.decode(r, depth-1); err != nil {", x)
		failure()
		p.pf("}")
	case t.Name == typeList:
		k := "k" + strconv.Itoa(level)
		i := "i" + strconv.Itoa(level)
		p.pf("%s, err := r.ReadListHeader(int(unsafe.Sizeof(%s[0])))", k, x)
		p.pf("if err != nil {")
		failure()
		p.pf("}")
		p.pf("%s = nil", x)
		p.pf("if %s > 0 {", k)
		p.pf("%s = make(%s, %s)", x, goType(t), k)
		p.pf("}")
		p.pf("for %s := range %s {", i, x)
		// name ends with a string literal, which is extended with the index.
		elemName := name[:len(name)-1] + `[" + strconv.Itoa(` + i + `) + "]"`
		emitDecodeValue(p, m, fd, x+"["+i+"]", elemName, t.Elem, level+1)
		p.pf("}")
	default:
		panic("gen: no decode code for type " + t.Name)
	}
}
