// Package embedded runs a NATS server inside the current process, for tests,
// demos and single-machine deployments.
//
// The server listens on 127.0.0.1 only. Connections made with
// [Server.Connect] skip TCP and talk to the server through an in-process
// pipe; other processes reach it through [Server.ClientURL].
package embedded

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NoListener is the Options.Port value that starts the server without a TCP
// listener, so only in-process connections reach it.
const NoListener = -1

// DefaultReadyTimeout is how long Start waits for the server when
// Options.ReadyTimeout is zero.
const DefaultReadyTimeout = 10 * time.Second

// Options configures an embedded server.
type Options struct {
	// Port is the TCP port on 127.0.0.1 for client connections. Zero picks
	// a free port; NoListener (-1) opens no port at all.
	Port int
	// MaxPayload is the largest message the server accepts, in bytes. Zero
	// keeps the server's default (1 MiB in nats-server v2).
	MaxPayload int32
	// Logger receives the server's notices, warnings and errors. Nil keeps
	// the server quiet.
	Logger *slog.Logger
	// ReadyTimeout bounds how long Start waits for the server to accept
	// connections. Zero means DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// Server is a running embedded NATS server.
type Server struct {
	srv      *server.Server
	listener bool
}

// Start starts a NATS server in this process and waits until it accepts
// connections. Call Shutdown to stop it.
func Start(opts Options) (*Server, error) {
	if opts.Port < NoListener || opts.Port > 65535 {
		return nil, fmt.Errorf("embedded: invalid port %d: use 0 for a free port, -1 for no listener, or 1-65535", opts.Port)
	}
	if opts.MaxPayload < 0 {
		return nil, fmt.Errorf("embedded: invalid max payload %d: use 0 for the server default or a positive size in bytes", opts.MaxPayload)
	}
	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}

	sopts := &server.Options{
		Host:       "127.0.0.1",
		Port:       opts.Port,
		MaxPayload: opts.MaxPayload,
		NoSigs:     true,
		NoLog:      opts.Logger == nil,
	}
	switch opts.Port {
	case 0:
		// nats-server reads port 0 as its default 4222 and -1 as random.
		sopts.Port = server.RANDOM_PORT
	case NoListener:
		sopts.Port = 0
		sopts.DontListen = true
	}

	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("embedded: configure nats server: %w", err)
	}
	if opts.Logger != nil {
		srv.SetLoggerV2(slogAdapter{opts.Logger}, false, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(timeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded: nats server on 127.0.0.1 port %d not ready after %s: check that the port is free or raise ReadyTimeout", opts.Port, timeout)
	}
	return &Server{srv: srv, listener: !sopts.DontListen}, nil
}

// ClientURL returns the nats:// URL of the server's TCP listener, or "" when
// the server was started with NoListener.
func (s *Server) ClientURL() string {
	if !s.listener {
		return ""
	}
	return s.srv.ClientURL()
}

// Connect opens a client connection to the server through an in-process pipe.
// opts are applied after the in-process option, so they may add credentials,
// a name or handlers. The caller owns the connection and closes it.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	if !s.srv.Running() {
		return nil, ErrNotRunning
	}
	all := make([]nats.Option, 0, len(opts)+1)
	all = append(all, nats.InProcessServer(s.srv))
	all = append(all, opts...)
	nc, err := nats.Connect(s.srv.ClientURL(), all...)
	if err != nil {
		return nil, fmt.Errorf("embedded: connect in process: %w", err)
	}
	return nc, nil
}

// NATSServer returns the underlying nats-server instance, for settings that
// Options does not cover.
func (s *Server) NATSServer() *server.Server { return s.srv }

// Shutdown stops the server and waits until it has stopped. Client
// connections see the server go away and follow their reconnect settings.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// ErrNotRunning is returned by Connect after Shutdown.
var ErrNotRunning = errors.New("embedded: server is not running")

// slogAdapter sends nats-server log lines to a slog.Logger.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.log.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.log.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.log.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.log.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.log.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.log.Debug(fmt.Sprintf(format, v...)) }
