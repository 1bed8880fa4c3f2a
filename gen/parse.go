package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// SchemaError is a problem in a schema file, reported as "file:line: msg".
type SchemaError struct {
	File string
	Line int
	Msg  string
}

func (e *SchemaError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokWord
	tokNumber
	tokString
	tokPunct
)

type lexToken struct {
	kind tokenKind
	text string
	line int
	// doc holds the comment lines directly above the token, when the token
	// is the first on its line.
	doc []string
}

// lex splits src into tokens. It returns the comment lines that precede
// the first token separately, as the file comment.
func lex(path, src string) (toks []lexToken, fileComment []string, err error) {
	var doc []string
	seenToken := false
	for i, line := range strings.Split(src, "\n") {
		lineNo := i + 1
		rest := strings.TrimSpace(line)
		if rest == "" {
			doc = nil
			if !seenToken && fileComment != nil {
				fileComment = append(fileComment, "")
			}
			continue
		}
		if text, ok := strings.CutPrefix(rest, "//"); ok {
			text = strings.TrimPrefix(text, " ")
			text = strings.TrimRight(text, " \t\r")
			if !seenToken {
				fileComment = append(fileComment, text)
			}
			doc = append(doc, text)
			continue
		}
		first := true
		for rest != "" {
			var tok lexToken
			tok, rest, err = nextToken(path, lineNo, rest)
			if err != nil {
				return nil, nil, err
			}
			if tok.kind == tokEOF {
				break
			}
			if first {
				tok.doc = doc
				first = false
			}
			seenToken = true
			toks = append(toks, tok)
		}
		doc = nil
	}
	for len(fileComment) > 0 && fileComment[len(fileComment)-1] == "" {
		fileComment = fileComment[:len(fileComment)-1]
	}
	toks = append(toks, lexToken{kind: tokEOF, line: strings.Count(strings.TrimRight(src, "\n"), "\n") + 1})
	return toks, fileComment, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c == '/' || c == '.' || c == '-' ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// nextToken reads one token from the start of s. A trailing comment ends
// the line and yields tokEOF.
func nextToken(path string, line int, s string) (lexToken, string, error) {
	s = strings.TrimLeft(s, " \t\r")
	if s == "" || strings.HasPrefix(s, "//") {
		return lexToken{kind: tokEOF}, "", nil
	}
	c := s[0]
	switch {
	case strings.ContainsRune("{}()<>:,", rune(c)):
		return lexToken{kind: tokPunct, text: s[:1], line: line}, s[1:], nil
	case c == '"':
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return lexToken{}, "", &SchemaError{path, line, "unterminated string"}
		}
		return lexToken{kind: tokString, text: s[1 : end+1], line: line}, s[end+2:], nil
	case c == '-' || ('0' <= c && c <= '9'):
		n := 1
		for n < len(s) && isWordByte(s[n]) {
			n++
		}
		return lexToken{kind: tokNumber, text: s[:n], line: line}, s[n:], nil
	case isWordByte(c):
		n := 1
		for n < len(s) && isWordByte(s[n]) {
			n++
		}
		return lexToken{kind: tokWord, text: s[:n], line: line}, s[n:], nil
	default:
		return lexToken{}, "", &SchemaError{path, line, fmt.Sprintf("unexpected character %q", c)}
	}
}

type parser struct {
	path string
	toks []lexToken
	pos  int
}

// bail carries the SchemaError that stops parsing to the recover in parse.
type bail struct{ err *SchemaError }

func (p *parser) failf(line int, format string, args ...any) {
	panic(bail{&SchemaError{p.path, line, fmt.Sprintf(format, args...)}})
}

func (p *parser) peek() lexToken { return p.toks[p.pos] }

func (p *parser) next() lexToken {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

// describe names a token in an error message.
func describe(t lexToken) string {
	if t.kind == tokEOF {
		return "end of file"
	}
	return strconv.Quote(t.text)
}

func (p *parser) expect(text string) lexToken {
	t := p.next()
	if t.kind == tokString || t.text != text {
		p.failf(t.line, "expected %q, found %s", text, describe(t))
	}
	return t
}

func (p *parser) word(expected string) lexToken {
	t := p.next()
	if t.kind != tokWord {
		p.failf(t.line, "expected %s, found %s", expected, describe(t))
	}
	return t
}

func (p *parser) number(expected string) (int64, lexToken) {
	t := p.next()
	if t.kind != tokNumber {
		p.failf(t.line, "expected %s, found %s", expected, describe(t))
	}
	v, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil {
		p.failf(t.line, "invalid %s %q", expected, t.text)
	}
	return v, t
}

// parse parses one schema file. Syntax errors stop at the first one.
func parse(path, src string) (f *File, err error) {
	toks, fileComment, err := lex(path, src)
	if err != nil {
		return nil, err
	}
	p := &parser{path: path, toks: toks}
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bail)
			if !ok {
				panic(r)
			}
			f, err = nil, b.err
		}
	}()

	base := strings.TrimSuffix(filepath.Base(path), ".schema")
	f = &File{Path: path, Base: base, Comment: fileComment}
	t := p.next()
	if t.kind != tokWord || t.text != "package" {
		p.failf(t.line, "expected \"package\", found %s", describe(t))
	}
	name := p.word("package name")
	f.Package, f.PackageLine = name.text, name.line
	t = p.expect("output")
	dir := p.next()
	if dir.kind != tokWord && dir.kind != tokString {
		p.failf(dir.line, "expected output directory, found %s", describe(dir))
	}
	f.Output, f.OutputLine = dir.text, t.line

	for p.peek().kind != tokEOF {
		p.parseDecl(f)
	}
	return f, nil
}

func (p *parser) parseDecl(f *File) {
	t := p.next()
	if t.kind != tokWord {
		p.failf(t.line, "expected enum, message or service, found %s", describe(t))
	}
	switch t.text {
	case "enum":
		e := p.parseEnum(t)
		f.Enums = append(f.Enums, e)
		f.Decls = append(f.Decls, e)
	case "message":
		m := p.parseMessage(t)
		f.Messages = append(f.Messages, m)
		m.Kind = len(f.Messages)
		f.Decls = append(f.Decls, m)
	case "service":
		f.Services = append(f.Services, p.parseService(t))
	case "package", "output":
		p.failf(t.line, "%s must appear once, at the top of the file", t.text)
	default:
		p.failf(t.line, "unknown keyword %q: expected enum, message or service", t.text)
	}
}

func (p *parser) parseEnum(kw lexToken) *Enum {
	name := p.word("enum name")
	e := &Enum{Name: name.text, Line: name.line, Doc: kw.doc}
	p.expect("{")
	for p.peek().text != "}" || p.peek().kind != tokPunct {
		t := p.peek()
		if t.kind == tokEOF {
			p.failf(t.line, "enum %s: missing \"}\"", e.Name)
		}
		if t.kind != tokNumber {
			p.failf(t.line, "unknown keyword %s in enum %s: expected a number and a value name", describe(t), e.Name)
		}
		num, numTok := p.number("enum value number")
		vname := p.word("enum value name")
		e.Values = append(e.Values, &EnumValue{Name: vname.text, Number: num, Line: numTok.line, Doc: numTok.doc})
	}
	p.next()
	return e
}

func (p *parser) parseMessage(kw lexToken) *Message {
	name := p.word("message name")
	m := &Message{Name: name.text, Line: name.line, Doc: kw.doc}
	p.expect("{")
	for {
		t := p.peek()
		switch {
		case t.kind == tokPunct && t.text == "}":
			p.next()
			return m
		case t.kind == tokEOF:
			p.failf(t.line, "message %s: missing \"}\"", m.Name)
		case t.kind == tokWord && t.text == "reserved":
			p.next()
			for {
				id, idTok := p.number("reserved field id")
				m.Reserved = append(m.Reserved, Reserved{ID: id, Line: idTok.line})
				if n := p.peek(); n.kind != tokPunct || n.text != "," {
					break
				}
				p.next()
			}
		case t.kind == tokNumber:
			id, idTok := p.number("field id")
			fname := p.word("field name")
			p.expect(":")
			typ := p.parseType()
			m.Fields = append(m.Fields, &Field{Name: fname.text, ID: id, Type: typ, Line: idTok.line, Doc: idTok.doc})
		default:
			p.failf(t.line, "unknown keyword %s in message %s: expected a field or \"reserved\"", describe(t), m.Name)
		}
	}
}

func (p *parser) parseType() *Type {
	t := p.word("type")
	if t.text != typeList {
		return &Type{Name: t.text}
	}
	if n := p.peek(); n.kind != tokPunct || n.text != "<" {
		p.failf(t.line, "list needs an element type, as in list<string>")
	}
	p.expect("<")
	elem := p.parseType()
	p.expect(">")
	return &Type{Name: typeList, Elem: elem}
}

func (p *parser) parseService(kw lexToken) *Service {
	name := p.word("service name")
	s := &Service{Name: name.text, Line: name.line, Doc: kw.doc}
	p.expect("{")
	for {
		t := p.next()
		switch {
		case t.kind == tokPunct && t.text == "}":
			return s
		case t.kind == tokEOF:
			p.failf(t.line, "service %s: missing \"}\"", s.Name)
		case t.kind == tokWord && (t.text == rpcStream || t.text == rpcOneway || t.text == rpcRequest):
			s.RPCs = append(s.RPCs, p.parseRPC(t))
		default:
			p.failf(t.line, "unknown keyword %s in service %s: expected stream, oneway or request", describe(t), s.Name)
		}
	}
}

func (p *parser) parseRPC(kw lexToken) *RPC {
	name := p.word("rpc name")
	r := &RPC{Kind: kw.text, Name: name.text, Line: kw.line, Doc: kw.doc}
	p.expect("(")
	r.Request = p.word("request message").text
	p.expect(")")
	if t := p.peek(); t.kind == tokWord && t.text == "returns" {
		p.next()
		p.expect("(")
		r.Response = p.word("response message").text
		p.expect(")")
	}
	p.expect("subject")
	subj := p.next()
	if subj.kind != tokString {
		p.failf(subj.line, "expected quoted subject, found %s", describe(subj))
	}
	r.Subject = subj.text
	return r
}
