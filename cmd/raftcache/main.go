package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/raftcache/raftcache/acl"
	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/cluster/wal"
	"github.com/raftcache/raftcache/config"
	"github.com/raftcache/raftcache/gctune"
	"github.com/raftcache/raftcache/internal/tlsconf"
	"github.com/raftcache/raftcache/metrics"
	"github.com/raftcache/raftcache/server"
	"github.com/raftcache/raftcache/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// options are the command-line flags; see the README's flags table.
type options struct {
	id          string
	addr        string
	advertise   string
	clusterAddr string
	dir         string
	shards      int
	peers       string
	logLevel    string
	logFormat   string

	heartbeatTimeout   time.Duration
	electionTimeout    time.Duration
	leaderLeaseTimeout time.Duration
	snapshotThreshold  uint64
	snapshotInterval   time.Duration
	trailingLogs       uint64
	snapshotBytes      int64
	balanceLeaders     bool
	join               bool
	gcPercent          int
	pprof              string
	logStore           string
	fsync              string
	readLease          bool
	unsafeReadLease    time.Duration
	maxMemory          int64
	maxMemoryPolicy    string
	maxMemorySamples   int
	lfuLogFactor       int
	lfuDecayTime       int

	// Client limits and access, named and valued as in redis.conf.
	requirePass       string
	protectedMode     bool
	aclFile           string
	aclLogMaxLen      int
	maxClients        int
	timeoutSecs       int
	tcpKeepAliveSecs  int
	protoMaxBulkLen   int64
	queryBufferLimit  int64
	outputBufferLimit int64

	// Operations: the config file, metrics and readiness, and the runtime
	// parameters (CONFIG SET can change them later).
	configFile         string
	metricsAddr        string
	readyMaxLag        uint64
	slowlogSlowerThan  int64
	slowlogMaxLen      int64
	latencyThreshold   int64
	latencyTracking    bool
	latencyPercentiles string

	// TLS, named and valued as in redis.conf. port is Redis's port: it
	// overrides --addr's port, and 0 turns plain text off.
	port       portFlag
	tlsPort    int
	tlsCluster bool
	tls        tlsconf.Options
}

// portFlag is --port: unset (the port of --addr) or a port, 0 for none.
type portFlag struct {
	set bool
	n   int
}

func (p *portFlag) String() string {
	if p == nil || !p.set {
		return ""
	}
	return strconv.Itoa(p.n)
}

func (p *portFlag) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		return errors.New("must be a port number (0: no plain-text port)")
	}
	p.set, p.n = true, n
	return nil
}

// newFlagSet defines every flag into o, with its default.
func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("raftcache", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.id, "id", "n1", "node ID, unique in the cluster and listed in --peers")
	fs.StringVar(&o.addr, "addr", ":6379", "client (RESP) listen address")
	fs.StringVar(&o.advertise, "advertise", "", "client address given to clients in MOVED and CLUSTER replies, and to nodes that CLUSTER MEET this one "+
		"(default: this node's --peers entry, else --addr with an unspecified host replaced by 127.0.0.1)")
	fs.StringVar(&o.clusterAddr, "cluster-addr", "", "cluster (Raft) listen address (default: the client port + 10000 on the same host)")
	fs.StringVar(&o.dir, "dir", "./data", "data directory")
	fs.IntVar(&o.shards, "shards", cluster.DefaultShards, "number of shards (Raft groups) made at bootstrap")
	fs.StringVar(&o.peers, "peers", "", "initial members, the same on every node: id=host:port@cport,... (empty: a single-node cluster)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "console", "log format: console or json")
	fs.DurationVar(&o.heartbeatTimeout, "raft-heartbeat-timeout", cluster.DefaultHeartbeatTimeout, "Raft heartbeat timeout")
	fs.DurationVar(&o.electionTimeout, "raft-election-timeout", cluster.DefaultElectionTimeout, "Raft election timeout")
	fs.DurationVar(&o.leaderLeaseTimeout, "raft-lease-timeout", cluster.DefaultLeaderLeaseTimeout, "Raft leader lease timeout (at most the heartbeat timeout)")
	fs.Uint64Var(&o.snapshotThreshold, "snapshot-threshold", cluster.DefaultSnapshotThreshold, "log entries between automatic snapshots of a shard")
	fs.DurationVar(&o.snapshotInterval, "snapshot-interval", cluster.DefaultSnapshotInterval, "how often to check whether a shard needs a snapshot")
	fs.StringVar(&o.pprof, "pprof", "", "serve Go's pprof profiles over HTTP on this address (e.g. 127.0.0.1:6060); empty: off")
	fs.IntVar(&o.gcPercent, "gc-percent", 0, "Go GC target fixed at this percent of the live heap (lower: less memory, more CPU); 0: adaptive (see package gctune); the GOGC environment variable overrides it")
	fs.BoolVar(&o.join, "join", false, "start a new node that waits to be added to a running cluster with CLUSTER MEET instead of bootstrapping (first start only)")
	fs.BoolVar(&o.balanceLeaders, "balance-leaders", true, "move each shard's leadership to its preferred node (round robin by node ID) when the cluster is healthy")
	fs.Int64Var(&o.snapshotBytes, "snapshot-bytes", cluster.DefaultSnapshotBytes, "bytes of log entries applied between automatic snapshots of a shard (bounds the log on disk; -1: off)")
	fs.Uint64Var(&o.trailingLogs, "raft-trailing-logs", cluster.DefaultTrailingLogs, "log entries kept after a snapshot, so a lagging replica can catch up without a snapshot install")
	fs.StringVar(&o.logStore, "log-store", cluster.LogStoreWAL, "where the shards' Raft logs are kept: wal (one log per node, shared by every shard) or bolt (a raft-boltdb file per shard). A bolt data directory moves to wal on the first start with wal")
	fs.StringVar(&o.fsync, "fsync", "always", "when the log is synced, as Redis's appendfsync: always (before a write is acknowledged) or everysec (at most a second later; needs --log-store wal)")
	fs.BoolVar(&o.readLease, "read-lease", true, "serve linearizable reads on a shard leader under a lease renewed in the background (true), or confirm leadership with a heartbeat round per read batch (false)")
	fs.DurationVar(&o.unsafeReadLease, "unsafe-read-lease", 0, "for testing the linearizability checker only: a read lease of this length, ignoring what the followers promised; anything above 0.9 × --raft-heartbeat-timeout can serve stale reads (0: the safe lease)")
	fs.StringVar(&o.requirePass, "requirepass", "", "password clients must give with AUTH (or HELLO ... AUTH) before any other command; empty: none")
	fs.StringVar(&o.aclFile, "aclfile", "", "Redis aclfile of the users a new cluster starts with, and of ACL SAVE and ACL LOAD (ACL changes are replicated through shard 0's log: once there are any, this node takes its users from the log, not the file); empty: none")
	fs.IntVar(&o.aclLogMaxLen, "acllog-max-len", 128, "most entries the ACL LOG keeps")
	o.protectedMode = true
	fs.Var((*yesNo)(&o.protectedMode), "protected-mode", "yes or no: while no password is set and --addr listens on every interface, refuse clients from non-loopback addresses")
	fs.IntVar(&o.maxClients, "maxclients", server.DefaultMaxClients, "most client connections open at once")
	fs.Var((*memory)(&o.maxMemory), "maxmemory", "most memory the keyspace may take on this node (every shard's replica), as Redis's maxmemory (100mb, 1gb, ...); 0: no limit. CONFIG SET changes it on every node")
	fs.StringVar(&o.maxMemoryPolicy, "maxmemory-policy", "noeviction", "what happens past maxmemory, as in Redis: noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random or volatile-ttl")
	fs.IntVar(&o.maxMemorySamples, "maxmemory-samples", 5, "keys sampled for each eviction (1 to 64)")
	fs.IntVar(&o.lfuLogFactor, "lfu-log-factor", 10, "how slowly the LFU counter grows with accesses, as in Redis")
	fs.IntVar(&o.lfuDecayTime, "lfu-decay-time", 1, "minutes for the LFU counter to decay by one, as in Redis (0: never)")
	fs.IntVar(&o.timeoutSecs, "timeout", 0, "close a client idle for this many seconds (0: never)")
	fs.IntVar(&o.tcpKeepAliveSecs, "tcp-keepalive", int(server.DefaultTCPKeepAlive/time.Second), "seconds of client silence before TCP keepalive probes (0: off)")
	o.protoMaxBulkLen, o.queryBufferLimit, o.outputBufferLimit = server.DefaultProtoMaxBulkLen, server.DefaultQueryBufferLimit, server.DefaultOutputBufferLimit
	fs.Var((*memory)(&o.protoMaxBulkLen), "proto-max-bulk-len", "largest bulk string in a request (512mb, 1gb, ...)")
	fs.Var((*memory)(&o.queryBufferLimit), "client-query-buffer-limit", "most bytes of one unfinished request buffered for a client; past it the client is closed")
	fs.Var((*memory)(&o.outputBufferLimit), "client-output-buffer-limit", "most reply bytes held for a client that does not read them; past it the client is closed")
	fs.StringVar(&o.configFile, "config", "", "read options from this file (redis.conf syntax, options named as the flags); flags given on the command line win")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics (/metrics), liveness (/healthz) and readiness (/readyz) over HTTP on this address, e.g. :9121; empty: off")
	fs.Uint64Var(&o.readyMaxLag, "ready-max-lag", cluster.DefaultReadyMaxLag, "most log entries this node's replica of a shard may trail its leader for the node to be ready (/readyz, CLUSTER INFO raftcache_ready)")
	fs.Int64Var(&o.slowlogSlowerThan, "slowlog-log-slower-than", server.DefaultSlowlogSlowerThan.Microseconds(), "log commands that take at least this many microseconds in the slow log (0: every command; -1: none)")
	fs.Int64Var(&o.slowlogMaxLen, "slowlog-max-len", server.DefaultSlowlogMaxLen, "most entries the slow log keeps")
	fs.Int64Var(&o.latencyThreshold, "latency-monitor-threshold", 0, "record latency spikes of at least this many milliseconds for LATENCY (0: off)")
	o.latencyTracking = true
	fs.Var((*yesNo)(&o.latencyTracking), "latency-tracking", "yes or no: keep a latency histogram per command (INFO latencystats, LATENCY HISTOGRAM, metrics)")
	fs.StringVar(&o.latencyPercentiles, "latency-tracking-info-percentiles", "50 99 99.9", "the percentiles INFO latencystats shows, separated by spaces")
	fs.Var(&o.port, "port", "the client port, in place of --addr's; 0: no plain-text port (Redis's port 0; needs --tls-port)")
	fs.IntVar(&o.tlsPort, "tls-port", 0, "serve TLS clients on this port, on --addr's host (0: no TLS port)")
	fs.StringVar(&o.tls.CertFile, "tls-cert-file", "", "PEM certificate (chain) of this node, for the TLS port and, with --tls-cluster, the cluster port")
	fs.StringVar(&o.tls.KeyFile, "tls-key-file", "", "PEM private key of --tls-cert-file")
	fs.StringVar(&o.tls.KeyFilePass, "tls-key-file-pass", "", "passphrase of an encrypted --tls-key-file (legacy PEM encryption; encrypted PKCS#8 is refused)")
	fs.StringVar(&o.tls.CAFile, "tls-ca-cert-file", "", "PEM CA bundle that client and node certificates are checked against")
	fs.StringVar(&o.tls.CADir, "tls-ca-cert-dir", "", "directory of PEM CA certificates that client and node certificates are checked against")
	fs.StringVar(&o.tls.AuthClients, "tls-auth-clients", tlsconf.AuthYes, "yes: TLS clients must present a certificate the CA signed; optional: checked if presented; no: not asked")
	fs.StringVar(&o.tls.Protocols, "tls-protocols", "", "TLS versions allowed, separated by spaces: TLSv1.2, TLSv1.3 (empty: both)")
	fs.StringVar(&o.tls.Ciphers, "tls-ciphers", "", "TLS 1.2 cipher suites, OpenSSL's or Go's names separated by ':' (empty: Go's defaults)")
	fs.StringVar(&o.tls.CipherSuites, "tls-ciphersuites", "", "TLS 1.3 suites: checked and ignored (Go always offers its three TLS 1.3 suites)")
	fs.Var((*yesNo)(&o.tls.PreferServerCiphers), "tls-prefer-server-ciphers", "yes or no: accepted for Redis's sake; Go orders cipher suites itself")
	fs.Var((*yesNo)(&o.tlsCluster), "tls-cluster", "yes or no: the cluster port speaks mutual TLS, every node checking the others' certificates against the CA")
	return fs
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := newFlagSet(&o, stderr)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.configFile != "" {
		if err := applyConfigFile(fs, &o); err != nil {
			return o, err
		}
	}
	switch {
	case o.maxClients < 1:
		return o, errors.New("--maxclients must be at least 1")
	case o.timeoutSecs < 0:
		return o, errors.New("--timeout must not be negative")
	case o.tcpKeepAliveSecs < 0:
		return o, errors.New("--tcp-keepalive must not be negative")
	case o.protoMaxBulkLen < 1:
		return o, errors.New("--proto-max-bulk-len must be at least 1 byte")
	}
	if _, err := cluster.ParseLogStore(o.logStore); err != nil {
		return o, fmt.Errorf("--log-store: %w", err)
	}
	if err := o.checkTLS(); err != nil {
		return o, err
	}
	if _, err := wal.ParseSyncMode(o.fsync); err != nil {
		return o, fmt.Errorf("--fsync: %w", err)
	}
	if _, err := o.eviction(); err != nil {
		return o, err
	}
	if o.clusterAddr == "" {
		ca, err := cluster.DefaultClusterAddr(o.clientListenAddr())
		if err != nil {
			return o, err
		}
		o.clusterAddr = ca
	}
	if o.advertise != "" {
		if host, _, err := net.SplitHostPort(o.advertise); err != nil || unspecifiedHost(host) {
			return o, fmt.Errorf("--advertise %q: want a host:port that clients can reach", o.advertise)
		}
	}
	return o, nil
}

// applyConfigFile sets every option of the config file that the command
// line did not set: flags win over the file.
func applyConfigFile(fs *flag.FlagSet, o *options) error {
	abs, err := filepath.Abs(o.configFile)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	o.configFile = abs
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	directives, err := config.Parse(abs)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	for _, d := range directives {
		f := fs.Lookup(d.Name)
		if f == nil || d.Name == "config" {
			return fmt.Errorf("%s: unknown option %q (the file's options are named as the flags)", d.Where(), d.Name)
		}
		if onCommandLine[d.Name] {
			continue
		}
		v := d.Value()
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			switch strings.ToLower(v) { // redis.conf writes booleans as yes and no
			case "yes":
				v = "true"
			case "no":
				v = "false"
			}
		}
		if err := fs.Set(d.Name, v); err != nil {
			return fmt.Errorf("%s: %s %q: %w", d.Where(), d.Name, v, err)
		}
	}
	return nil
}

// params are the runtime parameters the flags set, as the server takes
// them (CONFIG SET can change them later).
func (o options) params() []server.Param {
	return []server.Param{
		{Name: "slowlog-log-slower-than", Value: strconv.FormatInt(o.slowlogSlowerThan, 10)},
		{Name: "slowlog-max-len", Value: strconv.FormatInt(o.slowlogMaxLen, 10)},
		{Name: "acllog-max-len", Value: strconv.Itoa(o.aclLogMaxLen)},
		{Name: "latency-monitor-threshold", Value: strconv.FormatInt(o.latencyThreshold, 10)},
		{Name: "latency-tracking", Value: (*yesNo)(&o.latencyTracking).String()},
		{Name: "latency-tracking-info-percentiles", Value: o.latencyPercentiles},
	}
}

// clientAddr is the client address this node gives for itself: --advertise,
// else its own --peers entry (what every other node gives for it), else
// --addr with an unspecified host replaced by 127.0.0.1.
func (o options) clientAddr(peers []cluster.Peer) (string, error) {
	if o.advertise != "" {
		return o.advertise, nil
	}
	for _, p := range peers {
		if p.ID == o.id {
			if host, _, err := net.SplitHostPort(p.Addr); err == nil && !unspecifiedHost(host) {
				return p.Addr, nil
			}
		}
	}
	host, port, err := net.SplitHostPort(o.clientListenAddr())
	if err != nil {
		return "", fmt.Errorf("--addr %q: %w", o.addr, err)
	}
	if unspecifiedHost(host) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// checkTLS checks the TLS flags that need no file.
func (o options) checkTLS() error {
	switch {
	case o.tlsPort < 0 || o.tlsPort > 65535:
		return errors.New("--tls-port must be a port number (0: no TLS port)")
	case o.port.set && o.port.n == 0 && o.tlsPort == 0:
		return errors.New("--port 0 turns plain text off: set --tls-port, or clients have no port")
	case o.tlsEnabled() && (o.tls.CertFile == "" || o.tls.KeyFile == ""):
		return errors.New("--tls-port and --tls-cluster need --tls-cert-file and --tls-key-file")
	case o.tlsCluster && o.tls.CAFile == "" && o.tls.CADir == "":
		return errors.New("--tls-cluster needs --tls-ca-cert-file or --tls-ca-cert-dir to check the other nodes' certificates")
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return fmt.Errorf("--addr %q: %w", o.addr, err)
	}
	if err := o.tls.Check(); err != nil {
		return fmt.Errorf("--%w", err)
	}
	return nil
}

// tlsEnabled reports whether any port speaks TLS.
func (o options) tlsEnabled() bool { return o.tlsPort != 0 || o.tlsCluster }

// plainAddr is the plain-text client address ("" with --port 0).
func (o options) plainAddr() string {
	if !o.port.set {
		return o.addr
	}
	if o.port.n == 0 {
		return ""
	}
	host, _, _ := net.SplitHostPort(o.addr)
	return net.JoinHostPort(host, strconv.Itoa(o.port.n))
}

// tlsAddr is the TLS client address: --addr's host, --tls-port ("" when
// 0).
func (o options) tlsAddr() string {
	if o.tlsPort == 0 {
		return ""
	}
	host, _, _ := net.SplitHostPort(o.addr)
	return net.JoinHostPort(host, strconv.Itoa(o.tlsPort))
}

// clientListenAddr is the client address the node is known by when no
// --advertise or --peers entry says otherwise: the plain-text one, or
// the TLS one when there is no plain-text port.
func (o options) clientListenAddr() string {
	if a := o.plainAddr(); a != "" {
		return a
	}
	return o.tlsAddr()
}

// unspecifiedHost reports whether host names no one address: empty,
// 0.0.0.0 or ::.
func unspecifiedHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// eviction is maxmemory and its policy as the flags set them.
func (o options) eviction() (cluster.EvictionConfig, error) {
	p, ok := store.ParseEvictPolicy(o.maxMemoryPolicy)
	if !ok {
		return cluster.EvictionConfig{}, fmt.Errorf("--maxmemory-policy must be one of %s, not %q",
			strings.Join(store.EvictPolicyNames(), ", "), o.maxMemoryPolicy)
	}
	c := cluster.EvictionConfig{MaxMemory: o.maxMemory, Policy: p, Samples: o.maxMemorySamples,
		LFULogFactor: o.lfuLogFactor, LFUDecayTime: o.lfuDecayTime}
	if err := c.Check(); err != nil {
		return c, fmt.Errorf("--%w", err)
	}
	return c, nil
}

// limits are the client limits the flags set.
func (o options) limits() server.Limits {
	l := server.Limits{
		ProtoMaxBulkLen:   o.protoMaxBulkLen,
		QueryBufferLimit:  o.queryBufferLimit,
		OutputBufferLimit: o.outputBufferLimit,
		MaxClients:        o.maxClients,
		IdleTimeout:       time.Duration(o.timeoutSecs) * time.Second,
		TCPKeepAlive:      time.Duration(o.tcpKeepAliveSecs) * time.Second,
	}
	if o.tcpKeepAliveSecs == 0 {
		l.TCPKeepAlive = -1 // off, as Redis's tcp-keepalive 0
	}
	return l
}

// yesNo is a boolean flag written as redis.conf writes one: yes or no.
type yesNo bool

func (b *yesNo) String() string {
	if b != nil && *b {
		return "yes"
	}
	return "no"
}

func (b *yesNo) Set(v string) error {
	switch strings.ToLower(v) {
	case "yes":
		*b = true
	case "no":
		*b = false
	default:
		return errors.New("must be yes or no")
	}
	return nil
}

// memory is a size flag written as redis.conf writes one: 512mb, 1gb, ...
type memory int64

func (m *memory) String() string {
	if m == nil || *m == 0 {
		return "0"
	}
	n := int64(*m)
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "gb"}, {1 << 20, "mb"}, {1 << 10, "kb"}} {
		if n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

func (m *memory) Set(v string) error {
	n, err := server.ParseMemory(v)
	*m = memory(n)
	return err
}

// newLogger builds the node's logger; its level can change later (CONFIG
// SET log-level).
func newLogger(level, format string) (*zap.Logger, zap.AtomicLevel, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, zap.AtomicLevel{}, fmt.Errorf("--log-level: %w", err)
	}
	var cfg zap.Config
	switch format {
	case "json":
		cfg = zap.NewProductionConfig()
	case "console":
		cfg = zap.NewDevelopmentConfig()
		cfg.Development = false
		cfg.DisableStacktrace = true
	default:
		return nil, zap.AtomicLevel{}, fmt.Errorf("--log-format must be console or json, not %q", format)
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Sampling = nil
	log, err := cfg.Build()
	return log, cfg.Level, err
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "raftcache:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	// pprof rides on the metrics server when both name one address.
	if o.pprof != "" && o.pprof != o.metricsAddr {
		if err := servePprof(o.pprof); err != nil {
			return err
		}
	}
	// The keyspace lives outside the Go heap; the tuner sets the
	// collector from the heap's live size and allocation rate, and keeps
	// a GOMEMLIMIT for the whole process (see package gctune).
	// Past maxmemory, the collector's headroom shrinks with it (the node
	// is set once it is open; CONFIG SET may change maxmemory).
	var nodeRef atomic.Pointer[cluster.Node]
	gc := gctune.Config{Percent: o.gcPercent, OffHeap: store.OffHeapBytes, HeadroomNow: func() int64 {
		if n := nodeRef.Load(); n != nil {
			return gctune.ForMaxMemory(n.Eviction().MaxMemory)
		}
		return gctune.ForMaxMemory(o.maxMemory)
	}}
	if os.Getenv("GOGC") != "" {
		gc.Percent = -1
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		gc.Limit = debug.SetMemoryLimit(-1) // as the runtime parsed it
	}
	tuneCtx, stopTuning := context.WithCancel(context.Background())
	defer stopTuning()
	go gctune.Run(tuneCtx, gc)
	log, level, err := newLogger(o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do if stderr is gone

	peers, err := cluster.ParsePeers(o.peers)
	if err != nil {
		return fmt.Errorf("--peers: %w", err)
	}
	clientAddr, err := o.clientAddr(peers)
	if err != nil {
		return err
	}
	for _, p := range peers {
		if p.ID == o.id && o.advertise != "" && p.Addr != o.advertise {
			log.Warn("--advertise differs from this node's --peers entry; the other nodes give clients the --peers address",
				zap.String("advertise", o.advertise), zap.String("peers_entry", p.Addr))
		}
	}
	var tlsMaterial *tlsconf.Reloader
	if o.tlsEnabled() {
		if tlsMaterial, err = tlsconf.New(o.tls); err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
	}
	var clusterTLS *tlsconf.Reloader
	if o.tlsCluster {
		clusterTLS = tlsMaterial
	}
	fsync, _ := wal.ParseSyncMode(o.fsync) // checked by parseFlags
	eviction, _ := o.eviction()            // checked by parseFlags
	// The users this node starts with; the replicated ones, restored from
	// shard 0's log and snapshots when the node opens, come after them.
	users := acl.New()
	if o.requirePass != "" {
		users.SetRequirePass([]byte(o.requirePass))
	}
	if o.aclFile != "" {
		if err := users.LoadFile(o.aclFile); err != nil {
			return fmt.Errorf("--aclfile: %w", err)
		}
	}
	node, err := cluster.Open(cluster.Config{
		ACL:                users,
		NodeID:             o.id,
		Addr:               clientAddr,
		Advertise:          o.advertise,
		ClusterAddr:        o.clusterAddr,
		Dir:                o.dir,
		Shards:             o.shards,
		Peers:              peers,
		HeartbeatTimeout:   o.heartbeatTimeout,
		ElectionTimeout:    o.electionTimeout,
		LeaderLeaseTimeout: o.leaderLeaseTimeout,
		SnapshotThreshold:  o.snapshotThreshold,
		SnapshotInterval:   o.snapshotInterval,
		TrailingLogs:       o.trailingLogs,
		SnapshotBytes:      o.snapshotBytes,
		NoBalance:          !o.balanceLeaders,
		Join:               o.join,
		LogStore:           o.logStore,
		Fsync:              fsync,
		DisableReadLease:   !o.readLease,
		UnsafeReadLease:    o.unsafeReadLease,
		ReadyMaxLag:        o.readyMaxLag,
		Eviction:           eviction,
		TLS:                clusterTLS,
	}, log)
	if err != nil {
		return err
	}
	nodeRef.Store(node)
	srv := server.New(server.Config{Addr: o.plainAddr(), Version: version, DataDir: o.dir,
		Limits: o.limits(), ProtectedMode: o.protectedMode, ACLFile: o.aclFile,
		Params: o.params(), LogLevel: &level, ConfigFile: o.configFile,
		TLS: tlsMaterial, TLSAddr: o.tlsAddr(), TLSCluster: o.tlsCluster},
		server.NodeBackend{Node: node}, log)
	if err := srv.Listen(); err != nil {
		closeNode(node, log)
		return err
	}
	node.OnLogSync(func(d time.Duration) { srv.LatencyEvent(server.EventLogSync, d) })
	var ops *metrics.Service
	if o.metricsAddr != "" {
		ops, err = metrics.Start(metrics.Config{Addr: o.metricsAddr, Pprof: o.pprof == o.metricsAddr, Version: version},
			srv, node, log)
		if err != nil {
			_ = srv.Close(context.Background())
			closeNode(node, log)
			return err
		}
	}
	var tlsAddr string
	if a := srv.TLSAddr(); a != nil {
		tlsAddr = a.String()
	}
	log.Info("raftcache ready for clients", zap.String("node", o.id), zap.String("addr", srv.Addr().String()),
		zap.String("tls_addr", tlsAddr), zap.Bool("tls_cluster", o.tlsCluster),
		zap.String("advertise", clientAddr),
		zap.String("cluster_addr", o.clusterAddr), zap.String("dir", o.dir), zap.String("version", version))

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	if tlsMaterial != nil {
		stopReloads := reloadOnSIGHUP(tlsMaterial, log.With(zap.String("node", o.id)))
		defer stopReloads()
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-sigs:
		log.Info("shutting down", zap.String("node", o.id), zap.String("signal", sig.String()))
	case err = <-serveErr:
		log.Error("client server stopped", zap.String("node", o.id), zap.Error(err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cerr := srv.Close(ctx); cerr != nil {
		log.Warn("closing client connections", zap.String("node", o.id), zap.Error(cerr))
	}
	closeNode(node, log)
	if ops != nil {
		// Last, so that /readyz says "not ready" while the node stops.
		if cerr := ops.Close(ctx); cerr != nil {
			log.Warn("closing the metrics endpoint", zap.String("node", o.id), zap.Error(cerr))
		}
	}
	return err
}

// reloadOnSIGHUP reads the TLS files again on every SIGHUP; new
// handshakes use them, and files that fail to load change nothing.
func reloadOnSIGHUP(r *tlsconf.Reloader, log *zap.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				if err := r.Update(func(*tlsconf.Options) {}); err != nil {
					log.Warn("SIGHUP: TLS files not reloaded; the certificates in force stay", zap.Error(err))
					continue
				}
				log.Info("SIGHUP: TLS certificates reloaded", zap.String("cert_file", r.Options().CertFile))
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

func closeNode(node *cluster.Node, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.Close(ctx); err != nil {
		log.Warn("closing node", zap.Error(err))
	}
}
