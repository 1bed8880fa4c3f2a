package main

import (
	"go/token"
	"regexp"
	"strings"
)

// initialisms are the words that Go names spell in upper case, from the
// list that golint and staticcheck use.
var initialisms = map[string]bool{
	"ACL": true, "API": true, "ASCII": true, "CPU": true, "CSS": true, "DNS": true,
	"EOF": true, "GUID": true, "HTML": true, "HTTP": true, "HTTPS": true, "ID": true,
	"IP": true, "JSON": true, "LHS": true, "QPS": true, "RAM": true, "RHS": true,
	"RPC": true, "SLA": true, "SMTP": true, "SQL": true, "SSH": true, "TCP": true,
	"TLS": true, "TTL": true, "UDP": true, "UI": true, "UID": true, "UUID": true,
	"URI": true, "URL": true, "UTF8": true, "VM": true, "XML": true, "XMPP": true,
	"XSRF": true, "XSS": true,
}

// camelCase converts a snake_case field name to an exported Go name,
// spelling initialisms in upper case: last_log_index -> LastLogIndex,
// node_id -> NodeID.
func camelCase(name string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(name, "_") {
		if part == "" {
			continue
		}
		if up := strings.ToUpper(part); initialisms[up] {
			b.WriteString(up)
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]))
		b.WriteString(part[1:])
	}
	return b.String()
}

var (
	identRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	exportedRE  = regexp.MustCompile(`^[A-Z][A-Za-z0-9_]*$`)
	fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	packageRE   = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	// subjectRE matches one or more dot-separated NATS subject tokens
	// without wildcards.
	subjectRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// predeclared lists Go's predeclared identifiers (types, constants, zero
// value and builtin functions) as of Go 1.26.
var predeclared = map[string]bool{
	"any": true, "bool": true, "byte": true, "comparable": true, "complex64": true,
	"complex128": true, "error": true, "float32": true, "float64": true, "int": true,
	"int8": true, "int16": true, "int32": true, "int64": true, "rune": true,
	"string": true, "uint": true, "uint8": true, "uint16": true, "uint32": true,
	"uint64": true, "uintptr": true, "true": true, "false": true, "iota": true,
	"nil": true, "append": true, "cap": true, "clear": true, "close": true,
	"complex": true, "copy": true, "delete": true, "imag": true, "len": true,
	"make": true, "max": true, "min": true, "new": true, "panic": true,
	"print": true, "println": true, "real": true, "recover": true,
}

// isReservedGo reports whether name is a Go keyword or predeclared
// identifier, which a generated declaration must not use.
func isReservedGo(name string) bool {
	return token.IsKeyword(name) || predeclared[name]
}

// rewriteDoc returns doc with its first word replaced by goName when that
// word is the schema name, so that the Go doc comment starts with the
// declared Go name. Punctuation after the word is kept.
func rewriteDoc(doc []string, schemaName, goName string) []string {
	if len(doc) == 0 || schemaName == goName {
		return doc
	}
	first := doc[0]
	end := strings.IndexFunc(first, func(r rune) bool {
		return !(r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9'))
	})
	if end < 0 {
		end = len(first)
	}
	if first[:end] != schemaName {
		return doc
	}
	out := append([]string{goName + first[end:]}, doc[1:]...)
	return out
}
