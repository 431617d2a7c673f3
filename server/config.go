package server

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/raftcache/raftcache/acl"
	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/config"
	"github.com/raftcache/raftcache/internal/tlsconf"
	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/store"
)

// CONFIG GET, SET, RESETSTAT, REWRITE and HELP over the parameters
// raftcache has. Values that describe how raftcache works differently
// from Redis are fixed (save "", appendonly no, databases 1,
// cluster-enabled yes): CONFIG SET accepts
// only the value they have and explains why for any other. requirepass is
// never revealed: CONFIG GET answers an empty string whether or not a
// password is set (Redis shows it).

// configParam is one parameter. get returns its value; set, when the
// parameter may change, checks a value (an error is the reason, Redis's
// text after " - ") and returns the function that applies it.
type configParam struct {
	name    string
	aliases []string
	get     func(s *Server) string
	set     func(s *Server, v string) (apply func(), reason string)
	// flag marks a parameter that is also a command-line flag and an
	// option of the config file of the same name: CONFIG REWRITE writes
	// it back. def is its default; multi says its value is a list.
	flag  bool
	def   string
	multi bool
	// unset, if set, says the server has no value to write back.
	unset func(s *Server) bool
	// tlsEdit marks a tls-* parameter: configSet reloads the TLS
	// material once for all of them (config_tls.go).
	tlsEdit func(o *tlsconf.Options, v string) string
}

// runtimeConfig holds the values CONFIG SET may change.
type runtimeConfig struct {
	hashMaxListpackEntries atomic.Int64
	hashMaxListpackValue   atomic.Int64

	slowlogSlowerThan       atomic.Int64 // microseconds; negative: off
	slowlogMaxLen           atomic.Int64
	latencyMonitorThreshold atomic.Int64 // milliseconds; 0: off
	latencyTracking         atomic.Bool
	latencyPercentiles      atomic.Pointer[[]float64]
}

func (s *Server) initConfig() {
	s.conf.hashMaxListpackEntries.Store(512)
	s.conf.hashMaxListpackValue.Store(64)
	s.conf.slowlogSlowerThan.Store(DefaultSlowlogSlowerThan.Microseconds())
	s.conf.slowlogMaxLen.Store(DefaultSlowlogMaxLen)
	s.conf.latencyTracking.Store(true)
	s.conf.latencyPercentiles.Store(&[]float64{50, 99, 99.9})
}

// percentiles returns latency-tracking-info-percentiles.
func (c *runtimeConfig) percentiles() []float64 { return *c.latencyPercentiles.Load() }

// Param is a runtime parameter's value, as CONFIG SET takes it.
type Param struct{ Name, Value string }

// setParams applies params at start as CONFIG SET would, every one
// checked before any is applied.
func (s *Server) setParams(params []Param) error {
	applies := make([]func(), 0, len(params))
	for _, p := range params {
		cp := lookupParam(p.Name)
		if cp == nil || cp.set == nil {
			return fmt.Errorf("%s cannot be set at run time", p.Name)
		}
		apply, reason := cp.set(s, p.Value)
		if reason != "" {
			return fmt.Errorf("%s %q: %s", p.Name, p.Value, reason)
		}
		applies = append(applies, apply)
	}
	for _, apply := range applies {
		apply()
	}
	return nil
}

func constant(v string) func(*Server) string { return func(*Server) string { return v } }

// only accepts the one value a fixed parameter has, explaining why
// otherwise.
func only(value, why string, check func(string) string) func(*Server, string) (func(), string) {
	return func(_ *Server, v string) (func(), string) {
		if check != nil {
			if reason := check(v); reason != "" {
				return nil, reason
			}
		}
		if !strings.EqualFold(v, value) {
			return nil, why
		}
		return func() {}, ""
	}
}

func checkYesNo(v string) string {
	if !strings.EqualFold(v, "yes") && !strings.EqualFold(v, "no") {
		return "argument must be 'yes' or 'no'"
	}
	return ""
}

func checkMemory(v string) string {
	if _, ok := parseMemory(v); !ok {
		return "argument must be a memory value"
	}
	return ""
}

var evictionPolicies = []string{"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
	"allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"}

func checkEnum(values []string) func(string) string {
	return func(v string) string {
		for _, e := range values {
			if strings.EqualFold(v, e) {
				return ""
			}
		}
		return "argument(s) must be one of the following: " + strings.Join(values, ", ")
	}
}

// intParam is a mutable integer parameter between lo and hi.
func intParam(lo, hi int64, target func(s *Server) *atomic.Int64) (func(*Server) string, func(*Server, string) (func(), string)) {
	get := func(s *Server) string { return strconv.FormatInt(target(s).Load(), 10) }
	set := func(s *Server, v string) (func(), string) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, "argument couldn't be parsed into an integer"
		}
		if n < lo || n > hi {
			return nil, "argument must be between " + strconv.FormatInt(lo, 10) + " and " +
				strconv.FormatInt(hi, 10) + " inclusive"
		}
		return func() { target(s).Store(n) }, ""
	}
	return get, set
}

var configParams []*configParam

// evictionSet sets one eviction setting: edit checks v and puts it in the
// settings (a reason when it is refused). Applied, the settings go to
// every node (SetEviction); a node that cannot be told keeps its own, and
// the error is logged.
func evictionSet(edit func(c *cluster.EvictionConfig, v string) string) func(*Server, string) (func(), string) {
	return func(s *Server, v string) (func(), string) {
		probe := s.backend.Eviction()
		if reason := edit(&probe, v); reason != "" {
			return nil, reason
		}
		return func() {
			c := s.backend.Eviction()
			edit(&c, v)
			ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
			defer cancel()
			if err := s.backend.SetEviction(ctx, c); err != nil {
				s.log.Warn("eviction settings not set everywhere", zap.Error(err))
			}
		}, ""
	}
}

// evictionInt is evictionSet for an integer between lo and hi.
func evictionInt(lo, hi int64, field func(c *cluster.EvictionConfig) *int) func(*Server, string) (func(), string) {
	return evictionSet(func(c *cluster.EvictionConfig, v string) string {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "argument couldn't be parsed into an integer"
		}
		if n < lo || n > hi {
			return "argument must be between " + strconv.FormatInt(lo, 10) + " and " + strconv.FormatInt(hi, 10) + " inclusive"
		}
		*field(c) = int(n)
		return ""
	})
}

// logLevels are the values of log-level.
var logLevels = []string{"debug", "info", "warn", "error"}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// setPercentiles checks latency-tracking-info-percentiles: numbers from 0
// to 100 separated by spaces (none is allowed).
func setPercentiles(s *Server, v string) (func(), string) {
	var ps []float64
	for _, f := range strings.Fields(v) {
		p, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(p) {
			return nil, "Invalid latency-tracking-info-percentiles parameters"
		}
		if p < 0 || p > 100 {
			return nil, "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
		}
		ps = append(ps, p)
	}
	return func() { s.conf.latencyPercentiles.Store(&ps) }, ""
}

func init() {
	entriesGet, entriesSet := intParam(0, 1<<63-1, func(s *Server) *atomic.Int64 { return &s.conf.hashMaxListpackEntries })
	valueGet, valueSet := intParam(0, 1<<63-1, func(s *Server) *atomic.Int64 { return &s.conf.hashMaxListpackValue })
	slowerGet, slowerSet := intParam(-1, 1<<63-1, func(s *Server) *atomic.Int64 { return &s.conf.slowlogSlowerThan })
	maxLenGet, maxLenSet := intParam(0, 1<<63-1, func(s *Server) *atomic.Int64 { return &s.conf.slowlogMaxLen })
	thresholdGet, thresholdSet := intParam(0, 1<<63-1, func(s *Server) *atomic.Int64 { return &s.conf.latencyMonitorThreshold })
	configParams = []*configParam{
		{name: "save", get: constant(""),
			set: only("", "raftcache persists through Raft snapshots; save can only be empty", nil)},
		{name: "appendonly", get: constant("no"),
			set: only("no", "raftcache persists through its Raft log; appendonly can only be no", checkYesNo)},
		{name: "appendfsync", get: constant("everysec")},
		{name: "databases", get: constant("1")},
		{name: "maxmemory", get: func(s *Server) string { return strconv.FormatInt(s.backend.Eviction().MaxMemory, 10) },
			set: evictionSet(func(c *cluster.EvictionConfig, v string) string {
				n, ok := parseMemory(v)
				if !ok || n > math.MaxInt64 {
					return "argument must be a memory value"
				}
				c.MaxMemory = int64(n)
				return ""
			}), flag: true, def: "0"},
		{name: "maxmemory-policy", get: func(s *Server) string { return s.backend.Eviction().Policy.String() },
			set: evictionSet(func(c *cluster.EvictionConfig, v string) string {
				p, ok := store.ParseEvictPolicy(v)
				if !ok {
					return checkEnum(evictionPolicies)(v)
				}
				c.Policy = p
				return ""
			}), flag: true, def: "noeviction"},
		{name: "maxmemory-samples", get: func(s *Server) string { return strconv.Itoa(s.backend.Eviction().Samples) },
			set: evictionInt(1, 64, func(c *cluster.EvictionConfig) *int { return &c.Samples }), flag: true, def: "5"},
		{name: "lfu-log-factor", get: func(s *Server) string { return strconv.Itoa(s.backend.Eviction().LFULogFactor) },
			set:  evictionInt(0, math.MaxInt32, func(c *cluster.EvictionConfig) *int { return &c.LFULogFactor }),
			flag: true, def: "10"},
		{name: "lfu-decay-time", get: func(s *Server) string { return strconv.Itoa(s.backend.Eviction().LFUDecayTime) },
			set:  evictionInt(0, math.MaxInt32, func(c *cluster.EvictionConfig) *int { return &c.LFUDecayTime }),
			flag: true, def: "1"},
		{name: "cluster-enabled", get: constant("yes")},
		{name: "latency-tracking", get: func(s *Server) string { return yesNo(s.conf.latencyTracking.Load()) },
			set: func(s *Server, v string) (func(), string) {
				if reason := checkYesNo(v); reason != "" {
					return nil, reason
				}
				on := strings.EqualFold(v, "yes")
				return func() { s.conf.latencyTracking.Store(on) }, ""
			}, flag: true, def: "yes"},
		{name: "latency-tracking-info-percentiles", get: func(s *Server) string {
			ps := s.conf.percentiles()
			out := make([]string, len(ps))
			for i, p := range ps {
				out[i] = strconv.FormatFloat(p, 'f', -1, 64)
			}
			return strings.Join(out, " ")
		}, set: setPercentiles, flag: true, def: "50 99 99.9", multi: true},
		{name: "slowlog-log-slower-than", get: slowerGet, set: slowerSet, flag: true,
			def: strconv.FormatInt(DefaultSlowlogSlowerThan.Microseconds(), 10)},
		{name: "slowlog-max-len", get: maxLenGet, set: maxLenSet, flag: true, def: strconv.Itoa(DefaultSlowlogMaxLen)},
		{name: "latency-monitor-threshold", get: thresholdGet, set: thresholdSet, flag: true, def: "0"},
		{name: "log-level", get: func(s *Server) string {
			if s.cfg.LogLevel == nil {
				return ""
			}
			return s.cfg.LogLevel.Level().String()
		}, set: func(s *Server, v string) (func(), string) {
			lvl, err := zapcore.ParseLevel(strings.ToLower(v))
			if err != nil || s.cfg.LogLevel == nil || !slices.Contains(logLevels, lvl.String()) {
				return nil, "argument(s) must be one of the following: " + strings.Join(logLevels, ", ")
			}
			return func() { s.cfg.LogLevel.SetLevel(lvl) }, ""
		}, flag: true, def: "info", unset: func(s *Server) bool { return s.cfg.LogLevel == nil }},
		{name: "dir", get: func(s *Server) string { return s.cfg.DataDir }},
		{name: "port", get: func(s *Server) string {
			if s.cfg.Addr == "" {
				return "0" // no plain-text port, as Redis's port 0
			}
			return s.listenPort()
		}},
		{name: "bind", get: func(s *Server) string { return s.listenHost() }},
		// CONFIG SET requirepass sets the default user's password for the
		// whole cluster (an ACL change through shard 0's log); GET never
		// shows it.
		{name: "requirepass", get: constant(""), set: func(s *Server, v string) (func(), string) {
			return func() {
				if r := s.proposeACL(acl.RequirePassOp([]byte(v))); r.IsError() {
					s.log.Warn("requirepass not set", zap.String("error", string(r.Str)))
				}
			}, ""
		}},
		{name: "aclfile", get: func(s *Server) string { return s.cfg.ACLFile }},
		{name: "acllog-max-len", get: func(s *Server) string { return strconv.Itoa(s.aclLog.MaxLen()) },
			set: func(s *Server, v string) (func(), string) {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, "argument couldn't be parsed into an integer"
				}
				if n < 0 || n > 1<<31-1 {
					return nil, "argument must be between 0 and 2147483647 inclusive"
				}
				return func() { s.aclLog.SetMaxLen(int(n)) }, ""
			}, flag: true, def: strconv.Itoa(acl.DefaultLogMaxLen)},
		{name: "hash-max-listpack-entries", aliases: []string{"hash-max-ziplist-entries"}, get: entriesGet, set: entriesSet},
		{name: "hash-max-listpack-value", aliases: []string{"hash-max-ziplist-value"}, get: valueGet, set: valueSet},
	}
	configParams = append(configParams, limitParams()...)
	configParams = append(configParams, tlsParams()...)
	serverHandlers["config"] = cmdConfig
}

// lookupParam finds a parameter by name or alias, ignoring case.
func lookupParam(name string) *configParam {
	for _, p := range configParams {
		if strings.EqualFold(p.name, name) {
			return p
		}
		for _, a := range p.aliases {
			if strings.EqualFold(a, name) {
				return p
			}
		}
	}
	return nil
}

// listenPort and listenHost describe the client address.
func (s *Server) listenPort() string {
	addr := s.cfg.Addr
	if s.ln != nil {
		addr = s.ln.Addr().String()
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "0"
	}
	return port
}

func (s *Server) listenHost() string {
	host, _, err := net.SplitHostPort(s.cfg.Addr)
	if err != nil || host == "" {
		return "* -::*"
	}
	return host
}

func cmdConfig(s *Server, _ redcon.Conn, _ *client, _, sub *resp.Command, a [][]byte) resp.Reply {
	switch sub.Name {
	case "get":
		return s.configGet(a[2:])
	case "set":
		return s.configSet(a[2:])
	case "resetstat":
		s.resetStats()
		return resp.OK
	case "rewrite":
		return s.configRewrite()
	case "help":
		return helpReply(configHelp)
	}
	return resp.ErrUnknownSubcommand(a[0], a[1]).Reply()
}

// configGet answers a map of every parameter matching any of the
// patterns. A name without glob characters is answered under the name
// as the client wrote it, as Redis does.
func (s *Server) configGet(patterns [][]byte) resp.Reply {
	seen := map[string]bool{}
	var kv []resp.Reply
	add := func(name string, p *configParam) {
		if seen[strings.ToLower(name)] {
			return
		}
		seen[strings.ToLower(name)] = true
		kv = append(kv, resp.BulkString(name), resp.BulkString(p.get(s)))
	}
	for _, pat := range patterns {
		if !hasGlob(pat) {
			if p := lookupParam(string(pat)); p != nil {
				add(string(pat), p)
			}
			continue
		}
		g := store.CompileGlob(pat, true)
		for _, p := range configParams {
			for _, name := range append([]string{p.name}, p.aliases...) {
				if g.Match(name) {
					add(name, p)
				}
			}
		}
	}
	return resp.Map(kv...)
}

// hasGlob reports whether pattern has any of Redis's glob characters:
// CONFIG GET looks a name without them up directly, as Redis does.
func hasGlob(pattern []byte) bool {
	return bytes.ContainsAny(pattern, "*?[")
}

// configSet checks every pair before it changes anything, so a refused
// CONFIG SET changes nothing.
func (s *Server) configSet(args [][]byte) resp.Reply {
	if len(args)%2 != 0 {
		return resp.ErrSyntax.Reply()
	}
	params := make([]*configParam, 0, len(args)/2)
	for i := 0; i < len(args); i += 2 {
		p := lookupParam(string(args[i]))
		if p == nil {
			return resp.ErrConfigSetUnknown(args[i]).Reply()
		}
		if p.set == nil {
			return configSetFailed(args[i], "can't set immutable config")
		}
		// As in Redis, a name given twice is refused; a name and its
		// alias are not the same name, and the later one wins.
		for j := 0; j < i; j += 2 {
			if strings.EqualFold(string(args[j]), string(args[i])) {
				return configSetFailed(args[i], "duplicate parameter")
			}
		}
		params = append(params, p)
	}
	applies := make([]func(), 0, len(params)+1)
	values := make([][]byte, len(params))
	for i, p := range params {
		values[i] = args[2*i+1]
		apply, reason := p.set(s, string(args[2*i+1]))
		if reason != "" {
			return configSetFailed(args[2*i], reason)
		}
		applies = append(applies, apply)
	}
	if apply, blame, reason := s.tlsSet(params, values); reason != "" {
		return configSetFailed(args[2*blame], reason)
	} else if apply != nil {
		applies = append(applies, apply)
	}
	for _, apply := range applies {
		apply()
	}
	return resp.OK
}

func configSetFailed(name []byte, reason string) resp.Reply {
	return resp.ErrConfigSetFailed(name, reason).Reply()
}

// configRewrite writes the parameters that are also config file options
// back into the file the node was started with (CONFIG REWRITE).
func (s *Server) configRewrite() resp.Reply {
	if s.cfg.ConfigFile == "" {
		return resp.ErrNoConfigFile.Reply()
	}
	var settings []config.Setting
	for _, p := range configParams {
		if p.flag && p.set != nil && (p.unset == nil || !p.unset(s)) {
			settings = append(settings, config.Setting{Name: p.name, Value: p.get(s), Default: p.def, Multi: p.multi})
		}
	}
	if err := config.Rewrite(s.cfg.ConfigFile, settings); err != nil {
		s.log.Warn("CONFIG REWRITE failed", zap.String("file", s.cfg.ConfigFile), zap.Error(err))
		return resp.ErrConfigRewrite(err).Reply()
	}
	s.log.Info("configuration file rewritten", zap.String("file", s.cfg.ConfigFile))
	return resp.OK
}

// parseMemory parses a memory value as Redis's memtoull does: digits with
// an optional unit b, k, kb, m, mb, g or gb in any case.
func parseMemory(v string) (uint64, bool) {
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(v[:i], 10, 64)
	if err != nil {
		return 0, false
	}
	mul := map[string]uint64{"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000 * 1000, "mb": 1024 * 1024,
		"g": 1000 * 1000 * 1000, "gb": 1024 * 1024 * 1024}[strings.ToLower(v[i:])]
	if mul == 0 || n > (1<<64-1)/mul {
		return 0, false
	}
	return n * mul, true
}

var configHelp = []string{
	"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"GET <pattern>",
	"    Return parameters matching the glob-like <pattern> and their values.",
	"SET <directive> <value>",
	"    Set the configuration <directive> to <value>.",
	"RESETSTAT",
	"    Reset statistics reported by the INFO command.",
	"REWRITE",
	"    Rewrite the configuration file.",
	"HELP",
	"    Prints this help.",
}
