// Package metrics serves a node's operational HTTP endpoints on
// --metrics-addr: Prometheus metrics (/metrics), liveness (/healthz),
// readiness (/readyz) and, when asked, Go's profiles (/debug/pprof/).
//
// Metrics are read when Prometheus scrapes, from counters and histograms
// the server and the node keep anyway (see server.Stats,
// cluster.Shard.Metrics): nothing is counted twice and a node nobody
// scrapes pays nothing. hashicorp/raft's own go-metrics (commit times,
// RPC times, FSM apply, ...) go through go-metrics' Prometheus sink into
// the same registry, under raftcache_raft_*; raft does not label them by
// shard, so each is the sum (or the summary) over the node's shards.
// Names follow Prometheus's conventions: the raftcache_ prefix, base units
// in the name (_seconds, _bytes), _total on counters.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	gometrics "github.com/hashicorp/go-metrics/compat"
	gmprometheus "github.com/hashicorp/go-metrics/compat/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/server"
)

// Config configures the HTTP endpoints.
type Config struct {
	// Addr is the listen address, e.g. ":9121".
	Addr string
	// Pprof also serves Go's profiles under /debug/pprof/. Keep the
	// address private when it is on: profiles reveal internals.
	Pprof bool
	// Version is raftcache's version, for raftcache_build_info.
	Version string
}

// Service is the running HTTP endpoint. Create it with Start, stop it
// with Close.
type Service struct {
	ln  net.Listener
	srv *http.Server
	log *zap.Logger
}

// Registry returns a Prometheus registry with raftcache's metrics for srv
// and node, Go's runtime and process metrics, and hashicorp/raft's
// go-metrics (routed here by making go-metrics' global sink this
// registry's: call it once per process).
func Registry(srv *server.Server, node *cluster.Node, version string) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("register Go metrics: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("register process metrics: %w", err)
	}
	if err := reg.Register(newCollector(srv, node, version)); err != nil {
		return nil, fmt.Errorf("register raftcache metrics: %w", err)
	}
	sink, err := gmprometheus.NewPrometheusSinkFrom(gmprometheus.PrometheusOpts{
		Registerer: reg,
		// A series raft stops updating (a shard that stopped leading)
		// disappears after this long, as go-metrics' sink intends.
		Expiration: time.Minute,
		Name:       "raftcache_raft_go_metrics",
	})
	if err != nil {
		return nil, fmt.Errorf("register hashicorp/raft's metrics: %w", err)
	}
	gc := gometrics.DefaultConfig("raftcache")
	gc.EnableHostname = false
	gc.EnableRuntimeMetrics = false // the Go collector has them
	gc.EnableHostnameLabel = false
	if _, err := gometrics.NewGlobal(gc, sink); err != nil {
		return nil, fmt.Errorf("route hashicorp/raft's metrics: %w", err)
	}
	return reg, nil
}

// Handler serves /metrics from reg, /healthz, /readyz from srv and, if
// pprof, /debug/pprof/.
func Handler(reg *prometheus.Registry, srv *server.Server, withPprof bool, log *zap.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      zap.NewStdLog(log),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		// The process serves HTTP, so it is alive; whether it can serve
		// clients well is /readyz's question.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if ok, why := srv.Ready(); !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + why + "\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// Start listens on cfg.Addr and serves the endpoints for srv and node
// until Close.
func Start(cfg Config, srv *server.Server, node *cluster.Node, log *zap.Logger) (*Service, error) {
	log = log.Named("metrics").With(zap.String("node", node.ID()))
	reg, err := Registry(srv, node, cfg.Version)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	s := &Service{
		ln:  ln,
		log: log,
		srv: &http.Server{
			Handler:           Handler(reg, srv, cfg.Pprof, log),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          zap.NewStdLog(log),
		},
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", zap.Error(err))
		}
	}()
	log.Info("serving metrics, health and readiness", zap.String("addr", ln.Addr().String()), zap.Bool("pprof", cfg.Pprof))
	return s, nil
}

// Addr returns the address the endpoints listen on.
func (s *Service) Addr() net.Addr { return s.ln.Addr() }

// Close stops serving, waiting within ctx for requests in progress.
func (s *Service) Close(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("close metrics endpoint: %w", err)
	}
	return nil
}
