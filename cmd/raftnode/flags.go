package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	natstransport "github.com/natsraft/natsraft/transport/nats"
)

// natsOptions are the flags that connect to a NATS server.
type natsOptions struct {
	url      string
	creds    string
	user     string
	password string
}

func (o *natsOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.url, "nats", nats.DefaultURL, "NATS server `URL`; several URLs of one NATS cluster are comma-separated")
	fs.StringVar(&o.creds, "creds", "", "NATS user credentials `file` (a JWT and an NKey seed, as written by nsc); none by default")
	fs.StringVar(&o.user, "user", "", "NATS user `name` for user and password authentication; none by default")
	fs.StringVar(&o.password, "password", "", "NATS `password` for --user; other local users can read it in the process list, so prefer --creds")
}

// validate checks the connection flags without connecting.
func (o *natsOptions) validate() error {
	if strings.TrimSpace(o.url) == "" {
		return fmt.Errorf("missing --nats: set the NATS server URL, such as %s", nats.DefaultURL)
	}
	if o.password != "" && o.user == "" {
		return errors.New("--password is set without --user: set --user too")
	}
	if o.creds != "" && o.user != "" {
		return errors.New("both --creds and --user are set: use one way to authenticate")
	}
	if o.creds != "" {
		if _, err := os.Stat(o.creds); err != nil {
			return fmt.Errorf("invalid --creds %q: %w", o.creds, err)
		}
	}
	return nil
}

// connect opens a connection to the NATS server. name identifies the
// connection in the server's monitoring.
func (o *natsOptions) connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.Timeout(5 * time.Second)}
	if o.creds != "" {
		opts = append(opts, nats.UserCredentials(o.creds))
	}
	if o.user != "" {
		opts = append(opts, nats.UserInfo(o.user, o.password))
	}
	opts = append(opts, extra...)
	nc, err := nats.Connect(o.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w: check --nats and that the server runs", o.url, err)
	}
	return nc, nil
}

// clusterOptions are the flags that name a cluster on the bus.
type clusterOptions struct {
	cluster string
	prefix  string
}

func (o *clusterOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.cluster, "cluster", "", "cluster `id`: letters, digits, '-' and '_'; required")
	fs.StringVar(&o.prefix, "prefix", natstransport.DefaultPrefix, "first `tokens` of every NATS subject, such as acme.raft; all nodes and clients of a cluster must use the same prefix")
}

func (o *clusterOptions) validate() error {
	if o.cluster == "" {
		return errors.New("missing --cluster: set the cluster id the nodes were started with")
	}
	return nil
}

// levelFlag is a flag.Value for a slog level: debug, info, warn or error.
// name is empty in the zero value, so that the flag package shows the
// default in the help.
type levelFlag struct {
	level slog.Level
	name  string
}

func (l *levelFlag) String() string {
	if l == nil {
		return ""
	}
	return l.name
}

func (l *levelFlag) Set(s string) error {
	if err := l.level.UnmarshalText([]byte(s)); err != nil {
		return errors.New("use debug, info, warn or error")
	}
	l.name = strings.ToLower(l.level.String())
	return nil
}

func registerLogLevel(fs *flag.FlagSet, def slog.Level) *levelFlag {
	l := &levelFlag{level: def, name: strings.ToLower(def.String())}
	fs.Var(l, "log-level", "minimum `level` of the logs written to stderr: debug, info, warn or error")
	return l
}

// newLogger returns a text logger on w that drops records below level.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// parseArgs parses args with fs and returns the positional arguments. Unlike
// fs.Parse alone, it also accepts flags after positional arguments, as in
// "put KEY VALUE --cluster c1". A '-' followed by a digit, as in
// "incr KEY -5", is an argument unless it is the value of the flag before
// it, because no flag name starts with a digit. Everything after "--" is
// positional, so any value that starts with '-' can be passed as
// "put -- KEY -x".
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for len(args) > 0 {
		end := nextNegativeNumber(fs, args)
		rest, sawDashes, err := parseSegment(fs, args[:end])
		if err != nil {
			return nil, err
		}
		positional = append(positional, rest...)
		if sawDashes {
			return append(positional, args[end:]...), nil
		}
		if end < len(args) {
			positional = append(positional, args[end])
			end++
		}
		args = args[end:]
	}
	return positional, nil
}

// parseSegment parses flags and positional arguments in any order, and
// reports whether it met "--", after which all arguments are positional.
func parseSegment(fs *flag.FlagSet, args []string) (positional []string, sawDashes bool, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false, err
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), true, nil
		}
		if len(rest) == 0 {
			return positional, false, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// nextNegativeNumber returns the index of the first argument that is a '-'
// followed by a digit and not the value of the flag before it, or
// len(args) if there is none before a "--".
func nextNegativeNumber(fs *flag.FlagSet, args []string) int {
	for i, arg := range args {
		if arg == "--" {
			return len(args)
		}
		if isNegativeNumber(arg) && (i == 0 || !takesValue(fs, args[i-1])) {
			return i
		}
	}
	return len(args)
}

// isNegativeNumber reports whether arg is '-' followed by a digit.
func isNegativeNumber(arg string) bool {
	return len(arg) > 1 && arg[0] == '-' && arg[1] >= '0' && arg[1] <= '9'
}

// takesValue reports whether arg is a flag of fs, without "=value", that
// takes the next argument as its value.
func takesValue(fs *flag.FlagSet, arg string) bool {
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	if name == arg || strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return false
	}
	return true
}

// splitList splits a comma-separated list and trims spaces around each item.
// An empty string gives an empty list.
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	items := strings.Split(s, ",")
	for i, item := range items {
		items[i] = strings.TrimSpace(item)
	}
	return items
}

// usageError prints a usage error of command name and returns exitUsage.
func usageError(e *env, name string, err error) int {
	fmt.Fprintf(e.stderr, "raftnode %s: %v\nRun \"raftnode %s -h\" for its flags.\n", name, err, name)
	return exitUsage
}

// failure prints err for command name and returns code.
func failure(e *env, name string, code int, err error) int {
	fmt.Fprintf(e.stderr, "raftnode %s: %v\n", name, err)
	return code
}
