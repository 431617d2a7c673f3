package store

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/raftcache/raftcache/resp"
	"github.com/raftcache/raftcache/test/redisoracle"
)

// allScenarios lists the scenario tables to replay against Redis. Tables
// whose replies depend on raftcache's own choices (SCAN cursors that are
// slots, the cluster-mode errors of COPY, WATCH's internal commands) are
// not listed.
func allScenarios() map[string][]scenario {
	return map[string][]scenario{
		"get": getCases, "set expiry": setExpiryCases, "set expiry errors": setExpiryErrorCases(),
		"set grammar": setGrammarCases(), "set conditions": setConditionCases, "set get": setGetCases,
		"incr": incrCases, "del": delCases, "expire errors": expireErrCases(), "expire": expireCases,
		"ttl": ttlCases, "persist": persistCases, "dbsize flush": dbsizeFlushCases, "hash": hashCases,
		"string commands": stringCmdCases, "lcs": lcsCases, "hash commands": hashCmdCases,
		"keyspace": keyspaceCases, "object": objectCases, "scan": scanReplayCases,
		"hscan": hscanCases, "hrandfield": hrandfieldCases,
	}
}

// startOracle starts a redis-server configured as raftcache behaves: the
// hash-max-listpack-entries of the redis.conf Redis ships (the compiled-in
// default is 512).
func startOracle(t *testing.T) *redisoracle.Conn {
	t.Helper()
	addr := redisoracle.Start(t, "--hash-max-listpack-entries", "128")
	c, err := redisoracle.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestScenariosAgainstRedis replays the scenario tables against a real
// redis-server (started on a free port; the test is skipped when
// redis-server is missing, and fails under CI=true) to check that the
// expected replies are Redis's. Redis's clock cannot be set, so only
// scenarios that run at a single time and use no absolute expiry time (nor
// a relative one that overflows by the clock) are replayed, and PTTL is
// compared with a tolerance. Replies are compared after normalize, so
// unordered replies (KEYS, HKEYS, SCAN pages) may come in any order.
func TestScenariosAgainstRedis(t *testing.T) {
	c := startOracle(t)
	replayed := 0
	for table, cases := range allScenarios() {
		for _, sc := range cases {
			if !replayable(sc) {
				continue
			}
			replayed++
			if r := oracleDo(t, c, argv("FLUSHALL")); !replyEqual(r, ok) {
				t.Fatalf("FLUSHALL: %s", fmtReply(r))
			}
			for i, st := range sc.steps {
				got := oracleDo(t, c, st.args())
				if !redisMatches(got, st.want, st.args()) {
					t.Errorf("%s/%s step %d %q: Redis says %s, the table says %s",
						table, sc.name, i, st.args(), fmtReply(got), fmtReply(st.want))
					break
				}
			}
		}
	}
	t.Logf("replayed %d scenarios", replayed)
}

// oracleDo runs one command on Redis and parses its RESP2 reply.
func oracleDo(t *testing.T, c *redisoracle.Conn, args [][]byte) resp.Reply {
	t.Helper()
	words := make([]string, len(args))
	for i, a := range args {
		words[i] = string(a)
	}
	raw, err := c.Do(words...)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	r, err := parseReply(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("%q: reply %q: %v", args, raw, err)
	}
	return r
}

func replayable(sc scenario) bool {
	for _, st := range sc.steps {
		if st.now != sc.steps[0].now {
			return false
		}
		args := st.args()
		if name := strings.ToLower(string(args[0])); strings.HasPrefix(name, "raftcache.") {
			return false
		}
		for _, a := range args {
			// A relative time near the overflow boundary succeeds or fails
			// by the clock; errors at these sizes do not depend on it.
			if v, err := strconv.ParseInt(string(a), 10, 64); err == nil && v > 1e15 && !st.want.IsError() {
				return false
			}
			for _, w := range []string{"exat", "pxat", "expireat", "pexpireat", "expiretime", "pexpiretime", "idletime"} {
				if strings.EqualFold(string(a), w) {
					return false
				}
			}
		}
	}
	return true
}

func redisMatches(got, want resp.Reply, args [][]byte) bool {
	if want.Kind == resp.KindMap && got.Kind == resp.KindArray {
		got.Kind = resp.KindMap // RESP2 sends a map as a flat array
	}
	if strings.EqualFold(string(args[0]), "pttl") && want.Kind == resp.KindInt && want.Int > 0 {
		return got.Kind == resp.KindInt && got.Int <= want.Int && got.Int > want.Int-100
	}
	if want.Kind == resp.KindSimple && got.Kind == resp.KindSimple {
		return bytes.Equal(want.Str, got.Str)
	}
	got, want = normalize(args, got), normalize(args, want)
	if replyEqual(got, want) {
		return true
	}
	// Nested maps (LCS IDX) are flat arrays in RESP2 too: compare the
	// encodings.
	return bytes.Equal(resp.AppendReply(nil, &got, resp.RESP2), resp.AppendReply(nil, &want, resp.RESP2))
}

// parseReply reads one RESP2 reply.
func parseReply(r *bufio.Reader) (resp.Reply, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return resp.Reply{}, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	body := line[1:]
	switch line[0] {
	case '+':
		return resp.Simple(body), nil
	case '-':
		return resp.NewError(body).Reply(), nil
	case ':':
		v, err := strconv.ParseInt(body, 10, 64)
		return resp.Int(v), err
	case '$':
		size, err := strconv.Atoi(body)
		if err != nil || size < 0 {
			return resp.Null, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return resp.Reply{}, err
		}
		return resp.Bulk(buf[:size]), nil
	case '*':
		size, err := strconv.Atoi(body)
		if err != nil || size < 0 {
			return resp.NullArr, err
		}
		elems := make([]resp.Reply, size)
		for i := range elems {
			if elems[i], err = parseReply(r); err != nil {
				return resp.Reply{}, err
			}
		}
		return resp.Reply{Kind: resp.KindArray, Elems: elems}, nil
	}
	return resp.Reply{}, io.ErrUnexpectedEOF
}

// TestExactBytesAgainstRedis builds the same keyspace in Redis and in a
// store, then compares the bytes of each reply, encoded as the server
// encodes it, with Redis's, in RESP2 and in RESP3. Only replies whose
// order is defined are compared (one-field hashes, one-key scans).
func TestExactBytesAgainstRedis(t *testing.T) {
	setup := [][]string{
		{"MSET", "key1", "ohmytext", "key2", "mynewtext", "n", "5", "e", ""},
		{"SET", "bin", "a\x00b\r\nc"},
		{"HSET", "h", "f", "v"},
		{"SET", "t", "1", "EX", "1000"},
	}
	cmds := [][]string{
		{"GET", "key1"}, {"GET", "missing"}, {"GET", "bin"}, {"GET", "e"}, {"GET", "h"},
		{"MGET", "key1", "missing", "h", "e"},
		{"LCS", "key1", "key2"}, {"LCS", "key1", "key2", "LEN"},
		{"LCS", "key1", "key2", "IDX", "WITHMATCHLEN"}, {"LCS", "key1", "key2", "IDX", "MINMATCHLEN", "3"},
		{"LCS", "key1", "h"}, {"LCS", "key1", "key2", "LEN", "IDX"},
		{"HGETALL", "h"}, {"HGETALL", "missing"}, {"HKEYS", "h"}, {"HVALS", "h"}, {"HMGET", "h", "f", "x"},
		{"HRANDFIELD", "h"}, {"HRANDFIELD", "h", "2"}, {"HRANDFIELD", "missing"}, {"HRANDFIELD", "missing", "2"},
		{"HSCAN", "h", "0"}, {"HSTRLEN", "h", "f"}, {"HEXISTS", "h", "f"}, {"HLEN", "h"},
		{"OBJECT", "HELP"}, {"OBJECT", "ENCODING", "n"}, {"OBJECT", "ENCODING", "h"}, {"OBJECT", "ENCODING", "missing"},
		{"OBJECT", "REFCOUNT", "n"}, {"OBJECT", "FREQ", "n"}, {"OBJECT", "NOPE", "n"},
		{"TYPE", "h"}, {"TYPE", "missing"}, {"TTL", "t"}, {"EXPIRETIME", "missing"}, {"PTTL", "n"},
		{"GETRANGE", "bin", "1", "3"}, {"STRLEN", "bin"}, {"EXISTS", "n", "n", "missing"},
		{"SCAN", "0", "MATCH", "key1"}, {"SCAN", "x"}, {"SCAN", "0", "COUNT", "0"}, {"KEYS", "key1"}, {"KEYS", "nothing"},
		{"INCRBYFLOAT", "n", "0.5"}, {"INCRBYFLOAT", "n", "inf"}, {"INCR", "key1"}, {"HINCRBYFLOAT", "h", "f", "1"},
		{"GETDEL", "e"}, {"GETEX", "key2", "PERSIST"}, {"APPEND", "bin", "\r\n"}, {"SETRANGE", "bin", "1", "XY"},
		{"COPY", "key1", "key1"}, {"RENAME", "missing", "x"}, {"RENAMENX", "key1", "key2"},
		{"SETNX", "key1", "x"}, {"MSETNX", "a", "1", "b", "2"}, {"GETSET", "a", "3"}, {"DBSIZE"},
	}
	for _, proto := range []int{resp.RESP2, resp.RESP3} {
		c := startOracle(t)
		if proto == resp.RESP3 {
			if _, err := c.Do("HELLO", "3"); err != nil {
				t.Fatal(err)
			}
		}
		s := New()
		for _, cmd := range setup {
			if _, err := c.Do(cmd...); err != nil {
				t.Fatal(err)
			}
			do(s, 1000, argv(cmd...))
		}
		for _, cmd := range cmds {
			want, err := c.Do(cmd...)
			if err != nil {
				t.Fatal(err)
			}
			r := do(s, 1000, argv(cmd...))
			got := resp.AppendReply(nil, &r, proto)
			if !bytes.Equal(got, want) {
				t.Errorf("RESP%d %q:\n raftcache %q\n redis     %q", proto, cmd, got, want)
			}
		}
	}
}
