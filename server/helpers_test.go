package server

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/raftcache/raftcache/test/redisoracle"
)

// startServerWith runs a server over backend b on 127.0.0.1:0 and stops it
// when the test ends.
func startServerWith(t *testing.T, b Backend) *Server {
	t.Helper()
	s := New(Config{Addr: "127.0.0.1:0", Version: "test"}, b, zaptest.NewLogger(t))
	serveInTest(t, s)
	return s
}

// serveInTest listens and serves s until the test ends.
func serveInTest(t testing.TB, s *Server) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	serveListening(t, s)
}

// serveListening serves s, which is listening, until the test ends.
func serveListening(t testing.TB, s *Server) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

// redisoracleReadReply reads one whole reply from a raw connection.
func redisoracleReadReply(r *rawConn) (string, error) {
	b, err := redisoracle.ReadReply(r.r)
	return string(b), err
}
