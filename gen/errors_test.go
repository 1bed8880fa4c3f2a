package main

import (
	"strings"
	"testing"
)

// header is the start of every error-case schema, so declarations begin
// on line 3.
const header = "package p\noutput out/p\n"

func TestSchemaErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{
			"duplicate field id",
			"message M {\n  1 a: bool\n  1 b: bool\n}\n",
			[]string{"x.schema:5: message M: field b: duplicate field id 1 (first used by a on line 4)"},
		},
		{
			"duplicate field name",
			"message M {\n  1 a: bool\n  2 a: string\n}\n",
			[]string{"x.schema:5: message M: field a: duplicate field name (first declared on line 4)"},
		},
		{
			"unknown type",
			"message M {\n  1 a: int\n  2 b: list<Missing>\n}\n",
			[]string{
				"x.schema:4: message M: field a: unknown type int",
				"x.schema:5: message M: field b: unknown type Missing",
			},
		},
		{
			"reserved id reused",
			"message M {\n  reserved 2, 3\n  3 a: bool\n}\n",
			[]string{"x.schema:5: message M: field a: id 3 is reserved (line 4)"},
		},
		{
			"reserved twice",
			"message M {\n  reserved 2\n  reserved 2\n}\n",
			[]string{"x.schema:5: message M: id 2 is reserved twice (first on line 4)"},
		},
		{
			"field id below 1",
			"message M {\n  0 a: bool\n  -1 b: bool\n}\n",
			[]string{
				"x.schema:4: message M: field a: id 0 must be between 1 and 2147483647",
				"x.schema:5: message M: field b: id -1 must be between 1 and 2147483647",
			},
		},
		{
			"reserved Go identifier as message",
			"message string {\n}\nmessage type {\n}\n",
			[]string{
				"x.schema:3: message name string is a reserved Go identifier",
				"x.schema:5: message name type is a reserved Go identifier",
			},
		},
		{
			"reserved Go identifier as enum",
			"enum func {\n  0 A\n}\n",
			[]string{"x.schema:3: enum name func is a reserved Go identifier"},
		},
		{
			"reserved Go identifier as service",
			"message M {\n}\nservice func {\n  oneway Do(M) subject \"do\"\n}\n",
			[]string{"x.schema:5: service name func is a reserved Go identifier"},
		},
		{
			"reserved Go identifier as rpc",
			"message M {\n}\nservice S {\n  oneway func(M) subject \"do\"\n}\n",
			[]string{"x.schema:6: service S: rpc func: name func is a reserved Go identifier"},
		},
		{
			"lower-case enum value",
			"enum E {\n  0 func\n}\n",
			[]string{`x.schema:4: enum E: value name "func" must be an identifier starting with an upper-case letter`},
		},
		{
			"duplicate message name",
			"message M {\n}\nmessage M {\n}\n",
			[]string{"x.schema:5: message M: duplicate name (first declared as message M on line 3)"},
		},
		{
			"message named like an enum",
			"enum M {\n  0 A\n}\nmessage M {\n}\nservice M {\n  oneway Do(M) subject \"do\"\n}\n",
			[]string{
				"x.schema:6: message M: duplicate name (first declared as enum M on line 3)",
				"x.schema:8: service M: duplicate name (first declared as enum M on line 3)",
			},
		},
		{
			"reserved after the field that uses it",
			"message M {\n  3 a: bool\n  reserved 3\n}\n",
			[]string{"x.schema:4: message M: field a: id 3 is reserved (line 5)"},
		},
		{
			"reserved id out of range",
			"message M {\n  reserved 0, 2147483648\n}\n",
			[]string{
				"x.schema:4: message M: reserved id 0 must be between 1 and 2147483647",
				"x.schema:4: message M: reserved id 2147483648 must be between 1 and 2147483647",
			},
		},
		{
			"list without element type",
			"message M {\n  1 a: list\n}\n",
			[]string{"x.schema:4: list needs an element type, as in list<string>"},
		},
		{
			"unexported message name",
			"message entry {\n}\n",
			[]string{`x.schema:3: message name "entry" must be an identifier starting with an upper-case letter`},
		},
		{
			"field name not snake_case",
			"message M {\n  1 lastIndex: uint64\n}\n",
			[]string{"x.schema:4: message M: field lastIndex: name must be snake_case: lower-case letters and digits separated by single underscores"},
		},
		{
			"field name clashes with method",
			"message M {\n  1 size: uint64\n  2 get_term: uint64\n  3 term: uint64\n}\n",
			[]string{
				"x.schema:4: message M: field size: Go name Size conflicts with method Size",
				"x.schema:5: message M: field get_term: Go name GetTerm conflicts with the getter of field term",
			},
		},
		{
			"recursive value field",
			"message A {\n  1 b: B\n}\nmessage B {\n  1 a: A\n}\n",
			[]string{"x.schema:3: message A contains itself through fields A -> B.b -> A.a; use a list to nest it"},
		},
		{
			"name clashes with generated name",
			"message Kind {\n}\nenum Color {\n  0 Red\n}\nmessage ColorRed {\n}\n",
			[]string{
				"x.schema:3: message Kind: Go name Kind is already declared by the generated code",
				"x.schema:8: message ColorRed: Go name ColorRed is already declared by line 6",
			},
		},
		{
			"duplicate enum value",
			"enum E {\n  0 A\n  1 A\n  0 B\n}\n",
			[]string{
				"x.schema:5: enum E: duplicate value name A (first declared on line 4)",
				"x.schema:6: enum E: duplicate value number 0 (first used by A on line 4)",
			},
		},
		{
			"unknown keyword at top level",
			"messages M {\n}\n",
			[]string{`x.schema:3: unknown keyword "messages": expected enum, message or service`},
		},
		{
			"unknown keyword in message",
			"message M {\n  optional 1 a: bool\n}\n",
			[]string{`x.schema:4: unknown keyword "optional" in message M: expected a field or "reserved"`},
		},
		{
			"unknown keyword in service",
			"message M {\n}\nservice S {\n  rpc Do(M) subject \"do\"\n}\n",
			[]string{`x.schema:6: unknown keyword "rpc" in service S: expected stream, oneway or request`},
		},
		{
			"rpc with unknown message",
			"message M {\n}\nservice S {\n  stream Do(Missing) returns (M) subject \"do\"\n  request Get(M) returns (Nope) subject \"get\"\n}\n",
			[]string{
				"x.schema:6: service S: rpc Do: unknown message Missing",
				"x.schema:7: service S: rpc Get: service mixes request rpcs with stream or oneway rpcs; put them in separate services",
				"x.schema:7: service S: rpc Get: unknown message Nope",
			},
		},
		{
			"duplicate subject",
			"message A {\n}\nmessage B {\n}\nmessage C {\n}\nservice S {\n  stream Do(A) returns (B) subject \"do\"\n  oneway Done(C) subject \"do.resp\"\n}\nservice T {\n  request Get(A) returns (B) subject \"do\"\n}\n",
			[]string{
				`x.schema:11: service S: rpc Done: duplicate subject "do.resp" (first used on line 10)`,
				`x.schema:14: service T: rpc Get: duplicate subject "do" (first used on line 10)`,
			},
		},
		{
			"invalid subject",
			"message A {\n}\nservice S {\n  oneway Do(A) subject \"a.*\"\n}\n",
			[]string{`x.schema:6: service S: rpc Do: subject "a.*" must be dot-separated tokens of letters, digits, '_' and '-'`},
		},
		{
			"message on two subjects of a stream service",
			"message A {\n}\nservice S {\n  oneway Do(A) subject \"do\"\n  oneway Again(A) subject \"again\"\n}\n",
			[]string{"x.schema:7: service S: rpc Again: message A is already carried by rpc Do of this service"},
		},
		{
			"returns on oneway, none on stream",
			"message A {\n}\nmessage B {\n}\nservice S {\n  oneway Do(A) returns (A) subject \"do\"\n  stream Go(B) subject \"go\"\n}\n",
			[]string{
				`x.schema:8: service S: rpc Do: a oneway rpc has no response; remove "returns"`,
				`x.schema:9: service S: rpc Go: a stream rpc needs "returns (Message)"`,
			},
		},
		{
			"missing closing brace",
			"message M {\n  1 a: bool\n",
			[]string{`x.schema:4: message M: missing "}"`},
		},
		{
			"unterminated string",
			"message A {\n}\nservice S {\n  oneway Do(A) subject \"do\n}\n",
			[]string{"x.schema:6: unterminated string"},
		},
		{
			"missing colon",
			"message M {\n  1 a bool\n}\n",
			[]string{`x.schema:4: expected ":", found "bool"`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadSource("x.schema", header+c.src)
			if err == nil {
				t.Fatal("schema accepted")
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("errors:\n%s\nwant:\n%s", err, strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestHeaderErrors(t *testing.T) {
	cases := map[string]string{
		"package func\noutput out/p\n":     "x.schema:1: package name func is a reserved Go identifier",
		"package Wire\noutput out/p\n":     `x.schema:1: package name "Wire" must be lower-case letters and digits`,
		"package p\noutput ../p\n":         `x.schema:2: output "../p" must be a clean relative directory inside the module`,
		"output out/p\n":                   `x.schema:1: expected "package", found "output"`,
		"package p\nmessage M {\n}\n":      `x.schema:2: expected "output", found "message"`,
		"package p\noutput a\npackage q\n": "x.schema:3: package must appear once, at the top of the file",
	}
	for src, want := range cases {
		_, err := loadSource("x.schema", src)
		if err == nil || err.Error() != want {
			t.Errorf("schema %q: error %v, want %s", src, err, want)
		}
	}
}

func TestCommentsAttach(t *testing.T) {
	src := "// File comment.\n//\n// Second paragraph.\npackage p\noutput out/p\n\n" +
		"// Detached comment.\n\n// M is a message.\nmessage M {\n  // a_b is a field.\n  1 a_b: bool // trailing\n}\n"
	f, err := loadSource("x.schema", src)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Comment, "|"); got != "File comment.||Second paragraph." {
		t.Errorf("file comment = %q", got)
	}
	m := f.Messages[0]
	if got := strings.Join(m.Doc, "|"); got != "M is a message." {
		t.Errorf("message doc = %q", got)
	}
	if got := strings.Join(rewriteDoc(m.Fields[0].Doc, "a_b", m.Fields[0].GoName), "|"); got != "AB is a field." {
		t.Errorf("field doc = %q", got)
	}
}
